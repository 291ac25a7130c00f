package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// TestApply_BridgeBeforeTheHubs: apply reloads every leaf's bridge, gated, before it touches a
// hub, and ends with the desired configs. A bridge whose reload fails is rolled back and
// stops the rollout before any hub.
func TestApply_BridgeBeforeTheHubs(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	before, after := plantest.MoveLeafPort(t, inv, 7423)
	configs := map[string]string{}
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil {
			configs[h.Name] = n.ConfigFile
		}
	}
	for _, failBridge := range []bool{false, true} {
		ff := newFakeFleet(plantest.Converged(inv, before), configs)
		gates := &fakeGates{ff: ff, failGate: map[string]bool{}}
		probes := plan.Probes(inv, after, plan.Options{})
		p, err := plan.Build(inv, after, ff.Observe(context.Background(), probes), plan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if failBridge {
			ff.failOn["edge-1 reload"] = errors.New("once: reload refused")
		}
		replan := func(facts map[string]plan.Facts) (*plan.Plan, error) {
			return plan.Build(inv, after, facts, plan.Options{})
		}
		res, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, ff, gates, Options{GateTimeout: 200 * time.Millisecond, ConfirmTimeout: 300 * time.Millisecond})
		firstHub, lastBridge := len(ff.log), -1
		for i, l := range ff.log {
			if strings.HasPrefix(l, "hub-") && (strings.HasSuffix(l, " swap") || strings.Contains(l, "nats-server ")) && i < firstHub {
				firstHub = i
			}
			if strings.HasPrefix(l, "edge-") && strings.HasSuffix(l, "nats-server reload") && firstHub == len(ff.log) {
				lastBridge = i
			}
		}
		if failBridge {
			if !errors.Is(err, ErrRolledBack) || firstHub != len(ff.log) {
				t.Fatalf("failed bridge: err %v, a hub was touched at %d: %v", err, firstHub, ff.log)
			}
			if r := results(res)["edge-1/nats-server@bridge"]; r != "rolled back" {
				t.Errorf("edge-1 bridge: %q", r)
			}
			if c := ff.hosts["edge-1"].files[configs["edge-1"]]; string(c) != string(plantest.ContentOf(before, "edge-1", configs["edge-1"])) {
				t.Errorf("edge-1 config not restored after its failed bridge")
			}
			continue
		}
		if err != nil {
			t.Fatalf("apply: %v\n%v", err, ff.log)
		}
		if lastBridge < 0 || firstHub < lastBridge {
			t.Fatalf("bridge reloads (last at %d) not all before the first hub operation (%d): %v", lastBridge, firstHub, ff.log)
		}
		for _, h := range inv.Hosts {
			if n := h.NATS(); n != nil && string(ff.hosts[h.Name].files[n.ConfigFile]) != string(plantest.ContentOf(after, h.Name, n.ConfigFile)) {
				t.Errorf("%s does not end with its desired config", h.Name)
			}
		}
		for id, r := range results(res) {
			if strings.HasPrefix(id, "edge-") && strings.Contains(id, "nats-server") && r != "applied" {
				t.Errorf("%s: %s", id, r)
			}
		}
	}
}
