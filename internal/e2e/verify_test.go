package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify"
)

// checkAt names one result of a verification: a check on a host ("" for lattice-wide checks,
// "*" in an expectation for any host).
type checkAt struct{ check, host string }

func (c checkAt) String() string { return c.check + "@" + c.host }

func (c checkAt) matches(r verify.Result) bool {
	return r.Check == c.check && (c.host == "*" || c.host == r.Host)
}

// verdict is what a fault must do to a verification: every result in fail fails, and nothing
// outside fail and flaky does (flaky results may go either way: their outcome depends on
// timing the fault does not control, such as when a hub notices a dead leaf connection).
type verdict struct {
	fail, flaky []checkAt
}

// holds reports whether rep matches v, and if not, why.
func (v verdict) holds(rep verify.Report) (bool, string) {
	var why []string
	for _, want := range v.fail {
		i := slices.IndexFunc(rep.Results, want.matches)
		switch {
		case i < 0:
			why = append(why, "no result for "+want.String())
		case rep.Results[i].OK:
			why = append(why, want.String()+" passed: "+rep.Results[i].Evidence)
		}
	}
	for _, r := range rep.Failed() {
		expected := func(c checkAt) bool { return c.matches(r) }
		if !slices.ContainsFunc(v.fail, expected) && !slices.ContainsFunc(v.flaky, expected) {
			why = append(why, fmt.Sprintf("unrelated %s@%s failed: %s", r.Check, r.Host, r.Evidence))
		}
	}
	return len(why) == 0, strings.Join(why, "\n")
}

// awaitVerdict runs verify until its report matches v, for at most within (a fault takes
// effect asynchronously: a leaf reconnects, a hub elects a new meta leader). It fails the test
// with the last mismatch, and returns the matching report with each run's duration.
func awaitVerdict(t *testing.T, ctx context.Context, env *labtest.Env, v verdict, within time.Duration) (verify.Report, time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := newSession(t, env, plan.Options{})
		start := time.Now()
		rep := s.verify(ctx)
		took := time.Since(start)
		ok, why := v.holds(rep)
		if ok {
			for _, r := range rep.Failed() {
				t.Logf("FAIL %s %s: %s", r.Check, r.Host, r.Evidence)
				if r.Fix == "" && !slices.ContainsFunc(v.flaky, func(c checkAt) bool { return c.matches(r) }) {
					t.Errorf("%s@%s fails without saying what to do", r.Check, r.Host)
				}
			}
			t.Logf("verify took %s: %d checks, %d failed as expected", took.Round(time.Millisecond), len(rep.Results), len(rep.Failed()))
			return rep, took
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("verify does not name the fault after %s:\n%s", within, why)
		}
		time.Sleep(2 * time.Second)
	}
}

// resultFor returns the result of check on host, failing the test if there is none.
func resultFor(t *testing.T, rep verify.Report, check, host string) verify.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Check == check && r.Host == host {
			return r
		}
	}
	t.Fatalf("no %s result for %q", check, host)
	return verify.Result{}
}

// evidenceHas fails the test unless the result of check on host says each of subs.
func evidenceHas(t *testing.T, rep verify.Report, check, host string, subs ...string) {
	t.Helper()
	r := resultFor(t, rep, check, host)
	for _, s := range subs {
		if !strings.Contains(r.Evidence, s) {
			t.Errorf("%s@%s evidence %q does not say %q", check, host, r.Evidence, s)
		}
	}
}

// labSh runs a shell script on a lab host, as root, outside latticepush.
func labSh(t *testing.T, ctx context.Context, env *labtest.Env, host, script string) string {
	t.Helper()
	out, err := env.Lab.Exec(ctx, host, "/bin/sh", "-ec", script)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// repairLab is the operator's repair: a fresh plan and apply from the inventory, then a
// verification in which every check passes (waited for, briefly, while leaves reconnect).
func repairLab(t *testing.T, ctx context.Context, env *labtest.Env) {
	t.Helper()
	s := newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	t.Logf("repair plan: %s", p.Summary())
	if res, err := s.apply(ctx, p); err != nil {
		t.Fatalf("repair apply: %v\nresults: %v", err, results(res))
	}
	rep, _ := awaitVerdict(t, ctx, env, verdict{}, time.Minute)
	t.Logf("repaired: all %d checks pass", len(rep.Results))
}

// TestVerify_Lab is issue 7's acceptance on one lab: every check passes on a lattice applied
// from empty, and each fault is named by the right checks on the right hosts while the
// unrelated checks keep passing. Each phase repairs the lattice with plan and apply before the
// next.
func TestVerify_Lab(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	inv := env.Inventory(t)
	// phase runs one fault; when it fails, the lattice is repaired for the next one.
	phase := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.Run(name+" (repair after failure)", func(t *testing.T) { repairLab(t, ctx, env) })
		}
	}

	healthy := t.Run("healthy lattice passes every check", func(t *testing.T) {
		s := newSession(t, env, plan.Options{})
		if res, err := s.apply(ctx, s.plan(ctx)); err != nil {
			t.Fatalf("apply from empty: %v\nresults: %v", err, results(res))
		}
		rep, _ := awaitVerdict(t, ctx, env, verdict{}, 30*time.Second)
		// Every check runs: the one per lattice, and the others once per host of its role.
		want := map[string]int{verify.CheckHubPeersCurrent: 1, verify.CheckDomainProbeBucket: 1, verify.CheckWasmcloudMembership: 1}
		for _, c := range []string{verify.CheckHubHealthz, verify.CheckHubMetaLeader, verify.CheckHubRoutes, verify.CheckHubDomain} {
			want[c] = len(inv.Hubs())
		}
		for _, c := range []string{verify.CheckLeafRemote, verify.CheckLeafSeenByHub, verify.CheckDomainReach,
			verify.CheckDomainHubAnswers, verify.CheckHygieneDomain, verify.CheckHygieneStrayBucket} {
			want[c] = len(inv.HostsWithRole(inventory.RoleLeaf))
		}
		for _, c := range []string{verify.CheckWasmcloudHostGet, verify.CheckWasmcloudPing} {
			want[c] = len(inv.HostsWithRole(inventory.RoleWasmcloud))
		}
		got := map[string]int{}
		for _, r := range rep.Results {
			got[r.Check]++
		}
		for c, n := range want {
			if got[c] != n {
				t.Errorf("%s: %d results, want %d", c, got[c], n)
			}
		}
		evidenceHas(t, rep, verify.CheckDomainHubAnswers, "edge-1", `cluster "hub"`)
		t.Logf("healthy lattice: %d checks passed", len(rep.Results))
	})
	if !healthy {
		t.FailNow()
	}

	phase("leaf link cut", func(t *testing.T) {
		// The leaf keeps running and its host stays reachable; only its remote points nowhere.
		labSh(t, ctx, env, "edge-1", `sed -i 's/:7422"/:7499"/' /etc/nats/nats-server.conf && sv hup /etc/service/nats-server`)
		rep, _ := awaitVerdict(t, ctx, env, verdict{fail: []checkAt{
			{verify.CheckLeafRemote, "edge-1"}, {verify.CheckLeafSeenByHub, "edge-1"},
			{verify.CheckDomainReach, "edge-1"}, {verify.CheckDomainHubAnswers, "edge-1"},
			// The wasmCloud host on the leaf is cut off from the lattice with it.
			{verify.CheckWasmcloudHostGet, "edge-1"}, {verify.CheckWasmcloudPing, "edge-1"}, {verify.CheckWasmcloudMembership, ""},
		}}, time.Minute)
		evidenceHas(t, rep, verify.CheckLeafRemote, "edge-1", "no leaf remote connected")
		evidenceHas(t, rep, verify.CheckLeafSeenByHub, "edge-1", "in no hub's /leafz")
		evidenceHas(t, rep, verify.CheckDomainReach, "edge-1", `domain "hub" not reachable`)
		evidenceHas(t, rep, verify.CheckWasmcloudMembership, "", "missing: edge-1")
		repairLab(t, ctx, env)
	})

	phase("leaf given the hub's own domain", func(t *testing.T) {
		labSh(t, ctx, env, "edge-2", `printf '\njetstream { domain: hub, store_dir: "/var/lib/nats/rogue" }\n' >> /etc/nats/nats-server.conf
sv -w 60 restart /etc/service/nats-server`)
		rep, _ := awaitVerdict(t, ctx, env, verdict{fail: []checkAt{
			{verify.CheckHygieneDomain, "edge-2"}, {verify.CheckDomainHubAnswers, "edge-2"},
			// The round trip reaches the leaf's JetStream, which lacks the hub's probe bucket.
			{verify.CheckDomainReach, "edge-2"},
		}}, time.Minute)
		evidenceHas(t, rep, verify.CheckHygieneDomain, "edge-2", `domain "hub", the hub's`)
		evidenceHas(t, rep, verify.CheckDomainHubAnswers, "edge-2", "lacks the hub's probe bucket")
		repairLab(t, ctx, env)
		labSh(t, ctx, env, "edge-2", `rm -rf /var/lib/nats/rogue`)
	})

	phase("wasmCloud host without WASMCLOUD_JS_DOMAIN next to a JetStream leaf", func(t *testing.T) {
		orig, err := os.ReadFile(env.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer env.Edit(t, func(string) string { return string(orig) })
		env.Edit(t, func(src string) string {
			edge3 := `labels  = { zone = "b" }` + "\n}"
			if !strings.Contains(src, edge3) {
				t.Fatalf("inventory has no edge-3 block ending %q", edge3)
			}
			return strings.Replace(src, edge3, `labels  = { zone = "b" }
  nats {
    jetstream_domain = "edge-3"
    store_dir        = "/var/lib/nats"
  }
}`, 1)
		})
		// A leaf with a JetStream domain of its own is healthy.
		s := newSession(t, env, plan.Options{})
		if res, err := s.apply(ctx, s.plan(ctx)); err != nil {
			t.Fatalf("apply the leaf's own domain: %v\nresults: %v", err, results(res))
		}
		rep, _ := awaitVerdict(t, ctx, env, verdict{}, 30*time.Second)
		evidenceHas(t, rep, verify.CheckHygieneDomain, "edge-3", `its own domain "edge-3"`)

		// Started without a domain, the host makes its lattice buckets in the leaf's JetStream.
		labSh(t, ctx, env, "edge-3", `sed -i '/^WASMCLOUD_JS_DOMAIN=/d' /etc/wasmcloud/wasmcloud.env
sv -w 30 restart /etc/service/wasmcloud`)
		rep, _ = awaitVerdict(t, ctx, env, verdict{fail: []checkAt{
			{verify.CheckHygieneStrayBucket, "edge-3"}, {verify.CheckWasmcloudPing, "edge-3"},
		}}, time.Minute)
		evidenceHas(t, rep, verify.CheckHygieneStrayBucket, "edge-3", "KV_LATTICEDATA_"+inv.Lattice.Name)
		evidenceHas(t, rep, verify.CheckWasmcloudPing, "edge-3", `js_domain "", want "hub"`)
		if fix := resultFor(t, rep, verify.CheckHygieneStrayBucket, "edge-3").Fix; !strings.HasPrefix(fix, "first delete the stray stream") {
			t.Errorf("stray-bucket fix %q: apply's gate refuses the host until the streams are gone, so deleting them comes first", fix)
		}

		// The check's fix, in its order: delete the stray streams from the leaf's own
		// JetStream, then apply (its wasmCloud gate refuses the host while they exist).
		js, err := jetstream.New(clientOn(t, ctx, newSession(t, env, plan.Options{}), "edge-3"))
		if err != nil {
			t.Fatal(err)
		}
		for _, stream := range []string{"KV_LATTICEDATA_" + inv.Lattice.Name, "KV_CONFIGDATA_" + inv.Lattice.Name} {
			if err := js.DeleteStream(ctx, stream); err != nil {
				t.Fatalf("delete %s from edge-3's JetStream: %v", stream, err)
			}
		}
		repairLab(t, ctx, env)

		// Back to the lab's inventory: the leaf runs no JetStream.
		env.Edit(t, func(string) string { return string(orig) })
		repairLab(t, ctx, env)
		labSh(t, ctx, env, "edge-3", `rm -rf /var/lib/nats/jetstream`)
	})

	phase("hub node stopped", func(t *testing.T) {
		labSh(t, ctx, env, "hub-2", `sv -w 60 down /etc/service/nats-server`)
		rep, _ := awaitVerdict(t, ctx, env, verdict{fail: []checkAt{
			{verify.CheckHubHealthz, "hub-2"}, {verify.CheckHubMetaLeader, "hub-2"}, {verify.CheckHubDomain, "hub-2"},
			{verify.CheckHubRouteAuth, "hub-2"}, {verify.CheckHubRoutes, "hub-1"}, {verify.CheckHubRoutes, "hub-2"}, {verify.CheckHubRoutes, "hub-3"},
			{verify.CheckHubPeersCurrent, "*"}, {verify.CheckHubStreams, "*"},
		}}, 90*time.Second)
		hub2 := inv.Host("hub-2").Hub.ServerName
		evidenceHas(t, rep, verify.CheckHubHealthz, "hub-2", "GET /healthz on hub-2")
		evidenceHas(t, rep, verify.CheckHubRouteAuth, "hub-2", "cluster port")
		evidenceHas(t, rep, verify.CheckHubRoutes, "hub-1", "missing "+hub2)
		evidenceHas(t, rep, verify.CheckHubRoutes, "hub-3", "missing "+hub2)
		for _, r := range rep.Results {
			if r.Check == verify.CheckHubPeersCurrent && !strings.Contains(r.Evidence, hub2+" offline") {
				t.Errorf("%s@%s does not name %s offline: %s", r.Check, r.Host, hub2, r.Evidence)
			}
			if r.Check == verify.CheckHubStreams && !strings.Contains(r.Evidence, "the replica on "+hub2+" not current") {
				t.Errorf("%s@%s does not name %s's replicas behind: %s", r.Check, r.Host, hub2, r.Evidence)
			}
		}
		repairLab(t, ctx, env)
	})

	phase("wasmCloud host stopped", func(t *testing.T) {
		labSh(t, ctx, env, "edge-2", `sv -w 30 down /etc/service/wasmcloud`)
		rep, _ := awaitVerdict(t, ctx, env, verdict{fail: []checkAt{
			{verify.CheckWasmcloudHostGet, "edge-2"}, {verify.CheckWasmcloudPing, "edge-2"}, {verify.CheckWasmcloudMembership, ""},
		}}, 30*time.Second)
		evidenceHas(t, rep, verify.CheckWasmcloudPing, "edge-2", "did not answer the ping")
		evidenceHas(t, rep, verify.CheckWasmcloudMembership, "", "missing: edge-2")
		repairLab(t, ctx, env)
	})

	phase("host unreachable over SSH", func(t *testing.T) {
		if err := env.Lab.LinkDown("edge-1"); err != nil {
			t.Fatal(err)
		}
		linkUp := func() {
			if err := env.Lab.LinkUp("edge-1"); err != nil {
				t.Fatal(err)
			}
		}
		defer linkUp()
		// The checks made through the host's own SSH connection.
		onHost := []checkAt{
			{verify.CheckLeafRemote, "edge-1"}, {verify.CheckDomainReach, "edge-1"},
			{verify.CheckHygieneDomain, "edge-1"}, {verify.CheckHygieneStrayBucket, "edge-1"},
		}
		rep, took := awaitVerdict(t, ctx, env, verdict{
			fail: append(slices.Clone(onHost), checkAt{verify.CheckDomainHubAnswers, "edge-1"},
				// Asked from the hub side: the host's leaf is gone with it.
				checkAt{verify.CheckWasmcloudHostGet, "edge-1"}, checkAt{verify.CheckWasmcloudPing, "edge-1"},
				checkAt{verify.CheckWasmcloudMembership, ""}),
			// The hubs list the leaf until their pings notice the dead connection.
			flaky: []checkAt{{verify.CheckLeafSeenByHub, "edge-1"}},
		}, 2*time.Minute)
		for _, c := range onHost {
			if r := resultFor(t, rep, c.check, c.host); !strings.HasPrefix(r.Evidence, "unreachable: ") {
				t.Errorf("%s: evidence %q, want the SSH error", c, r.Evidence)
			}
		}
		t.Logf("verify with edge-1 unreachable (SSH connect included): %s", took.Round(time.Millisecond))
		linkUp()
		repairLab(t, ctx, env)
	})
}
