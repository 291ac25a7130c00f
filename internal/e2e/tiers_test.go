package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify"
	"github.com/latticepush/latticepush/verify/natsmon"
	"github.com/latticepush/latticepush/wasmcloud"
)

// tieredLab brings up examples/tiered (3 hubs, 2 relays, 4 edges with wasmCloud stand-ins)
// with every edge's traffic to the hub addresses dropped inside the edge's own network
// namespace (a blackhole route per hub): the edges can only dial out to the relays.
func tieredLab(t *testing.T, ctx context.Context) *labtest.Env {
	t.Helper()
	return tieredLabEdited(t, nil)
}

// tieredLabEdited is tieredLab with the inventory source changed by edit (nil: unchanged).
func tieredLabEdited(t *testing.T, edit func(string) string) *labtest.Env {
	t.Helper()
	env := labtest.Up(t, labtest.Spec{Example: "tiered", Edit: edit})
	inv := env.Inventory(t)
	var hubs []netip.Addr
	for _, h := range inv.Hubs() {
		hubs = append(hubs, netip.MustParseAddr(h.Address))
	}
	for _, e := range []string{"edge-1", "edge-2", "edge-3", "edge-4"} {
		if err := env.Lab.DropTraffic(e, hubs...); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// TestTiers_ApplyFromEmptyToVerified: the tiered lab, whose edges cannot reach the hubs, goes
// from empty to verified in waves hub, relay, leaf, wasmcloud; verify names each edge's path
// through a relay to a hub; KV through the hub's domain works from every edge; the wasmCloud
// hosts answer the lattice ping from the hub side; an edge's TCP connection to a hub's
// leafnode port fails. The relays move their leafnode port under a KV writer (edges bridged
// first, relays one at a time). Then a relay is killed: the edges on it move to the other relay
// (measured), verify fails on the dead relay and names it (the other relay misses its route
// to it), and apply repairs it.
func TestTiers_ApplyFromEmptyToVerified(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := tieredLab(t, ctx)

	s := newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	var waves []string
	for _, w := range p.Waves {
		waves = append(waves, string(w.Name))
	}
	if want := []string{"hub", "relay", "leaf", "wasmcloud"}; !slices.Equal(waves, want) {
		t.Fatalf("waves of an empty tiered lab: %v, want %v", waves, want)
	}
	start := time.Now()
	res, err := s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	t.Logf("apply from empty: %s", time.Since(start).Round(100*time.Millisecond))
	rep := mustVerify(t, ctx, s)
	paths := 0
	for _, r := range rep.Results {
		if r.Check == verify.CheckDomainPath {
			paths++
			if !strings.HasPrefix(r.Evidence, r.Host+" → relay-") || !strings.Contains(r.Evidence, "→ hub-") {
				t.Errorf("%s: path %q, want %s → relay-N → hub-N", r.Host, r.Evidence, r.Host)
			}
			t.Logf("%s: %s", r.Check, r.Evidence)
		}
	}
	if paths != 4 {
		t.Errorf("%d domain.path results, want one per edge (4)", paths)
	}

	// The edges really cannot reach a hub: a TCP connection to a hub's leafnode port fails.
	hub1 := s.Inv.Host("hub-1")
	probe := fmt.Sprintf("timeout 3 bash -c '</dev/tcp/%s/%d'", hub1.Address, hub1.Hub.LeafnodePort)
	if out, err := env.Lab.Exec(ctx, "edge-1", "bash", "-c", probe); err == nil {
		t.Fatalf("edge-1 reached hub-1's leafnode port: %s", out)
	}
	if out, err := env.Lab.Exec(ctx, "relay-1", "bash", "-c", probe); err != nil {
		t.Fatalf("relay-1 cannot reach hub-1's leafnode port: %v %s", err, out)
	}

	// KV through the hub's domain from every edge: each writes its key, the last reads all.
	edges := []string{"edge-1", "edge-2", "edge-3", "edge-4"}
	kv := kvOn(t, ctx, clientOn(t, ctx, s, "edge-1"), "hub", "tiers", true)
	for _, e := range edges {
		ekv := kvOn(t, ctx, clientOn(t, ctx, s, e), "hub", "tiers", false)
		if _, err := ekv.PutString(ctx, e, "written on "+e); err != nil {
			t.Fatalf("KV put from %s: %v", e, err)
		}
	}
	for _, e := range edges {
		if v, err := kv.Get(ctx, e); err != nil || string(v.Value()) != "written on "+e {
			t.Errorf("key %s read from edge-1: %v", e, err)
		}
	}

	// Every wasmCloud host answers the lattice ping asked on a hub.
	hub, err := s.Fleet.ConnectHub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	wc, err := wasmcloud.NewClient(hub, s.Inv.Lattice.Name)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := wc.Ping(ctx, nil, 2*time.Second)
	if err != nil || len(hosts) != 4 {
		t.Fatalf("ping from the hub side: %d hosts, %v", len(hosts), err)
	}
	for _, h := range hosts {
		if h.JSDomain != "hub" {
			t.Errorf("wasmCloud host %s: js_domain %q, want hub", h.Labels["hostname"], h.JSDomain)
		}
	}

	// Both relays move their leafnode port: the edges first reload a bridge config listing
	// the relays' current and new listeners, the relays restart one at a time, each gated on
	// every running edge below it linked again, and the edges drop the old listeners; all under
	// a KV writer on an edge.
	env.Edit(t, func(src string) string {
		return strings.Replace(src, "    leafnode_port          = 7422\n", "    leafnode_port          = 7423\n", 1)
	})
	s = newSession(t, env, plan.Options{})
	p = s.plan(ctx)
	waves = nil
	for _, w := range p.Waves {
		waves = append(waves, string(w.Name))
	}
	if want := []string{"leaf-bridge", "relay", "leaf"}; !slices.Equal(waves, want) || len(p.Waves[1].Batches) != 2 {
		t.Fatalf("plan of a relay move: waves %v (%+v), want %v with two relay batches", waves, p.Waves, want)
	}
	writer := startOldDomainClient(t, kvOn(t, ctx, clientOn(t, ctx, s, "edge-1"), "hub", "tiers", false))
	start = time.Now()
	if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
		t.Fatalf("relay restart apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	writer.halt()
	outage, _, _ := writer.longestOutage()
	t.Logf("relays moved (bridged edges, relays one at a time, edges) in %s; KV writer on edge-1: %d operations, %d failed, longest outage %.1fs",
		time.Since(start).Round(100*time.Millisecond), writer.ops, len(writer.errs), outage.Seconds())
	if on := linkedTo(t, ctx, s, edges); len(on) != 4 {
		t.Fatalf("after the relay restarts, edges linked: %v", on)
	}

	// Kill the relay edge-1 is linked to; the edges on it move to the other relay.
	on := linkedTo(t, ctx, s, edges)
	dead := on["edge-1"]
	other := map[string]string{"relay-1": "relay-2", "relay-2": "relay-1"}[dead]
	var moving []string
	for _, e := range edges {
		if on[e] == dead {
			moving = append(moving, e)
		}
	}
	t.Logf("before: %v; killing %s", on, dead)
	killed := time.Now()
	// sv d makes runit want it down (no restart); the server is then killed at once, no lame duck.
	kill := "pid=$(cat /run/nats-server.pid); (sv -w 60 d /etc/service/nats-server >/dev/null 2>&1 &); sleep 0.2; kill -9 $pid"
	if out, err := env.Lab.Exec(ctx, dead, "bash", "-c", kill); err != nil {
		t.Fatalf("kill %s's nats-server: %v %s", dead, err, out)
	}
	for {
		now := linkedTo(t, ctx, s, moving)
		all := true
		for _, e := range moving {
			all = all && now[e] == other
		}
		if all {
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("after 30s the edges of %s are linked to %v, want %s", dead, now, other)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s killed: %s linked to %s after %s", dead, strings.Join(moving, ", "), other, time.Since(killed).Round(10*time.Millisecond))
	if _, err := kv.PutString(ctx, "after-kill", "ok"); err != nil {
		t.Errorf("KV put from edge-1 after the move: %v", err)
	}

	rep = s.verify(ctx)
	var named []string
	for _, r := range rep.Failed() {
		named = append(named, r.Check+" on "+r.Host)
		// The other relay of the cluster misses its route to the dead one, and says so.
		if r.Host != dead && !strings.Contains(r.Evidence, "missing "+dead) {
			t.Errorf("verify fails on %s without naming the dead relay %s: %s: %s", r.Host, dead, r.Check, r.Evidence)
		}
	}
	if len(named) == 0 {
		t.Fatalf("verify passes with %s dead", dead)
	}
	t.Logf("verify with %s dead: %s", dead, strings.Join(named, "; "))

	p = s.plan(ctx)
	if a := actions(p)[dead+"/nats-server"]; a != plan.Start {
		t.Fatalf("plan for the dead relay: %s, want start (%v)", a, p.Unit(dead+"/nats-server"))
	}
	start = time.Now()
	if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
		t.Fatalf("repair apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	t.Logf("repair apply: %s", time.Since(start).Round(100*time.Millisecond))
	mustVerify(t, ctx, s)
}

func mustVerify(t *testing.T, ctx context.Context, s *session) verify.Report {
	t.Helper()
	rep := s.verify(ctx)
	if !rep.OK() {
		for _, r := range rep.Failed() {
			t.Errorf("verify: %s %s: %s", r.Check, r.Host, r.Evidence)
		}
		t.FailNow()
	}
	return rep
}

// linkedTo reads each host's /leafz over its SSH connection: the server its remote is
// connected to ("" when none).
func linkedTo(t *testing.T, ctx context.Context, s *session, hosts []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tg := range s.Fleet.Targets(ctx) {
		if !slices.Contains(hosts, tg.Host.Name) || tg.Err != nil {
			continue
		}
		var lz natsmon.Leafz
		r, err := natsmon.New(tg.Host.Leaf.LocalMonitorAddr(), tg.Dial, natsmon.Options{}).Get(ctx, natsmon.PathLeafz)
		if err == nil && r.Decode(&lz) == nil {
			for _, l := range lz.Leafs {
				if l.IsSpoke {
					out[tg.Host.Name] = l.Name
				}
			}
		}
	}
	return out
}

// TestTiers_DomainChange: the domain change hub → central on the tiered lab. Every key
// written through an edge survives; a client on another edge that stays on "hub" fails only
// while the hubs restart (the outage is printed); the relays and edges are gated again after
// the cutover, changed or not; every wasmCloud host moves to "central"; verify passes.
func TestTiers_DomainChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := tieredLab(t, ctx)
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply from empty: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	const own = "tiered_domain"
	writer := clientOn(t, ctx, s, "edge-1")
	putKeys(t, ctx, kvOn(t, ctx, writer, "hub", "LATTICEDATA_default", false))
	putKeys(t, ctx, kvOn(t, ctx, writer, "hub", own, true))
	old := startOldDomainClient(t, kvOn(t, ctx, clientOn(t, ctx, s, "edge-2"), "hub", own, false))
	time.Sleep(time.Second)

	env.Edit(t, toCentral)
	s = newSession(t, env, plan.Options{AllowDomainChange: true})
	p := s.plan(ctx)
	var waves []string
	for _, w := range p.Waves {
		waves = append(waves, string(w.Name))
	}
	if want := []string{"cutover", "relay", "leaf", "wasmcloud"}; p.Cutover == nil || !slices.Equal(waves, want) {
		t.Fatalf("plan: cutover %+v, waves %v, want %v", p.Cutover, waves, want)
	}
	start := time.Now()
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
	outage, from, to := old.longestOutage()
	t.Logf("cutover apply %s; old-domain client on edge-2: %d operations, %d failed, longest outage %.1fs (%s to %s)",
		time.Since(start).Round(100*time.Millisecond), old.ops, len(old.errs), outage.Seconds(), from.Format("15:04:05.0"), to.Format("15:04:05.0"))
	if len(old.errs) == 0 {
		t.Errorf("the old-domain client never failed: the hubs did not restart?")
	}

	reader := clientOn(t, ctx, s, "edge-3")
	checkKeys(t, ctx, kvOn(t, ctx, reader, "central", "LATTICEDATA_default", false))
	checkKeys(t, ctx, kvOn(t, ctx, reader, "central", own, false))
	hub, err := s.Fleet.ConnectHub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	wc, err := wasmcloud.NewClient(hub, s.Inv.Lattice.Name)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := wc.Ping(ctx, nil, 2*time.Second)
	if err != nil || len(hosts) != 4 {
		t.Fatalf("ping: %d hosts, %v", len(hosts), err)
	}
	for _, h := range hosts {
		if h.JSDomain != "central" {
			t.Errorf("wasmCloud host %s: js_domain %q, want central", h.Labels["hostname"], h.JSDomain)
		}
	}
	mustVerify(t, ctx, s)
}

// TestTiers_MigrateFromDirect: a fleet whose edges dial the hubs directly gets its relay tier
// in one apply: the relays start (their gate passes while the edges are still linked to the
// hubs), then each edge reloads with its relays as remotes and moves to them. The plan warns
// that a move may be held 30 s (nats-server can take its instant for a loop; in the lab about
// one edge in four), and the time each unit took is printed. Afterwards the
// edges' traffic to the hubs is dropped and verify still passes: they use the relays only.
func TestTiers_MigrateFromDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	relayBlock := regexp.MustCompile(`(?s)host "relay-\d" \{.*?\n\}\n\n`)
	const upstream = "    upstream               = \"site=east\"\n"
	env := labtest.Up(t, labtest.Spec{Example: "tiered", Extra: []string{"relay-1", "relay-2"}, Edit: func(src string) string {
		relays := strings.Join(relayBlock.FindAllString(src, -1), "")
		if relays == "" || !strings.Contains(src, upstream) {
			t.Fatal("examples/tiered changed: no relay host blocks or leaf upstream to take out")
		}
		return strings.Replace(relayBlock.ReplaceAllString(src, ""), upstream, "", 1)
	}})
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply, edges dialling the hubs: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	edges := []string{"edge-1", "edge-2", "edge-3", "edge-4"}
	for e, to := range linkedTo(t, ctx, s, edges) {
		if !strings.HasPrefix(to, "hub-") {
			t.Fatalf("%s linked to %q before the migration, want a hub", e, to)
		}
	}

	// The relay tier: the relays at the lab's addresses, the edges dialling them.
	env.Edit(t, func(src string) string {
		for _, name := range []string{"relay-1", "relay-2"} {
			h, _ := env.Lab.Host(name)
			src += fmt.Sprintf("\nhost %q {\n  address = %q\n  roles   = [\"relay\"]\n  labels  = { site = \"east\" }\n}\n", name, h.Addr)
		}
		return strings.Replace(src, "role \"leaf\" {\n  nats {\n", "role \"leaf\" {\n  nats {\n"+upstream, 1)
	})
	s = newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	var waves []string
	for _, w := range p.Waves {
		waves = append(waves, string(w.Name))
	}
	if want := []string{"relay", "leaf"}; !slices.Equal(waves, want) {
		t.Fatalf("migration waves %v, want %v", waves, want)
	}
	for _, e := range edges {
		if a := actions(p)[e+"/nats-server"]; a != plan.Reload {
			t.Errorf("%s: %s, want a reload (leaf remotes)", e, a)
		}
	}
	if w := strings.Join(p.Warnings, "\n"); !strings.Contains(w, "edge-1, edge-2, edge-3, edge-4 move their leaf link onto relays by reload") {
		t.Errorf("the plan does not warn of the 30 s a move onto relays may take: %q", w)
	}
	start := time.Now()
	res, err := s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("migration apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	var took []string
	for _, u := range res.Units {
		if u.Action != plan.Noop {
			took = append(took, fmt.Sprintf("%s %s %.1fs", u.Unit, u.Action, u.Duration))
		}
	}
	t.Logf("migration to the relay tier: %s (%s)", time.Since(start).Round(100*time.Millisecond), strings.Join(took, ", "))
	var hubs []netip.Addr
	for _, h := range s.Inv.Hubs() {
		hubs = append(hubs, netip.MustParseAddr(h.Address))
	}
	for _, e := range edges {
		if err := env.Lab.DropTraffic(e, hubs...); err != nil {
			t.Fatal(err)
		}
	}
	for e, to := range linkedTo(t, ctx, s, edges) {
		if !strings.HasPrefix(to, "relay-") {
			t.Errorf("%s linked to %q after the migration, want a relay", e, to)
		}
	}
	mustVerify(t, ctx, s)
}

// TestTiers_LeafPasswordRotation rotates the leaf password on the tiered lab while a KV writer
// and reader go through edge-1 and its relays. The first apply reloads the hubs (they accept
// leaf-a beside leaf), restarts each relay (its leafnode listener takes both users, which
// nats-server does not reload, and it logs in upstream as leaf-a) and reloads each edge (it
// logs in to its relays as leaf-a); the second reloads the hubs and restarts the relays
// without leaf; the plan after that reports the rotation complete, and after
// `--finish-rotation` it is empty. Every apply passes its gates and final verify; no
// acknowledged write is lost.
func TestTiers_LeafPasswordRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	env := tieredLab(t, ctx)
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply from empty: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second) // a baseline before the change
	if _, err := inventory.RotatePassword(s.Inv, inventory.SecretLeafPassword, inventory.Options{}); err != nil {
		t.Fatal(err)
	}
	leafRot := func(p *plan.Plan) *plan.Rotation {
		for _, r := range p.Rotations {
			if r.Secret == inventory.SecretLeafPassword {
				return r
			}
		}
		return nil
	}
	for i, step := range []string{plan.RotationAcceptAndSwitch, plan.RotationRetire} {
		ns := newSession(t, env, plan.Options{})
		p := ns.plan(ctx)
		if r := leafRot(p); r == nil || r.Step != step {
			t.Fatalf("plan %d: rotation %+v, want step %s", i+1, r, step)
		}
		for _, relay := range []string{"relay-1/nats-server", "relay-2/nats-server"} {
			if u := p.Unit(relay); u == nil || u.Action != plan.Restart {
				t.Fatalf("plan %d: %s %v, want restart", i+1, relay, u)
			}
		}
		start := time.Now()
		res, err := ns.apply(ctx, p)
		if err != nil || res.VerifyError != "" {
			t.Fatalf("apply %d (%s): %v %s\nresults: %v", i+1, step, err, res.VerifyError, results(res))
		}
		t.Logf("apply %d (%s): %s", i+1, step, time.Since(start).Round(100*time.Millisecond))
	}
	ns := newSession(t, env, plan.Options{})
	if p := ns.plan(ctx); p.HasChanges() || leafRot(p) == nil || leafRot(p).Step != plan.RotationComplete {
		t.Fatalf("plan 3: changes %v, rotation %+v; want none and complete", actions(p), leafRot(p))
	}
	if _, err := inventory.FinishRotation(ns.Inv, inventory.SecretLeafPassword); err != nil {
		t.Fatal(err)
	}
	done := newSession(t, env, plan.Options{})
	if p := done.plan(ctx); p.HasChanges() || len(p.Rotations) > 0 {
		t.Fatalf("after --finish-rotation: changes %v, rotations %v", actions(p), p.Rotations)
	}
	l.finish(t, ctx, "leaf password rotated through relays under load")
	mustVerify(t, ctx, done)
}
