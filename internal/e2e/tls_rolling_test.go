package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
)

// TestTLS_RollingMove moves a running plaintext lab lattice (3 hubs, 1 edge) to the managed
// CA without stopping the hubs, under a KV writer and reader through the leaf, in the steps
// README gives and the plan's refusal names: (1) links = "routes": every hub reloads with TLS
// on its routes and client port (the routes stay up, plaintext); (2) without it, -target
// hub-1: hub-1 restarts with leafnode TLS too, its routes made again over TLS; (3) -exclude
// hub-2 and hub-3: the leaf reloads onto tls:// and links to hub-1; (4) the rest: hub-2 and
// hub-3 restart. Asserted: each step's actions, verify with warnings only after (1) and with
// hub.tls and leaf.tls passing after (4), no acknowledged write lost, and no hub without a
// route to every other for more than a second; the outage is reported.
func TestTLS_RollingMove(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply plaintext: %v %s", err, res.VerifyError)
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second)
	watch := watchRoutes(t, ctx, s)
	var steps []string

	// step applies the plan for opts and checks every unit's action; a verify failure is
	// expected between steps 2 and 4 (hubs not restarted yet), so it settles only briefly.
	step := func(name string, opts plan.Options, want map[string]plan.Action, verifyOK bool) {
		t.Helper()
		start := time.Now()
		ss := newSession(t, env, opts)
		p := ss.plan(ctx)
		for _, u := range p.Units {
			w, ok := want[u.ID()]
			if !ok {
				w = plan.Noop
			}
			if u.Action != w {
				t.Errorf("%s: %s %s %v, want %s", name, u.ID(), u.Action, u.Reasons, w)
			}
		}
		settle := 30 * time.Second
		if !verifyOK {
			settle = 2 * time.Second
		}
		res, err := rollout.Apply(ctx, rollout.Target{Plan: p, Probes: ss.Probes, Replan: ss.Build}, ss.Fleet, ss.gates(), rollout.Options{
			Owner: rollout.LockOwner{User: "test", Host: "lab", PID: 1, Command: t.Name()}, Settle: settle, GateTimeout: gateTimeout})
		if err != nil {
			t.Fatalf("%s: %v %v", name, err, results(res))
		}
		if verifyOK && res.VerifyError != "" {
			t.Fatalf("%s: verify: %s", name, res.VerifyError)
		}
		steps = append(steps, fmt.Sprintf("%s %s", name, time.Since(start).Round(100*time.Millisecond)))
	}

	env.Edit(t, func(src string) string {
		return strings.Replace(src, "js_domain = \"hub\"\n", "js_domain = \"hub\"\n  tls {\n    ca    = \"managed\"\n    links = \"routes\"\n  }\n", 1)
	})
	if _, err := runSecrets(env); err != nil {
		t.Fatal(err)
	}
	hubsReload := map[string]plan.Action{"hub-1/nats-server": plan.Reload, "hub-2/nats-server": plan.Reload, "hub-3/nats-server": plan.Reload}
	step("(1) links = routes", plan.Options{}, hubsReload, true)
	rep := newSession(t, env, plan.Options{}).verify(ctx)
	if r := resultOf(rep, verify.CheckHubTLS, "hub-2"); r == nil || !r.OK || !r.Warning {
		t.Errorf("after (1): %s on hub-2 is not a warning: %+v", verify.CheckHubTLS, r)
	}

	env.Edit(t, func(src string) string { return strings.Replace(src, "    links = \"routes\"\n", "", 1) })
	if _, err := newSession(t, env, plan.Options{}).Plan(ctx); err != nil {
		t.Errorf("a plan of every hub after (1) is refused: %v", err)
	}
	step("(2) hub-1", plan.Options{Targets: []string{"hub-1"}}, map[string]plan.Action{"hub-1/nats-server": plan.Restart}, false)
	step("(3) the leaves", plan.Options{Excludes: []string{"hub-2", "hub-3"}}, map[string]plan.Action{"edge-1/nats-server": plan.Reload}, false)
	step("(4) the other hubs", plan.Options{}, map[string]plan.Action{"hub-2/nats-server": plan.Restart, "hub-3/nats-server": plan.Restart}, true)

	time.Sleep(2 * time.Second)
	gaps := watch.stop()
	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("steps (each with its verify): %s", strings.Join(steps, "; "))
	t.Logf("rolling move to TLS: %d writes acknowledged, %d write errors, longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		st.acked, st.writeErrs, st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	t.Logf("hub /routez polled every %s: %s", routePoll, gaps)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Fatalf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}
	if bad := gaps.notBack(); bad != "" {
		t.Errorf("routes not back at the end: %s", bad)
	}
	if g := longestRouteGap(gaps); g > time.Second {
		t.Errorf("a hub went %s without a route to every other", g)
	}
	rep = newSession(t, env, plan.Options{}).verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
		if r := resultOf(rep, verify.CheckHubTLS, h); r == nil || !r.OK || r.Warning {
			t.Errorf("after: %s on %s: %+v", verify.CheckHubTLS, h, r)
		}
	}
	if r := resultOf(rep, verify.CheckLeafTLS, "edge-1"); r == nil || !r.OK || r.Warning {
		t.Errorf("after: %s on edge-1: %+v", verify.CheckLeafTLS, r)
	}
	if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() {
		t.Errorf("a plan after the move has changes: %v", actions(p))
	}
	t.Logf("test %s in all", time.Since(began).Round(time.Second))
}

// longestRouteGap is the longest any hub went without a route to every other.
func longestRouteGap(g routeGaps) time.Duration {
	var m time.Duration
	for _, d := range g.w.gap {
		m = max(m, d)
	}
	return m
}
