package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// A hub node lost while another is being restarted: the restarting node's gate cannot pass
// (a peer is gone), but its change is not at fault. Apply stops naming the lost node, does
// not roll the restarting node back (a second restart with a peer gone would take the
// cluster's quorum with it) and starts no other hub node.
func TestApply_HubLostDuringAnotherRestartIsNotRolledBack(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	for _, h := range fx.inv.Hubs() {
		fx.fleet.hosts[h.Name].files["/etc/sv/nats-server/run"] = []byte("#!/bin/sh\nold\n")
	}
	p, probes := fx.plan(t)
	var first string
	res, err := fx.apply(context.Background(), p, probes, func(e Event) {
		if e.Type != EventUnitStart || e.Wave != "hub" || first != "" {
			return
		}
		first = strings.SplitN(e.Unit, "/", 2)[0]
		// Another hub node goes away: its server no longer answers, and the first node's
		// gate (which checks the whole cluster) fails.
		for _, h := range fx.inv.Hubs() {
			if h.Name != first {
				fx.fleet.mu.Lock()
				fx.fleet.hosts[h.Name].running[plan.ServiceNATS] = false
				fx.fleet.mu.Unlock()
				break
			}
		}
		fx.gates.failGate[first] = true
	})
	if !errors.Is(err, ErrHubLost) {
		t.Fatalf("err %v, want ErrHubLost", err)
	}
	got := results(res)
	if r := got[first+"/nats-server"]; r != string(Failed) {
		t.Errorf("%s: %q, want failed (not rolled back)", first, r)
	}
	for _, h := range fx.inv.Hubs() {
		if h.Name == first {
			if string(fx.fleet.hosts[h.Name].files["/etc/sv/nats-server/run"]) == "#!/bin/sh\nold\n" {
				t.Errorf("%s was restored", h.Name)
			}
			continue
		}
		if !strings.Contains(err.Error(), h.Name) && !fx.fleet.hosts[h.Name].running[plan.ServiceNATS] {
			t.Errorf("the error does not name the lost node %s: %v", h.Name, err)
		}
		for _, op := range fx.fleet.opsOf(h.Name) {
			if strings.HasPrefix(op, "swap") || strings.Contains(op, "restart") || strings.Contains(op, "start") {
				t.Errorf("%s touched after the loss: %s", h.Name, op)
			}
		}
	}
	fx.assertUnlockedNoTemps(t)
}

// The report of an apply that finds a wave half done: units whose files are in place but
// not in effect, and those that already run what the inventory says.
func TestApply_ReportsUnfinishedWave(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	fx.fleet.hosts["hub-3"].digest = "sha256:previous"
	p, probes := fx.plan(t)
	var warnings []string
	if _, err := fx.apply(context.Background(), p, probes, func(e Event) {
		if e.Type == EventWarning {
			warnings = append(warnings, e.Message)
		}
	}); err != nil {
		t.Fatal(err)
	}
	w := strings.Join(warnings, "\n")
	if !strings.Contains(w, "found the hub wave half done: hub-3/nats-server has its new files in place but not in effect") ||
		!strings.Contains(w, "hub-1/nats-server, hub-2/nats-server already run") {
		t.Errorf("warnings %q: want the half-done hub wave reported", w)
	}
}

// Hubs starting for the first time go in one batch: one whose start fails is not "lost" to
// the others, whose gates fail for its absence. Every one of them is rolled back, and the
// error is the rollback's, not ErrHubLost.
func TestApply_FirstStartFailureInTheSameBatchIsNotAHubLost(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	if len(p.Waves) == 0 || p.Waves[0].Name != "hub" || len(p.Waves[0].Batches[0]) != 3 {
		t.Fatalf("waves %+v, want the three hubs' first starts in one batch", p.Waves)
	}
	fx.fleet.failOn["hub-1 start"] = errors.New("keeps exiting right after it starts: address already in use")
	fx.gates.failGate["hub-2"], fx.gates.failGate["hub-3"] = true, true
	res, err := fx.apply(context.Background(), p, probes, func(Event) {})
	if errors.Is(err, ErrHubLost) || !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err %v, want a rollback naming hub-1's start failure, not a hub lost", err)
	}
	if got := results(res)["hub-1/nats-server"]; got != string(RolledBack) {
		t.Errorf("hub-1: %q, want rolled back", got)
	}
}
