package verify

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/inventory"
)

var fast = Options{Timeout: 2 * time.Second, PingWait: 500 * time.Millisecond, GateTimeout: 15 * time.Second}

// TestVerify runs every scenario against one in-process lattice (forming a JetStream cluster
// costs seconds); scenarios that break something repair it or run last.
func TestVerify(t *testing.T) {
	lat := startHubs(t, 3)
	lat.startLeaf(leafSpec{name: "edge-1"})
	lat.startLeaf(leafSpec{name: "edge-2", domain: "edge-2"})
	ctx := context.Background()

	t.Run("HealthyLatticePasses", func(t *testing.T) {
		inv := lat.inventory("edge-1", "edge-2")
		// A leaf with JetStream of its own answers for the hub's domain only once interest
		// has crossed its link, a moment after the link is up (longer on a loaded machine):
		// judge after settling, as apply does.
		rep := Run(ctx, inv, targets(inv), fast)
		for deadline := time.Now().Add(20 * time.Second); !rep.OK() && time.Now().Before(deadline); {
			time.Sleep(250 * time.Millisecond)
			rep = Run(ctx, inv, targets(inv), fast)
		}
		logReport(t, rep)
		for _, r := range rep.Failed() {
			t.Errorf("%s on %q failed: %s", r.Check, r.Host, r.Evidence)
		}
		if !rep.OK() {
			t.Fatal("report not OK on a healthy lattice")
		}
		for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
			for _, c := range []string{CheckHubHealthz, CheckHubMetaLeader, CheckHubRoutes, CheckHubDomain} {
				find(t, rep, c, h)
			}
		}
		for _, l := range []string{"edge-1", "edge-2"} {
			for _, c := range []string{CheckLeafRemote, CheckLeafSeenByHub, CheckDomainReach, CheckDomainHubAnswers, CheckHygieneDomain, CheckHygieneStrayBucket} {
				find(t, rep, c, l)
			}
		}
		if r := find(t, rep, CheckDomainHubAnswers, "edge-1"); !strings.Contains(r.Evidence, `cluster "hub"`) {
			t.Errorf("proof evidence does not name the hub cluster: %s", r.Evidence)
		}
		if r := find(t, rep, CheckHubRoutes, "hub-1"); !strings.Contains(r.Evidence, "hub-2, hub-3") {
			t.Errorf("routes evidence: %s", r.Evidence)
		}
	})

	t.Run("LeafWithWrongPasswordFailsLinkAndReach", func(t *testing.T) {
		nd := lat.startLeaf(leafSpec{name: "edge-bad", password: "wrong"})
		defer lat.stop("edge-bad")
		inv := lat.inventory("edge-1", "edge-bad")
		rep := Run(ctx, inv, targets(inv), fast)
		logReport(t, rep)
		wantFailed(t, rep, "edge-bad", CheckLeafRemote, CheckLeafSeenByHub, CheckDomainReach)
		wantOnlyFailuresOn(t, rep, "edge-bad")
		if nd.srv.NumLeafNodes() != 0 {
			t.Fatal("test setup: the leaf with a wrong password is linked")
		}
	})

	t.Run("LeafWithHubDomainIsCaught", func(t *testing.T) {
		lat.startLeaf(leafSpec{name: "edge-thief", domain: testDomain})
		defer lat.stop("edge-thief")
		inv := lat.inventory("edge-1", "edge-thief")
		rep := Run(ctx, inv, targets(inv), fast)
		logReport(t, rep)
		wantFailed(t, rep, "edge-thief", CheckHygieneDomain, CheckDomainHubAnswers, CheckDomainReach)
		wantOnlyFailuresOn(t, rep, "edge-thief")
	})

	t.Run("StrayLatticeBucketOnLeaf", func(t *testing.T) {
		// What a wasmCloud host without WASMCLOUD_JS_DOMAIN leaves in its leaf's own JetStream.
		nc := connectTo(t, lat.nodes["edge-2"].host)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LATTICEDATA_" + testLattice})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = js.DeleteKeyValue(ctx, kv.Bucket()) }()
		inv := lat.inventory("edge-1", "edge-2")
		rep := Run(ctx, inv, targets(inv), fast)
		logReport(t, rep)
		r := wantFailed(t, rep, "edge-2", CheckHygieneStrayBucket)[0]
		if !strings.Contains(r.Evidence, "KV_LATTICEDATA_default") {
			t.Errorf("evidence does not name the stream: %s", r.Evidence)
		}
		wantOnlyFailuresOn(t, rep, "edge-2")
	})

	t.Run("PlaintextLinksFailTLSChecks", func(t *testing.T) {
		// The inventory says TLS; the lattice runs plaintext (as after a tls block was added
		// and not applied).
		inv := lat.inventory("edge-1")
		inv.Lattice.TLS = &inventory.TLS{Managed: true, Validity: inventory.DefaultCertValidity}
		rep := Run(ctx, inv, targets(inv), fast)
		for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
			r := find(t, rep, CheckHubTLS, h)
			if r.OK || !strings.Contains(r.Evidence, "plaintext: cluster port (tls_required false, tls_verify false), leafnode port (tls_required false), client port (no certificate)") || r.Fix == "" {
				t.Errorf("%s on %s: %+v", CheckHubTLS, h, r)
			}
		}
		r := find(t, rep, CheckLeafTLS, "edge-1")
		if r.OK || !strings.Contains(r.Evidence, "whose leafnode port does not require TLS: the link is plaintext") {
			t.Errorf("%s on edge-1: %+v", CheckLeafTLS, r)
		}
	})

	t.Run("UnreachableHostsFailFast", func(t *testing.T) {
		inv := lat.inventory("edge-1", "edge-2")
		ts := targets(inv)
		refused := errors.New("ssh: connect to host hub-2 port 22: connection refused")
		for i := range ts {
			switch ts[i].Host.Name {
			case "hub-2":
				ts[i].Dial = func(context.Context, string, string) (net.Conn, error) { return nil, refused }
			case "edge-1":
				ts[i].Err = errors.New("ssh: handshake failed")
			case "edge-2": // a black hole: only the step timeout ends the dial
				ts[i].Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				}
			}
		}
		opts := fast
		opts.Timeout = 300 * time.Millisecond
		rep := Run(ctx, inv, ts, opts)
		logReport(t, rep)
		for _, r := range wantFailed(t, rep, "hub-2", CheckHubHealthz, CheckHubDomain, CheckHubRoutes, CheckHubMetaLeader) {
			if !strings.Contains(r.Evidence, "connection refused") {
				t.Errorf("%s on hub-2: evidence lacks the dial error: %s", r.Check, r.Evidence)
			}
		}
		for _, r := range wantFailed(t, rep, "edge-1", CheckLeafRemote, CheckDomainReach, CheckHygieneDomain, CheckHygieneStrayBucket) {
			if !strings.Contains(r.Evidence, "handshake failed") {
				t.Errorf("%s on edge-1: evidence lacks the SSH error: %s", r.Check, r.Evidence)
			}
		}
		for _, r := range wantFailed(t, rep, "edge-2", CheckLeafRemote, CheckDomainReach, CheckHygieneDomain) {
			if !strings.Contains(r.Evidence, "deadline exceeded") && !strings.Contains(r.Evidence, "timeout") {
				t.Errorf("%s on edge-2: evidence lacks the timeout: %s", r.Check, r.Evidence)
			}
		}
		find(t, rep, CheckHubHealthz, "hub-1") // other hosts are still checked
		if !find(t, rep, CheckHubHealthz, "hub-1").OK {
			t.Error("hub-1 healthz failed although hub-1 is reachable")
		}
	})

	t.Run("Gates", func(t *testing.T) {
		inv := lat.inventory("edge-1", "edge-2")
		if res, err := HubNodeGate(ctx, inv, targets(inv), "hub-2", fast); err != nil {
			t.Errorf("hub gate on a healthy cluster: %v (%d results)", err, len(res))
		}
		if _, err := LeafGate(ctx, inv, targets(inv), "edge-2", fast); err != nil {
			t.Errorf("leaf gate on a linked leaf: %v", err)
		}
		var gerr *GateError
		if _, err := LeafGate(ctx, inv, targets(inv), "hub-1", fast); !errors.As(err, &gerr) || gerr.Cause == nil {
			t.Errorf("leaf gate on a hub: want a GateError with a cause, got %v", err)
		}
	})

	t.Run("LeafGateWaitsForTheLink", func(t *testing.T) {
		lat.startLeaf(leafSpec{name: "edge-late"})
		inv := lat.inventory("edge-late")
		lat.stop("edge-late")
		// Start the leaf again a little later on the same ports: the gate polls until it is linked.
		restarted := make(chan *server.Server, 1)
		go func() {
			time.Sleep(500 * time.Millisecond)
			srv, err := lat.restart("edge-late")
			if err != nil {
				t.Errorf("restart edge-late: %v", err)
			}
			restarted <- srv
		}()
		defer func() {
			if srv := <-restarted; srv != nil {
				srv.Shutdown()
			}
		}()
		res, err := LeafGate(ctx, inv, targets(inv), "edge-late", fast)
		if err != nil {
			t.Fatalf("leaf gate: %v", err)
		}
		if len(res) != 4 || !allOK(res) {
			t.Fatalf("leaf gate results: %+v", res)
		}
	})

	t.Run("GateTimesOutNamingTheFailure", func(t *testing.T) {
		lat.startLeaf(leafSpec{name: "edge-bad2", password: "wrong"})
		defer lat.stop("edge-bad2")
		inv := lat.inventory("edge-bad2")
		opts := fast
		opts.GateTimeout = 800 * time.Millisecond
		_, err := LeafGate(ctx, inv, targets(inv), "edge-bad2", opts)
		var gerr *GateError
		if !errors.As(err, &gerr) {
			t.Fatalf("want a GateError, got %v", err)
		}
		if !strings.Contains(err.Error(), CheckLeafRemote+" on edge-bad2") {
			t.Errorf("gate error does not name the failing check: %v", err)
		}
	})

	t.Run("Wasmcloud", func(t *testing.T) { wasmcloudScenarios(t, lat) })

	// Destructive: last.
	t.Run("HubNodeStopped", func(t *testing.T) {
		lat.stop("hub-3")
		inv := lat.inventory("edge-1", "edge-2")
		rep := Run(ctx, inv, targets(inv), fast)
		logReport(t, rep)
		wantFailed(t, rep, "hub-3", CheckHubHealthz, CheckHubDomain, CheckHubRoutes, CheckHubMetaLeader)
		for _, h := range []string{"hub-1", "hub-2"} {
			if r := find(t, rep, CheckHubRoutes, h); r.OK || !strings.Contains(r.Evidence, "missing hub-3") {
				t.Errorf("routes on %s: want failure naming hub-3, got %+v", h, r)
			}
		}
		opts := fast
		opts.GateTimeout = 500 * time.Millisecond
		_, err := HubNodeGate(ctx, inv, targets(inv), "hub-1", opts)
		if err == nil || !strings.Contains(err.Error(), "hub.healthz on hub-3") {
			t.Errorf("hub gate with hub-3 down: %v", err)
		}
	})

	// hub-3, stopped above, as the old name of a node renamed in place: no hub of the
	// inventory, still a member of the meta group. A gate told that the name is leaving
	// counts it out; one not told fails on the group's size.
	t.Run("LeavingNameCountedOut", func(t *testing.T) {
		inv := lat.inventory("edge-1", "edge-2")
		inv.Hosts = slices.DeleteFunc(inv.Hosts, func(h *inventory.Host) bool { return h.Name == "hub-3" })
		opts := fast
		opts.GateTimeout = 2 * time.Second
		_, err := HubNodeGate(ctx, inv, targets(inv), "hub-1", opts)
		if err == nil || !strings.Contains(err.Error(), "cluster size 3") || !strings.Contains(err.Error(), "inventory has 2 hubs") {
			t.Errorf("hub gate with a member out of the inventory: %v, want a failure on the group's size", err)
		}
		opts.Leaving = []string{"hub-3"}
		res, err := HubNodeGate(ctx, inv, targets(inv), "hub-1", opts)
		if err != nil {
			t.Fatalf("hub gate with hub-3 leaving: %v", err)
		}
		for _, r := range res {
			if r.Check == CheckHubPeersCurrent && !strings.Contains(r.Evidence, "hub-3 leaving (a renamed node's old name)") {
				t.Errorf("peers evidence %q does not name hub-3 as leaving", r.Evidence)
			}
		}
	})
}

// logReport shows every result under -v.
func logReport(t *testing.T, rep Report) {
	t.Helper()
	for _, r := range rep.Results {
		mark := "ok  "
		if !r.OK {
			mark = "FAIL"
		}
		t.Logf("%s %-24s %-10s %s", mark, r.Check, r.Host, r.Evidence)
	}
}

// find returns the result of check on host, failing the test if there is none.
func find(t *testing.T, rep Report, check, host string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Check == check && r.Host == host {
			return r
		}
	}
	t.Fatalf("no %s result for %q", check, host)
	return Result{}
}

// wantFailed asserts that each check failed on host, with a fix, and returns those results.
func wantFailed(t *testing.T, rep Report, host string, checks ...string) []Result {
	t.Helper()
	var out []Result
	for _, c := range checks {
		r := find(t, rep, c, host)
		if r.OK {
			t.Errorf("%s on %s passed, want failure: %s", c, host, r.Evidence)
		} else if r.Fix == "" {
			t.Errorf("%s on %s failed without a fix", c, host)
		}
		out = append(out, r)
	}
	if rep.OK() {
		t.Error("report OK despite failures")
	}
	return out
}

// wantOnlyFailuresOn asserts that every failing result is about host.
func wantOnlyFailuresOn(t *testing.T, rep Report, host string) {
	t.Helper()
	for _, r := range rep.Failed() {
		if r.Host != host {
			t.Errorf("unexpected failure %s on %q: %s", r.Check, r.Host, r.Evidence)
		}
	}
}

func connectTo(t *testing.T, h *inventory.Host, opts ...nats.Option) *nats.Conn {
	t.Helper()
	n := h.NATS()
	nc, err := nats.Connect("nats://"+n.LocalClientAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
