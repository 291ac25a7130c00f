package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
)

// TestTiersTLS_ManagedCA: the tiered lab (edges that cannot reach the hubs) with the managed
// fleet CA goes from empty to verified, every TLS check passing without a warning: hub.tls on
// every hub, leaf.relay-tls on both relays (leafnode port and mutual-TLS routes), leaf.tls on
// the relays (linked to a hub) and on every edge (linked to a relay); the relays hold a
// certificate and key named by serial; KV through the hub's domain works from an edge across
// two TLS leaf hops; a second plan changes nothing; and a plaintext client on relay-1's
// leafnode port is refused (relay-1's log shows the TLS handshake failing).
func TestTiersTLS_ManagedCA(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := tieredLabEdited(t, managedTLS)
	s := newSession(t, env, plan.Options{})
	start := time.Now()
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	t.Logf("apply from empty: %s", time.Since(start).Round(100*time.Millisecond))

	rep := s.verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	want := map[string][]string{
		verify.CheckHubTLS:       {"hub-1", "hub-2", "hub-3"},
		verify.CheckLeafRelayTLS: {"relay-1", "relay-2"},
		verify.CheckLeafTLS:      {"relay-1", "relay-2", "edge-1", "edge-2", "edge-3", "edge-4"},
	}
	for _, check := range []string{verify.CheckHubTLS, verify.CheckLeafRelayTLS, verify.CheckLeafTLS} {
		for _, host := range want[check] {
			r := resultOf(rep, check, host)
			if r == nil || !r.OK || r.Warning {
				t.Errorf("%s on %s: %+v", check, host, r)
				continue
			}
			t.Logf("verify %s %s: %s", r.Check, r.Host, r.Evidence)
			if check == verify.CheckLeafTLS && strings.HasPrefix(host, "edge-") && !strings.HasPrefix(r.Evidence, "linked to relay-") {
				t.Errorf("%s on %s: %q, want linked to a relay", check, host, r.Evidence)
			}
		}
	}

	out, err := env.Lab.Exec(ctx, "relay-1", "sh", "-c", "stat -c '%a %n' /etc/nats/tls/*")
	if err != nil {
		t.Fatalf("relay-1's TLS files: %v %s", err, out)
	}
	if !strings.Contains(string(out), "600 /etc/nats/tls/relay-1-") || !strings.Contains(string(out), ".key") {
		t.Errorf("relay-1 has no certificate and key named by serial: %s", out)
	}

	kv := kvOn(t, ctx, clientOn(t, ctx, s, "edge-1"), "hub", "tiers_tls", true)
	if _, err := kv.PutString(ctx, "k", "two tls hops"); err != nil {
		t.Fatalf("KV put from edge-1: %v", err)
	}
	if e, err := kvOn(t, ctx, clientOn(t, ctx, s, "edge-4"), "hub", "tiers_tls", false).Get(ctx, "k"); err != nil || string(e.Value()) != "two tls hops" {
		t.Errorf("KV read from edge-4: %v", err)
	}

	if p := s.plan(ctx); p.HasChanges() {
		t.Errorf("a second plan has changes: %v", actions(p))
	}

	// A plaintext client speaks NATS to relay-1's leafnode port from edge-1.
	relay1 := s.Inv.Host("relay-1")
	from := hubLogLines(t, ctx, env, "relay-1")
	script := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d && head -c 4 <&3 && printf 'CONNECT {"verbose":false}\r\nPING\r\n' >&3 && sleep 1; exec 3<&-`,
		relay1.Address, relay1.Leaf.LeafnodePort)
	if b, err := env.Lab.Exec(ctx, "edge-1", "bash", "-c", script); err != nil {
		t.Logf("plaintext client on relay-1's leafnode port: %v %s", err, b)
	}
	var refused string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		b, err := env.Lab.Exec(ctx, "relay-1", "sh", "-c",
			fmt.Sprintf("tail -n +%d /var/log/nats-server/current | grep 'Leafnode connection closed: TLS Handshake Failure' || true", from+1))
		if err != nil {
			t.Fatal(err)
		}
		if refused = strings.TrimSpace(string(b)); refused != "" {
			break
		}
	}
	if refused == "" {
		b, _ := env.Lab.Exec(ctx, "relay-1", "sh", "-c", fmt.Sprintf("tail -n +%d /var/log/nats-server/current | tail -n 20", from+1))
		t.Fatalf("relay-1's log shows no refused plaintext leaf connection:\n%s", b)
	}
	t.Logf("relay-1's log: %s", firstLines(refused, 2))
	t.Logf("TestTiersTLS_ManagedCA took %s", time.Since(began).Round(time.Second))
}

// TestTiersTLS_RollingMove moves the running plaintext tiered lab (edges that cannot reach the
// hubs) to the managed CA without stopping anything, under a KV writer and reader on edge-1,
// in the README's steps with one relay alongside hub-1: (1) links = "routes": every hub and
// relay reloads (route TLS), the edges untouched; (2) without it, -target hub-1 and relay-1:
// both restart with TLS leafnode listeners (relay-1's remote now TLS, to hub-1), the edges on
// relay-1 move to relay-2; (3) -exclude hub-2, hub-3 and relay-2: the edges reload onto tls://
// and link to relay-1; (4) the rest: hub-2, hub-3 and relay-2 restart. Asserted: each step's
// actions, verify passing after (1) with the TLS checks warnings naming the next step, and
// after (4) with every TLS check passing without a warning, no acknowledged write lost; the
// outage is reported.
func TestTiersTLS_RollingMove(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := tieredLab(t, ctx)
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply plaintext: %v %s", err, res.VerifyError)
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second)
	var steps []string
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
	reload := map[string]plan.Action{}
	for _, h := range []string{"hub-1", "hub-2", "hub-3", "relay-1", "relay-2"} {
		reload[h+"/nats-server"] = plan.Reload
	}
	step("(1) links = routes", plan.Options{}, reload, true)
	rep := newSession(t, env, plan.Options{}).verify(ctx)
	for _, c := range [][2]string{{verify.CheckHubTLS, "hub-2"}, {verify.CheckLeafRelayTLS, "relay-1"}, {verify.CheckLeafTLS, "edge-1"}} {
		if r := resultOf(rep, c[0], c[1]); r == nil || !r.OK || !r.Warning {
			t.Errorf("after (1): %s on %s is not a warning: %+v", c[0], c[1], r)
		} else {
			t.Logf("after (1): %s %s: %s", r.Check, r.Host, r.Evidence)
		}
	}

	env.Edit(t, func(src string) string { return strings.Replace(src, "    links = \"routes\"\n", "", 1) })
	if _, err := newSession(t, env, plan.Options{}).Plan(ctx); err != nil {
		t.Errorf("a plan of every server after (1) is refused: %v", err)
	}
	step("(2) hub-1 and relay-1", plan.Options{Targets: []string{"hub-1", "relay-1"}},
		map[string]plan.Action{"hub-1/nats-server": plan.Restart, "relay-1/nats-server": plan.Restart}, false)
	edges := map[string]plan.Action{}
	for _, e := range []string{"edge-1", "edge-2", "edge-3", "edge-4"} {
		edges[e+"/nats-server"] = plan.Reload
	}
	step("(3) the edges", plan.Options{Excludes: []string{"hub-2", "hub-3", "relay-2"}}, edges, false)
	step("(4) the rest", plan.Options{}, map[string]plan.Action{"hub-2/nats-server": plan.Restart, "hub-3/nats-server": plan.Restart, "relay-2/nats-server": plan.Restart}, true)

	time.Sleep(2 * time.Second)
	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("steps (each with its verify): %s", strings.Join(steps, "; "))
	t.Logf("rolling move to TLS through the relay tier: %d writes acknowledged, %d write errors, longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		st.acked, st.writeErrs, st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Fatalf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}
	rep = newSession(t, env, plan.Options{}).verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, r := range rep.Results {
		if (r.Check == verify.CheckHubTLS || r.Check == verify.CheckLeafRelayTLS || r.Check == verify.CheckLeafTLS) && r.Warning {
			t.Errorf("after: %s on %s is a warning: %s", r.Check, r.Host, r.Evidence)
		}
	}
	if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() {
		t.Errorf("a plan after the move has changes: %v", actions(p))
	}
	t.Logf("test %s in all", time.Since(began).Round(time.Second))
}
