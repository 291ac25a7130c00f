package plan_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// peersLab is the lab example, converged, with the meta group as the meta leader hub-1 sees
// it: hub-2, hub-3 and the peers given.
func peersLab(t *testing.T, others ...plan.MetaPeer) (build func(plan.Options) (*plan.Plan, error), facts map[string]plan.Facts) {
	t.Helper()
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts = plantest.Converged(inv, d)
	for _, h := range inv.Hubs() {
		facts[h.Name].NATS.RoutesRead = true
	}
	facts["hub-1"].NATS.MetaPeers = append([]plan.MetaPeer{{Name: "hub-2", Peer: plan.PeerID("hub-2"), Current: true}, {Name: "hub-3", Peer: plan.PeerID("hub-3"), Current: true}}, others...)
	return func(o plan.Options) (*plan.Plan, error) { return plan.Build(inv, d, facts, o) }, facts
}

// A member of the meta group that no inventory hub is, which no hub has a route to and the
// meta leader does not count as current (or marks offline), is removed by the plan, which then
// has a change though every unit is unchanged.
func TestPeerRemovals_StrangerNotRunningIsRemoved(t *testing.T) {
	build, _ := peersLab(t, plan.MetaPeer{Name: "hub-9", Peer: "p9", Offline: true}, plan.MetaPeer{Name: "hub-0", Peer: "p0", Current: true, Offline: true},
		plan.MetaPeer{Name: "hub-7", Peer: "p7"})
	p, err := build(plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []plan.PeerRemoval{
		{Name: "hub-0", Peer: "p0", Why: "no hub of the inventory; no hub has a route to it, offline on the meta leader hub-1"},
		{Name: "hub-7", Peer: "p7", Why: "no hub of the inventory; no hub has a route to it, not current on the meta leader hub-1"},
		{Name: "hub-9", Peer: "p9", Why: "no hub of the inventory; no hub has a route to it, offline on the meta leader hub-1"},
	}
	if !slices.Equal(p.PeerRemovals, want) {
		t.Fatalf("removals %+v, want %+v", p.PeerRemovals, want)
	}
	if !p.HasChanges() || !strings.Contains(p.Summary(), "; 3 JetStream peers removed (hub-0, hub-7, hub-9).") {
		t.Errorf("changes %v, summary %q", p.HasChanges(), p.Summary())
	}
	// Left out of the plan's scope, the hubs do not lose a member.
	if p, err := build(plan.Options{Targets: []string{"edge-1"}}); err != nil || len(p.PeerRemovals) != 0 {
		t.Errorf("-target edge-1: removals %+v, err %v; want none", p.PeerRemovals, err)
	}
}

// A stranger that still runs is refused (removed, it would only turn its own JetStream off):
// one a hub has a route to, one current on the meta leader, the meta leader itself; and any
// stranger while there is no meta leader to remove it.
func TestPeerRemovals_RunningStrangerIsRefused(t *testing.T) {
	build, facts := peersLab(t, plan.MetaPeer{Name: "hub-9", Peer: "p9", Current: true}, plan.MetaPeer{Name: "hub-8", Peer: "p8", Offline: true})
	facts["hub-2"].NATS.Routes = []string{"hub-1", "hub-3", "hub-8"}
	_, err := build(plan.Options{})
	want := "the hub cluster's JetStream meta group has members that are no hub of the inventory and still run, seen from the meta leader hub-1: " +
		"hub-8 (routed to hub-2); hub-9 (current on the meta leader; a server that stopped a moment ago stays so for a few seconds). " +
		"Stop their nats-server (apply then removes them from the group), or put them back in the inventory"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}

	// No meta leader (an election under way): a stranger any hub sees waits for one.
	build, facts = peersLab(t)
	for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
		facts[h].NATS.MetaLeader = ""
	}
	facts["hub-3"].NATS.MetaPeers = []plan.MetaPeer{{Name: "hub-1", Current: true}, {Name: "hub-9", Offline: true}}
	_, err = build(plan.Options{})
	want = "the hub cluster's JetStream meta group has members that are no hub of the inventory (hub-9), and no meta leader, which alone can remove them: " +
		"wait for the election (a few seconds after a node is lost) and plan again, or bring a quorum of hubs up first (apply --target the hubs that are down)"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	// A follower of nats-server 2.14 lists no members, but counts them.
	facts["hub-3"].NATS.MetaPeers, facts["hub-2"].NATS.MetaSize = nil, 4
	_, err = build(plan.Options{})
	want = "the hub cluster's JetStream meta group has members that are no hub of the inventory (4 members, the inventory has 3 hubs), and no meta leader, " +
		"which alone can remove them: wait for the election (a few seconds after a node is lost) and plan again, or bring a quorum of hubs up first (apply --target the hubs that are down)"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}

	// Whether a stranger runs cannot be told without every hub's routes.
	build, facts = peersLab(t, plan.MetaPeer{Name: "hub-9", Peer: "p9"})
	facts["hub-2"].NATS.RoutesRead = false
	_, err = build(plan.Options{})
	want = "the hub cluster's JetStream meta group has members that are no hub of the inventory and still run, seen from the meta leader hub-1: " +
		"hub-9 (no telling: /routez of hub-2 not read). Stop their nats-server (apply then removes them from the group), or put them back in the inventory"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}

	// The meta leader itself, routed to a hub; gone (no route), it is a leader the hubs have
	// not replaced yet.
	build, facts = peersLab(t)
	for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
		facts[h].NATS.MetaLeader = "hub-9"
	}
	facts["hub-1"].NATS.Routes = []string{"hub-2", "hub-3", "hub-9"}
	_, err = build(plan.Options{})
	want = "the hub cluster's JetStream meta group has members that are no hub of the inventory and still run, seen from the hubs: " +
		"hub-9 (the meta leader, routed to hub-1). Stop its nats-server (apply then removes it from the group), or put it back in the inventory"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	facts["hub-1"].NATS.Routes = nil
	_, err = build(plan.Options{})
	want = "the hub cluster's JetStream meta group has members that are no hub of the inventory (hub-9), and no meta leader, which alone can remove them: " +
		"wait for the election (a few seconds after a node is lost) and plan again, or bring a quorum of hubs up first (apply --target the hubs that are down)"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
}

// A meta leader that has not heard from a member since it started names it by its peer id
// only: an inventory hub that is down is no stranger for that.
func TestPeerRemovals_MemberNamedByIDOnly(t *testing.T) {
	if got := plan.PeerID("hub-2"); got != "PBdTVlg5" { // as nats-server 2.15.2 reported it in the lab
		t.Fatalf("PeerID(hub-2) = %q, want PBdTVlg5", got)
	}
	build, facts := peersLab(t, plan.MetaPeer{Name: "Server name unknown at this time (peerID: p9)", Peer: "p9"})
	facts["hub-1"].NATS.MetaPeers[1] = plan.MetaPeer{Name: "Server name unknown at this time (peerID: " + plan.PeerID("hub-3") + ")", Peer: plan.PeerID("hub-3")}
	p, err := build(plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.PeerRemovals) != 1 || p.PeerRemovals[0].Peer != "p9" {
		t.Fatalf("removals %+v, want the stranger p9 only, never hub-3", p.PeerRemovals)
	}
}

// The name a hub runs under before its server_name changes (-replace) is no stranger: it
// leaves the group once the node restarts under the new name.
func TestPeerRemovals_RenamedNodeIsNoStranger(t *testing.T) {
	build, facts := peersLab(t, plan.MetaPeer{Name: "old-3", Peer: "po", Current: true})
	facts["hub-3"].NATS.ServerName = "old-3"
	p, err := build(plan.Options{Replace: []string{"hub-3"}})
	if err != nil || len(p.PeerRemovals) != 0 {
		t.Fatalf("removals %+v, err %v; want none", p, err)
	}
}

// A saved plan that removes a peer is stale when the fresh plan would not, or would remove
// another.
func TestStaleReasons_PeerRemovals(t *testing.T) {
	build, facts := peersLab(t, plan.MetaPeer{Name: "hub-9", Peer: "p9", Offline: true})
	saved, err := build(plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	facts["hub-1"].NATS.MetaPeers = facts["hub-1"].NATS.MetaPeers[:2] // hub-9 removed meanwhile
	fresh, err := build(plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	why := plan.StaleReasons(saved, fresh)
	if want := "the JetStream peers to remove changed since the plan was made: [hub-9], now []"; !slices.Contains(why, want) {
		t.Fatalf("stale reasons %q, want %q", why, want)
	}
}
