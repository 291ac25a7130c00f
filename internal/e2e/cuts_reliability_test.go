package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
)

// cutSeed fixes the byte offsets the SSH-cut test cuts at.
const cutSeed = 20261206

// cutHosts are the hosts whose SSH links are cut: a hub node, and two edges (each runs a leaf
// and a wasmCloud host).
var cutHosts = []string{"hub-1", "edge-1", "edge-2"}

// byteMark is where one apply event fell in each cut host's SSH byte stream.
type byteMark struct {
	step  string
	bytes map[string]int64
}

// stepOf names the step of an apply an event begins: the phase, and inside a wave the wave and
// what is being done (a unit's swap and reload or restart, its gate, its rollback).
func stepOf(e rollout.Event) string {
	switch {
	case e.Type == rollout.EventSettled:
		return "audit+unlock" // what follows the final verify: audit records, then unlocking
	case e.Phase == rollout.PhaseWave || e.Wave != "":
		what := "start"
		switch e.Type {
		case rollout.EventUnitStart:
			what = "swap+" + string(e.Action)
		case rollout.EventWait, rollout.EventWaited, rollout.EventUnitDone:
			what = "gate"
		case rollout.EventUnitFailed, rollout.EventRolledBack:
			what = "rollback"
		}
		return "wave " + string(e.Wave) + " " + what
	case e.Phase != "":
		return string(e.Phase)
	}
	return "" // a warning or other event inside the step in progress
}

// stepAt names the step in progress at t from the events of an apply.
func stepAt(events []rollout.Event, at time.Time) string {
	step := "lock"
	for _, e := range events {
		if e.Time.After(at) {
			break
		}
		if s := stepOf(e); s != "" {
			step = s
		}
	}
	return step
}

// cutRevision rewrites the lab inventory to revision n of a change on every host: a reloadable
// hub and leaf change (log_file) and a restart-class wasmCloud change (a label), so that an
// apply runs every wave.
func cutRevision(t *testing.T, env *labtest.Env, n int) {
	t.Helper()
	env.Edit(t, func(src string) string {
		if !strings.Contains(src, "nats-hub-") {
			src = strings.Replace(src, "role \"hub\" {\n  nats {\n", "role \"hub\" {\n  nats {\n    log_file = \"/var/log/nats-hub-0.log\"\n", 1)
		}
		src = regexp.MustCompile(`nats-hub-\d+\.log`).ReplaceAllString(src, fmt.Sprintf("nats-hub-%d.log", n))
		return src
	})
	revision(t, env, n)
}

// TestReliability_SSHCuts cuts the SSH link of a hub, a leaf and a wasmCloud host at seeded
// random byte offsets spread over every step of an apply (offsets are drawn per step, from a
// calibration apply that records each step's bytes on each link). After each cut every
// managed file is its old or its new version; the rerun takes over the lock the cut run left
// (same controller, same boot, its process gone) and converges.
func TestReliability_SSHCuts(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	trials := reliabilityCount(t, 3, 102)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Hour)
	defer cancel()
	proxies := map[string]*cutProxy{}
	for _, name := range cutHosts {
		h, _ := env.Lab.Host(name)
		proxies[name] = newCutProxy(t, netip.AddrPortFrom(h.Addr, 22).String())
		viaProxy(t, env, name, proxies[name].Port())
	}
	cutRevision(t, env, 0)
	if _, err := newSession(t, env, plan.Options{}).apply(ctx, newSession(t, env, plan.Options{}).plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}

	// Calibrate: each step's bytes on each link, from one apply of a revision. Later applies
	// carry a few kB more in observe (the hosts' nats-server -t digest cache, read there,
	// grows by each new config up to its 32 entries), so a cut can land a step earlier than
	// it was drawn in: each cut prints both.
	cutRevision(t, env, 1)
	s := newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	snap := func(step string) byteMark {
		m := byteMark{step: step, bytes: map[string]int64{}}
		for name, px := range proxies {
			m.bytes[name] = px.Bytes()
		}
		return m
	}
	for _, px := range proxies {
		px.Count()
	}
	marks := []byteMark{snap("lock")}
	if _, err := s.applyAs(ctx, p, deadController(t), func(e rollout.Event) {
		if st := stepOf(e); st != "" {
			marks = append(marks, snap(st))
		}
	}); err != nil {
		t.Fatalf("calibration apply: %v", err)
	}
	marks = append(marks, snap("end"))
	rerun(t, ctx, env) // the calibration's dead owner is not a cut: nothing should be left
	// ranges[host][step] are the byte ranges of that step on host's link.
	type span struct{ from, to int64 }
	ranges := map[string]map[string][]span{}
	var steps []string
	for _, name := range cutHosts {
		ranges[name] = map[string][]span{}
		for i := 0; i+1 < len(marks); i++ {
			from, to := marks[i].bytes[name], marks[i+1].bytes[name]
			if to > from {
				ranges[name][marks[i].step] = append(ranges[name][marks[i].step], span{from, to})
			}
			if !slices.Contains(steps, marks[i].step) {
				steps = append(steps, marks[i].step)
			}
		}
	}
	for _, name := range cutHosts {
		var parts []string
		for _, st := range steps {
			var n int64
			for _, sp := range ranges[name][st] {
				n += sp.to - sp.from
			}
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
		t.Logf("bytes of one apply on %s's link by step: %s (total %d)", name, strings.Join(parts, ", "), marks[len(marks)-1].bytes[name])
	}

	// The cuts: host i%3; each host's cuts spread evenly over the steps that carry bytes on
	// its link (every step when there are enough cuts), at a random offset inside the step.
	rng := rand.New(rand.NewPCG(cutSeed, 0))
	var cuts []sshCut
	perHost := (trials + len(cutHosts) - 1) / len(cutHosts)
	for i := range trials {
		host := cutHosts[i%len(cutHosts)]
		var own []string
		for _, st := range steps {
			if len(ranges[host][st]) > 0 {
				own = append(own, st)
			}
		}
		// Spread evenly, ends excluded: one cut per host (the CI subset) lands mid-apply.
		st := own[(i/len(cutHosts)+1)*len(own)/(perHost+1)]
		sp := ranges[host][st][rng.IntN(len(ranges[host][st]))]
		cuts = append(cuts, sshCut{host, st, sp.from + rng.Int64N(sp.to-sp.from)})
	}

	var failed, checked, oldFiles, newFiles, partial, strayFiles, locksLeft, takeovers, refusals, convergedRuns, notCut int
	landed := map[string]int{}
	for i, c := range cuts {
		rev := 2 + i
		cutRevision(t, env, rev)
		before := hashesOn(t, ctx, env, natsConf, wasmEnv)
		want := desiredHashes(t, env, natsConf, wasmEnv)
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		px := proxies[c.host]
		cutsBefore := px.Cuts()
		px.CutAfter(c.at)
		_, err := s.applyAs(ctx, p, deadController(t), nil)
		px.Heal()
		s.Pool.Close()
		where := "not cut: the apply ended first"
		if px.Cuts() > cutsBefore {
			where = stepAt(s.events, px.CutTime())
			landed[c.host+" "+where]++
		} else {
			notCut++
		}
		if err != nil {
			failed++
		}
		after := hashesOn(t, ctx, env, natsConf, wasmEnv)
		oldHere, newHere := 0, 0
		for k, h := range after {
			checked++
			switch h {
			case before[k]:
				oldFiles++
				oldHere++
			case want[k]:
				newFiles++
				newHere++
			default:
				partial++
				t.Errorf("cut %d on %s at byte %d (%s): %s is neither the old nor the new version", i+1, c.host, c.at, where, k)
			}
		}
		left := strays(t, ctx, env)
		held := locksHeld(ctx, env)
		strayFiles += len(left)
		locksLeft += len(held)
		took, refused := rerunTakingOver(t, ctx, env)
		takeovers += took
		refusals += refused
		converged(t, ctx, env)
		convergedRuns++
		errText := "none"
		if err != nil {
			errText = firstLineOf(strings.ReplaceAll(err.Error(), "\n", " "))
		}
		t.Logf("cut %d: %s's link at byte %d (drawn in %s; landed in %s): apply error %s; files %d old, %d new; %d temp files and locks on %v left; rerun took over %d locks, was refused by %d; converged",
			i+1, c.host, c.at, c.step, where, errText, oldHere, newHere, len(left), held, took, refused)
		if t.Failed() {
			return
		}
	}
	var where []string
	for k, n := range landed {
		where = append(where, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(where)
	t.Logf("cuts landed: %s", strings.Join(where, "; "))
	t.Logf("SSH cuts: %d cuts (%d on hub-1, %d on edge-1, %d on edge-2; %d landed after the apply ended), %d applies failed; %d managed files checked: %d old, %d new, %d partial; %d temp files and %d locks left by the cut runs; reruns took over %d locks and were refused by %d; %d of %d reruns converged",
		len(cuts), countHost(cuts, "hub-1"), countHost(cuts, "edge-1"), countHost(cuts, "edge-2"), notCut, failed, checked, oldFiles, newFiles, partial, strayFiles, locksLeft, takeovers, refusals, convergedRuns, len(cuts))
	if partial > 0 || refusals > 0 {
		t.Errorf("%d partial files, %d lock refusals: want none", partial, refusals)
	}
}

// sshCut is one cut of the SSH-cut test: host's link, at byte at of an apply, drawn in step.
type sshCut struct {
	host, step string
	at         int64
}

func countHost(cuts []sshCut, host string) int {
	n := 0
	for _, c := range cuts {
		if c.host == host {
			n++
		}
	}
	return n
}

// rerunTakingOver applies the inventory again as a dead controller of this machine: a lock
// left by the cut run (same controller and boot, process gone) must be taken over with a
// warning, not refused. A refusal is counted, cleared with force-unlock as its error says, and
// the apply repeated.
func rerunTakingOver(t *testing.T, ctx context.Context, env *labtest.Env) (took, refused int) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s := newSession(t, env, plan.Options{})
		res, err := s.applyAs(ctx, s.plan(ctx), deadController(t), nil)
		for _, e := range s.events {
			if e.Type == rollout.EventWarning && e.Phase == rollout.PhaseLock && strings.Contains(e.Message, "took over the lock") {
				took++
			}
		}
		var le *remote.LockedError
		if errors.As(err, &le) && attempt < 3 {
			if !strings.Contains(le.Error(), "latticepush force-unlock") {
				t.Fatalf("lock refusal does not name force-unlock: %v", le)
			}
			t.Logf("rerun refused: %s", le)
			forceUnlock(t, ctx, env, le.Target)
			refused++
			continue
		}
		if err != nil {
			t.Fatalf("rerun: %v\nresults: %v", err, results(res))
		}
		if res.VerifyError != "" {
			if !strings.Contains(res.VerifyError, staleRead) {
				t.Fatalf("rerun: verify after apply: %s", res.VerifyError)
			}
			staleReads.Add(1)
			verifyLab(t, ctx, env)
		}
		return took, refused
	}
}
