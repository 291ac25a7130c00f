package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
)

// TestApply_FromEmptyToVerified is the main path, on runit hosts logged into as root and on
// systemd hosts through a sudo user (become): an empty lab becomes a working lattice, a second
// plan is empty and a second apply restarts nothing, and a reloadable leaf change is applied
// by reload (same pid) and confirmed by config_digest. On systemd, also: every unit is
// enabled, a reload keeps MainPID and NRestarts, and only the first apply ran daemon-reload.
func TestApply_FromEmptyToVerified(t *testing.T) {
	for _, init := range labtest.Inits {
		t.Run(init, func(t *testing.T) { testApplyFromEmpty(t, init) })
	}
}

// applyEmptyLab plans the empty lab (three waves of changes), applies the plan, and requires
// apply's own verify and a fresh one to pass.
func applyEmptyLab(ctx context.Context, t *testing.T, s *session) {
	t.Helper()
	p := s.plan(ctx)
	if !p.HasChanges() || len(p.Waves) != 3 {
		t.Fatalf("plan of an empty lab: %s, waves %+v", p.Summary(), p.Waves)
	}
	res, err := s.apply(ctx, p)
	if err != nil {
		t.Fatalf("apply: %v\nresults: %v", err, results(res))
	}
	if res.VerifyError != "" {
		t.Fatalf("verify after apply: %s", res.VerifyError)
	}
	rep := s.verify(ctx)
	if !rep.OK() {
		for _, r := range rep.Failed() {
			t.Errorf("verify: %s %s: %s", r.Check, r.Host, r.Evidence)
		}
		t.FailNow()
	}
	t.Logf("verify: %d checks passed", len(rep.Results))
}

func testApplyFromEmpty(t *testing.T, init string) {
	sd := init == lab.InitSystemd
	env := labtest.Up(t, labtest.Spec{Init: init, Become: sd})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	s := newSession(t, env, plan.Options{})
	applyEmptyLab(ctx, t, s)
	var reloads map[string]int
	if sd {
		for _, h := range env.Lab.Hosts {
			for _, svc := range servicesOn(h.Name) {
				if out, err := env.Lab.Exec(ctx, h.Name, "systemctl", "is-enabled", svc); err != nil || strings.TrimSpace(string(out)) != "enabled" {
					t.Errorf("%s: %s is %q after apply (%v), want enabled: it would not start at boot", h.Name, svc, strings.TrimSpace(string(out)), err)
				}
			}
		}
		reloads = daemonReloads(t, ctx, env)
		for h, n := range reloads {
			if n == 0 {
				t.Errorf("%s: no daemon-reload after its units were written", h)
			}
		}
	}

	// A second plan has nothing to do; a second apply restarts nothing.
	pids := natsPIDs(t, s, ctx)
	p := s.plan(ctx)
	if p.HasChanges() {
		for _, u := range p.Units {
			if u.Changes() {
				t.Errorf("second plan: %s %s %v", u.ID(), u.Action, u.Reasons)
			}
		}
		t.FailNow()
	}
	if _, err := s.apply(ctx, p); err != nil {
		t.Fatalf("no-change apply: %v", err)
	}
	if after := natsPIDs(t, s, ctx); !equalMaps(pids, after) {
		t.Fatalf("a no-change apply restarted something: pids %v -> %v", pids, after)
	}
	if sd {
		if after := daemonReloads(t, ctx, env); !equalMaps(reloads, after) {
			t.Errorf("a no-change apply ran daemon-reload: per host %v -> %v", reloads, after)
		}
	}
	var restarts map[string]int
	if sd {
		restarts = map[string]int{}
		for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
			restarts[h] = unitState(t, ctx, env, h, plan.ServiceNATS).NRestarts
		}
	}

	// A reloadable change on every leaf (log_file) is applied by reload: same pid, new digest.
	env.Edit(t, func(src string) string {
		return strings.Replace(src, "role \"leaf\" {\n  nats {\n", "role \"leaf\" {\n  nats {\n    log_file = \"/var/log/nats-server.log\"\n", 1)
	})
	s = newSession(t, env, plan.Options{})
	p = s.plan(ctx)
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		if a := actions(p)[h+"/nats-server"]; a != plan.Reload {
			t.Fatalf("%s: %s, want reload (%v)", h, a, p.Unit(h+"/nats-server").Reasons)
		}
	}
	if _, err := s.apply(ctx, p); err != nil {
		t.Fatalf("reload apply: %v", err)
	}
	after := natsPIDs(t, s, ctx)
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		if after[h] != pids[h] {
			t.Errorf("%s: pid %d -> %d: a reload must not restart", h, pids[h], after[h])
		}
	}
	if sd {
		for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
			st := unitState(t, ctx, env, h, plan.ServiceNATS)
			if st.MainPID != pids[h] || st.NRestarts != restarts[h] || st.SubState != "running" {
				t.Errorf("%s after the reload: MainPID %d NRestarts %d %s, want MainPID %d NRestarts %d running", h, st.MainPID, st.NRestarts, st.SubState, pids[h], restarts[h])
			}
		}
		if after := daemonReloads(t, ctx, env); !equalMaps(reloads, after) {
			t.Errorf("a config reload ran daemon-reload: per host %v -> %v", reloads, after)
		}
	}
	if p := s.plan(ctx); p.HasChanges() {
		t.Errorf("after the reload apply the plan still has changes: %s", p.Summary())
	}
}

func natsPIDs(t *testing.T, s *session, ctx context.Context) map[string]int {
	t.Helper()
	out := map[string]int{}
	for h, f := range s.Fleet.Observe(ctx, s.Probes) {
		if !f.Reachable() {
			t.Fatalf("%s unreachable: %s", h, f.Err)
		}
		out[h] = f.Services[plan.ServiceNATS].PID
	}
	return out
}

func equalMaps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
