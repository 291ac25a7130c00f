package plan_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
)

// TestRelayWave: on the converged tiered example, moving both relays' leafnode port restarts
// them one at a time in the relay wave, after the hubs (unchanged) and before the leaves,
// whose remotes change with them: leaves first, each edge reloads a bridge config listing the
// relays' current and new listeners, so the edges find a relay whichever has moved.
func TestRelayWave(t *testing.T) {
	inv := loadGoldenExample(t, "tiered")
	before, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	facts := goldenFacts(inv, before, true, inv.Lattice.JSDomain)
	for _, r := range inv.Relays() {
		r.Leaf.LeafnodePort = 7433
	}
	desired, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(inv, desired, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range p.Waves {
		got = append(got, string(w.Name))
	}
	if want := []string{"leaf-bridge", "relay", "leaf"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("waves %v, want %v", got, want)
	}
	if want := [][]string{{"edge-1/nats-server@bridge", "edge-2/nats-server@bridge"}, {"edge-3/nats-server@bridge", "edge-4/nats-server@bridge"}}; !reflect.DeepEqual(p.Waves[0].Batches, want) {
		t.Errorf("bridge batches %v, want %v", p.Waves[0].Batches, want)
	}
	bridge := p.Unit("edge-1/nats-server@bridge")
	if bridge == nil || bridge.Action != plan.Reload || !strings.Contains(string(bridge.Files[0].Diff), ":7422") || !strings.Contains(string(bridge.Files[0].Diff), ":7433") {
		t.Errorf("edge-1's bridge: %+v", bridge)
	}
	if want := [][]string{{"relay-1/nats-server"}, {"relay-2/nats-server"}}; !reflect.DeepEqual(p.Waves[1].Batches, want) {
		t.Errorf("relay batches %v, want %v", p.Waves[1].Batches, want)
	}
	if len(p.Warnings) > 0 {
		t.Errorf("warnings for bridged leaves: %q", p.Warnings)
	}
	for _, u := range p.Units {
		if u.Role == plan.RoleRelay && u.Action != plan.Restart {
			t.Errorf("%s: %s, want a restart (leafnode port)", u.ID(), u.Action)
		}
	}
}

// TestRelayBridge: when the hubs' leafnode port moves, the relays (leaves of the hubs) are
// bridged first, like leaves of the hubs, one at a time; the edges below them, which never dial a hub, are
// not touched.
func TestRelayBridge(t *testing.T) {
	inv := loadGoldenExample(t, "tiered")
	before, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	facts := goldenFacts(inv, before, true, inv.Lattice.JSDomain)
	for _, h := range inv.Hubs() {
		h.Hub.LeafnodePort = 7433
	}
	desired, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(inv, desired, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range p.Waves {
		got = append(got, string(w.Name))
	}
	if want := []string{"leaf-bridge", "hub", "relay"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("waves %v, want %v", got, want)
	}
	if want := [][]string{{"relay-1/nats-server@bridge"}, {"relay-2/nats-server@bridge"}}; !reflect.DeepEqual(p.Waves[0].Batches, want) {
		t.Errorf("bridge batches %v, want %v (one relay at a time)", p.Waves[0].Batches, want)
	}
	for _, u := range p.Units {
		if strings.HasPrefix(u.Host, "edge-") && u.Changes() {
			t.Errorf("%s changes (%s): an edge below relays dials no hub", u.ID(), u.Action)
		}
	}
}

// TestTierMoveWarning: edges that dial the hubs now and are pointed at relays are named in a
// warning (the 30 s nats-server may hold the new link); relays moving their own listener are
// not (their leaves are bridged).
func TestTierMoveWarning(t *testing.T) {
	inv := loadGoldenExample(t, "tiered")
	var ups []string
	for _, h := range inv.LeafServers() {
		ups = append(ups, h.Leaf.Upstream)
		h.Leaf.Upstream = ""
	}
	before, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	facts := goldenFacts(inv, before, true, inv.Lattice.JSDomain)
	for i, h := range inv.LeafServers() {
		h.Leaf.Upstream = ups[i]
	}
	desired, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(inv, desired, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(p.Warnings, "\n"); !strings.Contains(w, "edge-1, edge-2, edge-3, edge-4 move their leaf link onto relays by reload") {
		t.Errorf("warnings %q", w)
	}
}
