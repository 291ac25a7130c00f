package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
	"github.com/latticepush/latticepush/wasmcloud"
)

const (
	ownBucket  = "DOMAINTEST"
	mirrorName = "DOMAINTEST_MIRROR"
)

// toCentral moves the lab lattice's domain from "hub" to "central", keeping "hub" answering
// on the hubs through the alias.
func toCentral(src string) string {
	return strings.Replace(src, `js_domain = "hub"`, "js_domain = \"central\"\n  previous_js_domain = \"hub\"", 1)
}

// TestDomainChange_CutoverKeepsEveryKey is the flagship flow (issue 9): a lattice on
// domain "hub" with data in LATTICEDATA_default and in a bucket of its own, and a client on a
// leaf that keeps writing and reading through "hub", is moved to "central". plan refuses
// without -allow-domain-change and lists the live consequences (a mirror storing $JS.hub.API);
// apply stops every hub, starts every hub, and rolls the wasmCloud hosts. Afterwards every
// key is there through "central", the old-domain client failed only while the hubs were
// down, every host reports js_domain central and verify passes, naming the mirror that still
// copies through the old domain (a warning while the alias serves it); once it is recreated on
// the new prefix, removing the alias passes verify again and the old domain stops answering.
// On runit and on systemd hosts: the cutover stops and starts every hub through the service
// manager at once.
func TestDomainChange_CutoverKeepsEveryKey(t *testing.T) {
	for _, init := range labtest.Inits {
		t.Run(init, func(t *testing.T) { testCutoverKeepsEveryKey(t, init) })
	}
}

func testCutoverKeepsEveryKey(t *testing.T, init string) {
	env := labtest.Up(t, labtest.Spec{Init: init})
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply from empty: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}

	// Data through a leaf, on the domain "hub".
	writer := clientOn(t, ctx, s, "edge-1")
	putKeys(t, ctx, kvOn(t, ctx, writer, "hub", "LATTICEDATA_default", false))
	putKeys(t, ctx, kvOn(t, ctx, writer, "hub", ownBucket, true))
	// A stream that stores the old API prefix: the live scan must name it.
	hub, err := s.Fleet.ConnectHub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	hubJS, _ := jetstream.New(hub)
	if _, err := hubJS.CreateStream(ctx, jetstream.StreamConfig{Name: mirrorName, Replicas: 1,
		Mirror: &jetstream.StreamSource{Name: "KV_" + ownBucket, External: &jetstream.ExternalStream{APIPrefix: "$JS.hub.API"}}}); err != nil {
		t.Fatalf("mirror through $JS.hub.API: %v", err)
	}

	// A client on another leaf that stays on the old domain through the whole change.
	old := startOldDomainClient(t, kvOn(t, ctx, clientOn(t, ctx, s, "edge-2"), "hub", ownBucket, false))
	time.Sleep(time.Second)

	env.Edit(t, toCentral)
	s = newSession(t, env, plan.Options{})
	if _, err := s.Plan(ctx); err == nil || !strings.Contains(err.Error(), "-allow-domain-change") || !strings.Contains(err.Error(), mirrorName) {
		t.Fatalf("plan without -allow-domain-change: %v; want a refusal naming %s", err, mirrorName)
	}
	s.Opts.AllowDomainChange = true
	p, err := s.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Cutover == nil || p.Cutover.From != "hub" || p.Cutover.To != "central" || !p.Cutover.Alias || p.Waves[0].Name != "cutover" {
		t.Fatalf("plan: cutover %+v, waves %+v", p.Cutover, p.Waves)
	}
	t.Logf("consequences:\n  %s", strings.Join(p.Cutover.Consequences, "\n  "))
	if !strings.Contains(strings.Join(p.Cutover.Consequences, "\n"), "stream "+mirrorName+` in domain "hub" (via hub-1) mirrors KV_`+ownBucket) {
		t.Errorf("the consequences do not name the mirror")
	}

	res, err := s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("apply the cutover: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	for _, e := range s.events {
		if e.Type == "warning" {
			t.Errorf("apply warned: %s", e.Message)
		}
	}
	old.halt()
	stopped := eventTime(t, s.events, "hub stop", func(e rollout.Event) bool { return strings.HasPrefix(e.Message, "stopping every hub node") })
	aliasOK := eventTime(t, s.events, "after the cutover", func(e rollout.Event) bool { return e.Phase == "buckets" })
	outage, from, to := old.longestOutage()
	t.Logf("old-domain client: %d operations, %d failed, longest outage %.1fs (%.1fs to %.1fs after the hubs began to stop); "+
		"hub cutover window %.1fs (stop of every hub to the alias proven through every leaf)",
		old.ops, len(old.errs), outage.Seconds(), from.Sub(stopped).Seconds(), to.Sub(stopped).Seconds(), aliasOK.Sub(stopped).Seconds())
	if len(old.errs) == 0 {
		t.Errorf("the old-domain client never failed: the hubs did not restart?")
	}
	for i, e := range old.errs {
		// An operation is judged by when it began. After a full-cluster restart a stream's
		// leader can still be re-elected in the first seconds after quorum: an operation begun
		// then may time out (one begun 1.75 s after the proof did, once in ten runs).
		if b := old.began[i]; e.Before(stopped) || b.After(aliasOK.Add(2*time.Second)) {
			t.Errorf("old-domain client: an operation begun at %s failed at %s, outside the hub cutover window (%s to %s): %v",
				b.Format("15:04:05.000"), e.Format("15:04:05.000"), stopped.Format("15:04:05.000"), aliasOK.Format("15:04:05.000"), old.why[i])
		}
	}

	// Every key, through "central", from a third leaf.
	reader := clientOn(t, ctx, s, "edge-3")
	checkKeys(t, ctx, kvOn(t, ctx, reader, "central", "LATTICEDATA_default", false))
	checkKeys(t, ctx, kvOn(t, ctx, reader, "central", ownBucket, false))

	// Every wasmCloud stand-in, asked from the hub side, runs on "central".
	hub.Close()
	if hub, err = s.Fleet.ConnectHub(ctx); err != nil {
		t.Fatal(err)
	}
	wc, err := wasmcloud.NewClient(hub, s.Inv.Lattice.Name)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := wc.Ping(ctx, nil, 2*time.Second)
	if err != nil || len(hosts) != 3 {
		t.Fatalf("ping: %d hosts, %v", len(hosts), err)
	}
	for _, h := range hosts {
		if h.JSDomain != "central" {
			t.Errorf("wasmCloud host %s (%s): js_domain %q, want central", h.FriendlyName, h.Labels["hostname"], h.JSDomain)
		}
	}
	// Who still uses the old domain: apply's final verify names the mirror (a warning while
	// the alias serves it); repointed, it is named no more.
	t.Logf("apply's verify: %s", res.Verify)
	if !strings.Contains(res.Verify, "warning: previous-domain.streams: stream "+mirrorName) {
		t.Errorf("apply's report does not name the mirror still on the old domain: %s", res.Verify)
	}
	rep := s.verify(ctx)
	if !rep.OK() {
		t.Fatalf("verify after the cutover: %v", rep.Failed())
	}
	if w := rep.Warnings(); len(w) != 1 || w[0].Check != verify.CheckPreviousStreams || !strings.Contains(w[0].Evidence, mirrorName) {
		t.Errorf("warnings after the cutover: %+v, want the mirror only", w)
	}
	hubJS, _ = jetstream.New(hub)
	if err := hubJS.DeleteStream(ctx, mirrorName); err != nil {
		t.Fatal(err)
	}
	if _, err := hubJS.CreateStream(ctx, jetstream.StreamConfig{Name: mirrorName, Replicas: 1,
		Mirror: &jetstream.StreamSource{Name: "KV_" + ownBucket, External: &jetstream.ExternalStream{APIPrefix: "$JS.central.API"}}}); err != nil {
		t.Fatalf("mirror through $JS.central.API: %v", err)
	}
	// Creating the stream is a meta-layer change that a peer may not have applied yet when
	// verify asks (hub.peers-current: lag 1): give the cluster a few seconds to settle.
	rep = s.verify(ctx)
	for settle := time.Now().Add(10 * time.Second); (!rep.OK() || len(rep.Warnings()) > 0) && time.Now().Before(settle); {
		time.Sleep(500 * time.Millisecond)
		rep = s.verify(ctx)
	}
	if !rep.OK() || len(rep.Warnings()) > 0 {
		t.Fatalf("verify after repointing the mirror: failed %+v, warnings %+v", rep.Failed(), rep.Warnings())
	}
	if p := s.plan(ctx); p.HasChanges() || p.Cutover != nil {
		t.Errorf("the plan after the cutover is not empty: %s", p.Summary())
	}

	// Removing the alias: the hubs reload without the mappings, verify still passes, and the
	// old domain answers no more.
	env.Edit(t, func(src string) string {
		return strings.Replace(src, `previous_js_domain = "hub"`, "previous_js_domain = \"hub\"\n  alias_old_domain = false", 1)
	})
	s = newSession(t, env, plan.Options{})
	p = s.plan(ctx)
	if p.Cutover != nil || !p.HasChanges() {
		t.Fatalf("alias removal plan: %s, cutover %+v", p.Summary(), p.Cutover)
	}
	for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
		t.Logf("alias removal: %s %s %v", h, actions(p)[h+"/nats-server"], p.Unit(h+"/nats-server").Reasons)
	}
	if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
		t.Fatalf("apply the alias removal: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	if rep := s.verify(ctx); !rep.OK() {
		t.Fatalf("verify after the alias removal: %v", rep.Failed())
	}
	late := clientOn(t, ctx, s, "edge-1")
	js, _ := jetstream.NewWithDomain(late, "hub")
	actx, acancel := context.WithTimeout(ctx, 3*time.Second)
	defer acancel()
	if ai, err := js.AccountInfo(actx); err == nil {
		t.Errorf("the old domain still answers after the alias was removed: %+v", ai)
	} else {
		t.Logf("old domain after the alias removal: %v", err)
	}
}
