package e2e

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// linkCuts is how many points of an apply the link-loss test cuts at (fixed seed).
const (
	linkCuts    = 8
	linkCutSeed = 20260415
)

// TestReliability_LinkAndHostLoss cuts edge-1's SSH connection at linkCuts byte offsets of an
// apply (a proxy that closes it mid-stream and refuses reconnects for the rest of the run),
// then takes a leaf host off the network while its batch is next. After each fault every
// managed file is either its old or its new version, a rerun converges, and no temp file or
// lock is left.
func TestReliability_LinkAndHostLoss(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	edge1, _ := env.Lab.Host("edge-1")
	proxy := newCutProxy(t, netip.AddrPortFrom(edge1.Addr, 22).String())
	viaProxy(t, env, "edge-1", proxy.Port())
	revision(t, env, 0)
	s := newSession(t, env, plan.Options{})
	if _, err := s.apply(ctx, s.plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}

	t.Run("host lost while its leaf batch is next", func(t *testing.T) {
		revision(t, env, 1)
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		var leaf plan.Wave
		for _, w := range p.Waves {
			if w.Name == "leaf" {
				leaf = w
			}
		}
		if len(leaf.Batches) < 2 {
			t.Fatalf("leaf wave %+v: want at least two batches", leaf)
		}
		victim := strings.SplitN(leaf.Batches[len(leaf.Batches)-1][0], "/", 2)[0]
		before := hashesOn(t, ctx, env, natsConf, wasmEnv)
		var once sync.Once
		start := time.Now()
		res, err := s.applyAs(ctx, p, deadController(t), func(e rollout.Event) {
			if e.Type == "unit_start" && e.Wave == "leaf" {
				once.Do(func() {
					if err := env.Lab.LinkDown(victim); err != nil {
						t.Error(err)
					}
				})
			}
		})
		took := time.Since(start)
		if err := env.Lab.LinkUp(victim); err != nil {
			t.Fatal(err)
		}
		if err == nil || !strings.Contains(err.Error(), victim) {
			t.Fatalf("apply with %s off the network: err %v, want an error naming it", victim, err)
		}
		got := results(res)
		if r := got[victim+"/nats-server"]; r != "rolled back" && r != "rollback failed" {
			t.Errorf("%s/nats-server: %q, want rolled back or rollback failed", victim, r)
		}
		after := hashesOn(t, ctx, env, natsConf, wasmEnv)
		untouched, notReached := 0, 0
		for _, id := range slices.Concat(leaf.Batches[len(leaf.Batches)-1:]...) {
			host := strings.SplitN(id, "/", 2)[0]
			if after[host+" "+natsConf] != before[host+" "+natsConf] {
				t.Errorf("%s: leaf config changed although its link was down", host)
			}
		}
		for k, h := range before {
			if strings.HasSuffix(k, wasmEnv) {
				if after[k] != h {
					t.Errorf("%s changed: the wasmCloud wave must not start after the leaf wave stopped", k)
				}
				untouched++
			}
		}
		for _, r := range got {
			if r == "not reached" {
				notReached++
			}
		}
		t.Logf("host loss: %s off the network during the leaf wave; apply stopped after %s with %q for it; %d units not reached, %d wasmCloud env files untouched",
			victim, took.Round(time.Second), got[victim+"/nats-server"], notReached, untouched)
		stale := rerun(t, ctx, env)
		converged(t, ctx, env)
		checks := verifyLab(t, ctx, env)
		t.Logf("host loss: rerun converged (stale locks cleared: %d), verify %d checks passed", stale, checks)
	})

	t.Run("link cut at many points of an apply", func(t *testing.T) {
		// Calibrate: the bytes one revision's apply sends over edge-1's connection.
		revision(t, env, 2)
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		proxy.Count()
		if _, err := s.apply(ctx, p); err != nil {
			t.Fatalf("calibration apply: %v", err)
		}
		total := proxy.Bytes()
		t.Logf("an apply of one revision carries %d bytes over edge-1's SSH connection", total)

		rng := rand.New(rand.NewPCG(linkCutSeed, 0))
		var points []int64
		for i := range linkCuts {
			points = append(points, total*int64(i)/linkCuts+rng.Int64N(max(total/linkCuts, 1)))
		}
		var failed, oldFiles, newFiles, strayAfterCut, staleLocks int
		for i, at := range points {
			rev := 3 + i
			revision(t, env, rev)
			before := hashesOn(t, ctx, env, natsConf, wasmEnv)
			want := desiredHashes(t, env, natsConf, wasmEnv)
			s := newSession(t, env, plan.Options{})
			p := s.plan(ctx)
			cutsBefore := proxy.Cuts()
			proxy.CutAfter(at)
			_, err := s.applyAs(ctx, p, deadController(t), nil)
			proxy.Heal()
			s.Pool.Close()
			phase := "after the apply"
			if proxy.Cuts() > cutsBefore {
				phase = phaseAt(s.events, proxy.CutTime())
			}
			if err != nil {
				failed++
			}
			after := hashesOn(t, ctx, env, natsConf, wasmEnv)
			for k, h := range after {
				switch h {
				case before[k]:
					oldFiles++
				case want[k]:
					newFiles++
				default:
					t.Errorf("cut %d at byte %d (%s): %s is neither the old nor the new version", i+1, at, phase, k)
				}
			}
			left := strays(t, ctx, env)
			strayAfterCut += len(left)
			stale := rerun(t, ctx, env)
			staleLocks += stale
			converged(t, ctx, env)
			errText := "none"
			if err != nil {
				errText = firstLineOf(err.Error())
			}
			t.Logf("cut %d at byte %d of ~%d (%s): apply error %s; %d temp files left until the rerun; %d stale locks cleared; converged",
				i+1, at, total, phase, errText, len(left), stale)
			if t.Failed() {
				return
			}
		}
		t.Logf("link loss: %d cuts, %d applies failed, files after the cut: %d old + %d new, 0 partial; %d temp files and %d stale locks left by the cut runs, none after the reruns; every rerun converged; verify stale reads repeated so far: %d",
			len(points), failed, oldFiles, newFiles, strayAfterCut, staleLocks, staleReads.Load())
	})
}

// phaseAt names the apply step in progress at t: the last event before it.
func phaseAt(events []rollout.Event, at time.Time) string {
	last := "before the first event"
	for _, e := range events {
		if e.Time.After(at) {
			break
		}
		last = string(e.Type) + " " + string(e.Phase) + string(e.Wave) + " " + e.Unit
	}
	return strings.Join(strings.Fields(last), " ")
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
