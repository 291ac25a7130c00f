package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
)

// TestReliability_TwoControllers starts two applies of the same change within milliseconds of
// each other, as two controllers (two sessions, two live owners) would: exactly one proceeds
// and applies everything; the other is refused naming the holder, changes nothing and
// leaves no audit record; no lock is left.
func TestReliability_TwoControllers(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	trials := reliabilityCount(t, 3, 20)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	revision(t, env, 0)
	if _, err := newSession(t, env, plan.Options{}).apply(ctx, newSession(t, env, plan.Options{}).plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}
	host, _ := os.Hostname()
	var maxSkew time.Duration
	wins := map[string]int{}
	for i := range trials {
		revision(t, env, 1+i)
		want := desiredHashes(t, env, natsConf, wasmEnv)
		auditBefore := auditLines(t, ctx, env)
		names := []string{"controller-a", "controller-b"}
		sessions := []*session{newSession(t, env, plan.Options{}), newSession(t, env, plan.Options{})}
		plans := []*plan.Plan{sessions[0].plan(ctx), sessions[1].plan(ctx)}
		errs := make([]error, 2)
		res := make([]*rollout.Result, 2)
		started := make([]time.Time, 2)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				started[k] = time.Now()
				// Both owners are live processes (this test's), so neither lock looks stale.
				res[k], errs[k] = sessions[k].applyAs(ctx, plans[k], rollout.LockOwner{User: names[k], Host: host, PID: os.Getpid(), Command: "latticepush apply " + names[k]}, nil)
			}()
		}
		close(gate)
		wg.Wait()
		skew := started[1].Sub(started[0]).Abs()
		maxSkew = max(maxSkew, skew)

		var winner, loser = -1, -1
		for k := range 2 {
			var le *remote.LockedError
			switch {
			case errs[k] == nil:
				if winner >= 0 {
					t.Fatalf("trial %d: both controllers proceeded", i+1)
				}
				winner = k
			case errors.As(errs[k], &le):
				if loser >= 0 {
					t.Fatalf("trial %d: both controllers were refused:\n%s: %v\n%s: %v", i+1, names[0], errs[0], names[1], errs[1])
				}
				loser = k
			default:
				t.Fatalf("trial %d: %s: %v", i+1, names[k], errs[k])
			}
		}
		if winner < 0 || loser < 0 {
			t.Fatalf("trial %d: want one apply through and one refused: %v / %v", i+1, errs[0], errs[1])
		}
		msg := errs[loser].Error()
		if !strings.Contains(msg, names[winner]+"@"+host) || !strings.Contains(msg, "nothing was changed") {
			t.Errorf("trial %d: refusal %q does not name the holder %s@%s and say nothing was changed", i+1, msg, names[winner], host)
		}
		for _, e := range sessions[loser].events {
			if e.Type == rollout.EventUnitStart || e.Phase == rollout.PhaseStage || e.Phase == rollout.PhaseWave {
				t.Errorf("trial %d: the refused controller went on: %+v", i+1, e)
			}
		}
		for u, r := range results(res[loser]) {
			if r != string(rollout.NotReached) && r != string(rollout.Unchanged) {
				t.Errorf("trial %d: refused controller's %s: %s", i+1, u, r)
			}
		}
		got := hashesOn(t, ctx, env, natsConf, wasmEnv)
		for k, h := range want {
			if got[k] != h {
				t.Errorf("trial %d: %s is not the new version after the winner's apply", i+1, k)
			}
		}
		// Audit: each changed host has exactly one new record, the winner's.
		auditAfter := auditLines(t, ctx, env)
		for h, lines := range auditAfter {
			added := lines[len(auditBefore[h]):]
			for _, l := range added {
				if strings.Contains(l, names[loser]) {
					t.Errorf("trial %d: %s has an audit record of the refused controller: %s", i+1, h, l)
				}
			}
			if len(added) > 1 {
				t.Errorf("trial %d: %s has %d new audit records, want at most one", i+1, h, len(added))
			}
		}
		if held := locksHeld(ctx, env); len(held) > 0 {
			t.Fatalf("trial %d: locks left on %v", i+1, held)
		}
		converged(t, ctx, env)
		wins[names[winner]]++
		t.Logf("trial %d: started %s apart; %s proceeded, %s refused: %s", i+1, skew.Round(time.Microsecond), names[winner], names[loser], firstLineOf(strings.ReplaceAll(msg, "\n", " ")))
		if t.Failed() {
			return
		}
	}
	t.Logf("two controllers: %d trials, started at most %s apart; %d proceeded (controller-a %d, controller-b %d), %d refused naming the holder, 0 interleaved (no stage, swap or audit record by the refused one); 0 locks left",
		trials, maxSkew.Round(time.Microsecond), trials, wins["controller-a"], wins["controller-b"], trials)
}

// auditLines returns each lab host's audit log, line by line.
func auditLines(t *testing.T, ctx context.Context, env *labtest.Env) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, h := range env.Lab.Hosts {
		b, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", fmt.Sprintf("cat %s 2>/dev/null; true", fleet.AuditLog))
		if err != nil {
			t.Fatalf("read the audit log on %s: %v", h.Name, err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			out[h.Name] = strings.Split(s, "\n")
		}
	}
	return out
}
