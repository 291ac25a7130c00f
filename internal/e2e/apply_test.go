package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
)

// TestApply_FromEmptyToVerified is the main path: an empty lab becomes a working lattice,
// a second plan is empty and a second apply restarts nothing, and a reloadable leaf change
// is applied by reload (same pid) and confirmed by config_digest.
func TestApply_FromEmptyToVerified(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	s := newSession(t, env, plan.Options{})
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

	// A second plan has nothing to do; a second apply restarts nothing.
	pids := natsPIDs(t, s, ctx)
	p = s.plan(ctx)
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
