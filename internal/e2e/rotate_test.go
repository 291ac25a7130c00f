package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// TestRotation_LeafPasswordUnderLoad rotates passwords.leaf, then passwords.system and
// passwords.check, on a running lab lattice of two edges with the CLI, while a KV writer and
// reader go through edge-1. The leaf password:
// `secrets --rotate passwords.leaf`, plan and apply (the hubs accept leaf-a beside leaf, then
// the leaves switch to leaf-a), plan and apply again (the hubs drop leaf), plan (complete),
// `secrets --finish-rotation`, plan (empty). Each leaf's /leafz is polled throughout: its
// link's connection id changes exactly once, at its switch, and the link is back within 1s;
// the hubs dropping leaf closes no leaf link (nats-server closes the connections of a removed
// user, so every link was on leaf-a); no server logs an authorization or authentication
// error; no acknowledged write is lost. Then the system and check passwords together: plan and
// apply (the hubs accept sys-a and latticepush-a), plan and apply (they drop sys and
// latticepush), plan (complete), `secrets --finish-rotation`; the plan is empty at the end.
func TestRotation_LeafPasswordUnderLoad(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	oldPW := s.Inv.Auth.LeafPassword.Reveal()
	oldSys, oldCheck := s.Inv.Auth.SystemPassword.Reveal(), s.Inv.Auth.CheckPassword.Reveal()
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("latticepush %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	secret := func(outs ...string) {
		t.Helper()
		a := newSession(t, env, plan.Options{}).Inv.Auth
		pws := []string{oldPW, oldSys, oldCheck, a.LeafPassword.Reveal(), a.SystemPassword.Reveal(), a.CheckPassword.Reveal()}
		for _, o := range outs {
			for _, pw := range pws {
				if pw == "" || strings.Contains(o, pw) {
					t.Fatal("a leaf password is empty or printed")
				}
			}
		}
	}

	logFrom := map[string]int{}
	for _, h := range s.Inv.Hosts {
		if h.NATS() != nil {
			logFrom[h.Name] = hubLogLines(t, ctx, env, h.Name)
		}
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second) // a baseline before the change

	rot := cli("secrets", "--rotate", "passwords.leaf", env.Path)
	t.Logf("latticepush secrets --rotate passwords.leaf:\n%s", rot)
	plan1 := cli("plan", env.Path)
	t.Logf("latticepush plan (steps 1 and 2):\n%s", plan1)
	if !strings.Contains(plan1, "Rotation of passwords.leaf (leaf -> leaf-a)") || !strings.Contains(plan1, "This plan takes steps 1 and 2") {
		t.Fatal("the first plan does not show the rotation's steps 1 and 2")
	}
	for _, u := range newSession(t, env, plan.Options{}).plan(ctx).Units {
		if u.Service == plan.ServiceNATS && u.Action != plan.Reload {
			t.Fatalf("%s: %s (%v), want reload", u.ID(), u.Action, u.Reasons)
		}
	}

	w := watchLeafLinks(t, ctx, s)
	start := time.Now()
	apply1 := cli("apply", "--auto-approve", env.Path)
	took1 := time.Since(start)
	t.Logf("latticepush apply, steps 1 and 2 (%.1fs):\n%s", took1.Seconds(), apply1)
	time.Sleep(time.Second)
	switched := w.snapshot()

	plan2 := cli("plan", env.Path)
	t.Logf("latticepush plan (step 3):\n%s", plan2)
	if !strings.Contains(plan2, "-> 3. the hubs drop leaf") {
		t.Fatal("the second plan does not take step 3")
	}
	start = time.Now()
	apply2 := cli("apply", "--auto-approve", env.Path)
	took2 := time.Since(start)
	t.Logf("latticepush apply, step 3 (%.1fs):\n%s", took2.Seconds(), apply2)
	time.Sleep(2 * time.Second)
	links := w.stop()

	plan3 := cli("plan", env.Path)
	if !strings.Contains(plan3, "Complete: no server accepts leaf any more") {
		t.Fatalf("the third plan does not report the rotation complete:\n%s", plan3)
	}
	fin := cli("secrets", "--finish-rotation", "passwords.leaf", env.Path)
	secret(rot, plan1, apply1, plan2, apply2, plan3, fin)

	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("leaf password rotated under load: %d writes acknowledged, %d write errors; %d reads (%d verified, %d errors, %d wrong); longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		st.acked, st.writeErrs, st.reads, st.readOK, st.readErrs, st.readWrong, st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Errorf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}

	// The system and check passwords, together, under a new load: two steps, hubs only.
	// apply's own gates log in as the check user: on the new one, or on the old one where a
	// hub does not accept the new one yet.
	l = startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second)
	rotSC := cli("secrets", "--rotate", "passwords.system", env.Path) + cli("secrets", "--rotate", "passwords.check", env.Path)
	planSC1 := cli("plan", env.Path)
	if !strings.Contains(planSC1, "Rotation of passwords.check (latticepush -> latticepush-a), two steps") ||
		!strings.Contains(planSC1, "Rotation of passwords.system (sys -> sys-a), two steps") {
		t.Fatalf("the plan does not show the system and check rotations:\n%s", planSC1)
	}
	start = time.Now()
	applySC1 := cli("apply", "--auto-approve", env.Path)
	tookSC1 := time.Since(start)
	planSC2 := cli("plan", env.Path)
	if strings.Count(planSC2, "-> 2. the hubs drop") != 2 {
		t.Fatalf("the plan after step 1 does not drop both old users:\n%s", planSC2)
	}
	start = time.Now()
	applySC2 := cli("apply", "--auto-approve", env.Path)
	tookSC2 := time.Since(start)
	planSC3 := cli("plan", env.Path)
	if strings.Count(planSC3, "Complete: no server accepts") != 2 {
		t.Fatalf("the plan after step 2 does not report both rotations complete:\n%s", planSC3)
	}
	finSC := cli("secrets", "--finish-rotation", "passwords.system", env.Path) + cli("secrets", "--finish-rotation", "passwords.check", env.Path)
	secret(rotSC, planSC1, applySC1, planSC2, applySC2, planSC3, finSC)
	time.Sleep(2 * time.Second)
	st = l.stop()
	missing, wrong = l.check(t, ctx)
	t.Logf("system and check rotated under load (apply of step 1 %s, of step 2 %s): %d writes acknowledged, %d write errors; %d reads (%d verified, %d errors, %d wrong); longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		tookSC1.Round(100*time.Millisecond), tookSC2.Round(100*time.Millisecond), st.acked, st.writeErrs, st.reads, st.readOK, st.readErrs, st.readWrong,
		st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || missing+wrong+st.readWrong > 0 {
		t.Errorf("system and check rotation: %d acknowledged, %d missing, %d wrong after, %d wrong reads during", st.acked, missing, wrong, st.readWrong)
	}

	// Each leaf: one new link, made during steps 1 and 2, back within 1s; none during step 3.
	for _, leaf := range w.leaves {
		lk := links[leaf]
		t.Logf("%s /leafz polled %d times every %s: link ids %v, old link last seen to new link first seen %s, longest no link seen %s",
			leaf, lk.polls, leafPoll, lk.ids, lk.switchTook().Round(time.Millisecond), lk.gap.Round(time.Millisecond))
		if len(lk.ids) != 2 {
			t.Errorf("%s: link ids %v, want the one before and one after its switch", leaf, lk.ids)
		}
		if lk.gap > time.Second || lk.switchTook() > time.Second {
			t.Errorf("%s: switch took %s (longest without a link %s), want back within 1s", leaf, lk.switchTook(), lk.gap)
		}
		if got := switched[leaf].ids; len(got) != len(lk.ids) {
			t.Errorf("%s: link ids %v after steps 1 and 2, %v after step 3: the hubs dropping leaf closed a link that used it", leaf, got, lk.ids)
		}
	}

	// A refused login logs "Authorization Violation" or "authentication error"; the reloads
	// themselves log "Reloaded: authorization users", counted as evidence they happened.
	for _, host := range slices.Sorted(maps.Keys(logFrom)) {
		b, err := env.Lab.Exec(ctx, host, "sh", "-c", fmt.Sprintf(
			"tail -n +%d /var/log/nats-server/current | grep -iE 'violation|authentication (error|failure)|\\[(ERR|WRN)\\].*(authoriz|authentic)' || true", logFrom[host]+1))
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.TrimSpace(string(b)); lines != "" {
			t.Errorf("%s's log has authorization or authentication errors during the rotation:\n%s", host, firstLines(lines, 6))
		}
		n, _ := env.Lab.Exec(ctx, host, "sh", "-c", fmt.Sprintf(
			"tail -n +%d /var/log/nats-server/current | grep -c 'Reloaded: authorization users' || true", logFrom[host]+1))
		t.Logf("%s's log during the rotation: no authorization error, %s reload(s) of its users", host, strings.TrimSpace(string(n)))
	}

	after := newSession(t, env, plan.Options{})
	for key, want := range map[string]string{"leaf": "leaf-a", "system": "sys-a", "check": "latticepush-a"} {
		if got := after.Inv.Auth.UserName(key); got != want || after.Inv.Auth.RetiringUser(key).IsSet() {
			t.Errorf("after: %s user %s, retiring recorded %v; want %s, none", key, got, after.Inv.Auth.RetiringUser(key).IsSet(), want)
		}
	}
	rep := after.verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	if p := after.plan(ctx); p.HasChanges() || len(p.Rotations) != 0 {
		t.Errorf("the plan after the rotation is not empty: %v, rotations %+v", actions(p), p.Rotations)
	}
	t.Logf("apply of steps 1 and 2 %s, of step 3 %s; test %s in all", took1.Round(100*time.Millisecond), took2.Round(100*time.Millisecond), time.Since(began).Round(time.Second))
}

const leafPoll = 20 * time.Millisecond

// leafLinks polls every leaf's own /leafz and records the ids of its link to the hubs in the
// order seen, and the longest stretch without one.
type leafLinks struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	leaves []string
	links  map[string]*leafLink
}

type leafLink struct {
	ids   []uint64
	polls int
	gap   time.Duration
	// first and last are when a poll first and last saw each link id: the last poll that saw
	// the old link to the first that saw the new one bounds the switch from above.
	first, last map[uint64]time.Time
}

// switchTook is how long the leaf went from its old link to its new one, at most (poll
// granularity included); zero without a switch.
func (l leafLink) switchTook() time.Duration {
	if len(l.ids) < 2 {
		return 0
	}
	return l.first[l.ids[1]].Sub(l.last[l.ids[0]])
}

func watchLeafLinks(t *testing.T, ctx context.Context, s *session) *leafLinks {
	t.Helper()
	wctx, cancel := context.WithCancel(ctx)
	w := &leafLinks{cancel: cancel, links: map[string]*leafLink{}}
	for _, tg := range s.Fleet.Targets(ctx) {
		h := tg.Host
		if h.Leaf == nil || h.Hub != nil {
			continue
		}
		if tg.Err != nil {
			t.Fatal(tg.Err)
		}
		c := natsmon.New(h.Leaf.LocalMonitorAddr(), tg.Dial, natsmon.Options{KeepAlive: true, HeaderTimeout: 2 * time.Second})
		lk := &leafLink{first: map[uint64]time.Time{}, last: map[uint64]time.Time{}}
		w.leaves = append(w.leaves, h.Name)
		w.links[h.Name] = lk
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			var since time.Time
			for {
				select {
				case <-wctx.Done():
					return
				case <-time.After(leafPoll):
				}
				var lz struct {
					Leafs []struct {
						ID      uint64 `json:"id"`
						IsSpoke bool   `json:"is_spoke"`
					} `json:"leafs"`
				}
				var id uint64
				pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
				r, err := c.Get(pctx, natsmon.PathLeafz)
				pcancel()
				if wctx.Err() != nil {
					return
				}
				if err == nil && r.Decode(&lz) == nil {
					for _, l := range lz.Leafs {
						if l.IsSpoke {
							id = l.ID
						}
					}
				}
				now := time.Now()
				w.mu.Lock()
				lk.polls++
				if id != 0 && !slices.Contains(lk.ids, id) {
					lk.ids = append(lk.ids, id)
					lk.first[id] = now
				}
				if id != 0 {
					lk.last[id] = now
				}
				switch {
				case id == 0 && since.IsZero():
					since = now
				case id != 0 && !since.IsZero():
					lk.gap = max(lk.gap, now.Sub(since))
					since = time.Time{}
				}
				if !since.IsZero() {
					lk.gap = max(lk.gap, now.Sub(since))
				}
				w.mu.Unlock()
			}
		}()
	}
	slices.Sort(w.leaves)
	return w
}

func (w *leafLinks) snapshot() map[string]leafLink {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]leafLink{}
	for h, l := range w.links {
		out[h] = leafLink{ids: append([]uint64(nil), l.ids...), polls: l.polls, gap: l.gap, first: maps.Clone(l.first), last: maps.Clone(l.last)}
	}
	return out
}

func (w *leafLinks) stop() map[string]leafLink {
	w.cancel()
	w.wg.Wait()
	return w.snapshot()
}
