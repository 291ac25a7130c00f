package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
)

// TestFinalVerify_ReusesGatesOnlyWhileNothingChanged, on one lab with two edges: a reload of
// every leaf changes nothing on the hubs, so the final verify takes each leaf gate's results
// (four checks per leaf) instead of checking again, and passes; a hub rolling restart
// afterwards restarts every hub, so the final verify checks every leaf again and takes only
// what the last hub gate proved after the last hub restart (per node: healthz, domain,
// routes, meta leader; and the peers). A fresh verify agrees.
func TestFinalVerify_ReusesGatesOnlyWhileNothingChanged(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Edges: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s", err, res.VerifyError)
	}
	taken := regexp.MustCompile(`\((\d+) taken from gates`)

	const leafNATS = "role \"leaf\" {\n  nats {\n"
	env.Edit(t, func(src string) string {
		if !strings.Contains(src, leafNATS) {
			t.Fatalf("the lab inventory has no %q: edit this test", leafNATS)
		}
		return strings.Replace(src, leafNATS, leafNATS+"    log_file = \"/var/log/nats-server.log\"\n", 1)
	})
	s = newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	for _, h := range []string{"edge-1", "edge-2"} {
		if a := actions(p)[h+"/nats-server"]; a != plan.Reload {
			t.Fatalf("%s: %s, want reload", h, a)
		}
	}
	res, err := s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("leaf reload: %v %s", err, res.VerifyError)
	}
	if m := taken.FindStringSubmatch(res.Verify); m == nil || m[1] != "8" {
		t.Errorf("leaf reload: verify %q, want 8 results taken from the two leaf gates", res.Verify)
	}
	if res.VerifySeconds <= 0 {
		t.Errorf("leaf reload: verify_seconds %v, want the final verify's own time", res.VerifySeconds)
	}
	t.Logf("leaf reload: %s, in %.2fs (settle %.2fs)", firstLineOf(res.Verify), res.VerifySeconds, res.Settle)

	env.Edit(t, func(src string) string {
		old := `max_memory_store       = "256MB"`
		if !strings.Contains(src, old) {
			t.Fatalf("the lab inventory has no %s: edit this test", old)
		}
		return strings.Replace(src, old, `max_memory_store       = "128MB"`, 1)
	})
	s = newSession(t, env, plan.Options{})
	p = s.plan(ctx)
	if a := actions(p)["hub-1/nats-server"]; a != plan.Restart {
		t.Fatalf("hub-1: %s, want restart", a)
	}
	res, err = s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("hub roll: %v %s", err, res.VerifyError)
	}
	if m := taken.FindStringSubmatch(res.Verify); m == nil || m[1] != "13" {
		t.Errorf("hub roll: verify %q, want the last hub gate's 13 results taken and every leaf checked again", res.Verify)
	}
	t.Logf("hub roll: %s, in %.2fs (settle %.2fs)", firstLineOf(res.Verify), res.VerifySeconds, res.Settle)
	if rep := s.verify(ctx); !rep.OK() {
		for _, r := range rep.Failed() {
			t.Errorf("verify: %s %s: %s", r.Check, r.Host, r.Evidence)
		}
	}
}
