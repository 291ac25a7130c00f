package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// TestRelayTLS_Plaintext: a plaintext tier (hubs, relay-1 a leaf of them with a leafnode
// listener, edge-1 below it) under an inventory that says TLS: leaf.relay-tls fails on the
// relay, naming its plaintext leafnode port; leaf.tls on the edge judges the relay its link
// ends on (not "not a hub"), and fails because that port does not require TLS; an edge whose
// inventory upstream names another relay fails, naming it; with links = "routes" the
// unclustered relay's plaintext links are a warning.
func TestRelayTLS_Plaintext(t *testing.T) {
	lat := startHubs(t, 3)
	relayPort := freePorts(t, 1)[0]
	var up []string
	for _, p := range lat.leafPorts {
		up = append(up, fmt.Sprintf("nats-leaf://leaf:%s@127.0.0.1:%d", leafPassword, p))
	}
	srv := lat.start("relay-1", fmt.Sprintf(`
server_name: relay-1
listen: 127.0.0.1:-1
leafnodes {
  listen: 127.0.0.1:%d
  authorization { user: leaf, password: %q }
  reconnect: "200ms"
  remotes: [ { urls: [%s] } ]
}
`, relayPort, leafPassword, quoteJoin(up)))
	relay := &node{srv: srv, host: &inventory.Host{Name: "relay-1", Roles: []string{inventory.RoleRelay}, Leaf: natsOf(srv, "relay-1", "")}}
	relay.host.Leaf.LeafnodePort = relayPort
	lat.nodes["relay-1"] = relay
	esrv := lat.start("edge-1", fmt.Sprintf(`
server_name: edge-1
listen: 127.0.0.1:-1
leafnodes { reconnect: "200ms", remotes: [ { urls: ["nats-leaf://leaf:%s@127.0.0.1:%d"] } ] }
`, leafPassword, relayPort))
	edge := &node{srv: esrv, host: &inventory.Host{Name: "edge-1", Roles: []string{inventory.RoleLeaf}, Leaf: natsOf(esrv, "edge-1", "")}}
	edge.host.Leaf.Upstream = "relay-1"
	lat.nodes["edge-1"] = edge
	waitFor(t, 10*time.Second, "the edge's link to relay-1", func() bool { return esrv.NumLeafNodes() > 0 && srv.NumLeafNodes() > 1 })

	ctx := context.Background()
	inv := lat.inventory("relay-1", "edge-1")
	inv.Lattice.TLS = &inventory.TLS{Managed: true, Validity: inventory.DefaultCertValidity}
	rep := Run(ctx, inv, targets(inv), fast)
	if r := find(t, rep, CheckLeafRelayTLS, "relay-1"); r.OK || r.Evidence != "plaintext: leafnode port (tls_required false)" || r.Fix == "" {
		t.Errorf("%s on relay-1: %+v", CheckLeafRelayTLS, r)
	}
	if r := find(t, rep, CheckLeafTLS, "edge-1"); r.OK || r.Evidence != "linked to relay-1, whose leafnode port does not require TLS: the link is plaintext" {
		t.Errorf("%s on edge-1: %+v", CheckLeafTLS, r)
	}
	if r := find(t, rep, CheckLeafTLS, "relay-1"); r.OK || !strings.HasPrefix(r.Evidence, "linked to hub-") {
		t.Errorf("%s on relay-1: %+v", CheckLeafTLS, r)
	}

	// The inventory puts edge-1 below relay-2, which it does not dial.
	other := &inventory.Host{Name: "relay-2", Roles: []string{inventory.RoleRelay}, Leaf: &inventory.NATS{ServerName: "relay-2"}}
	inv2 := lat.inventory("relay-1", "edge-1")
	inv2.Hosts = append(inv2.Hosts, other)
	inv2.Lattice.TLS = inv.Lattice.TLS
	edge.host.Leaf.Upstream = "relay-2"
	defer func() { edge.host.Leaf.Upstream = "relay-1" }()
	rd := newRound(inv2, targets(inv2), fast)
	res := rd.checkLeafTLS(ctx, edge.host)
	rd.close()
	if res.OK || res.Evidence != `linked to relay-1, not a relay of its upstream "relay-2" (relay-2)` {
		t.Errorf("%s on edge-1 below relay-2 in the inventory: %+v", CheckLeafTLS, res)
	}
	edge.host.Leaf.Upstream = "relay-1"

	inv.Lattice.TLS = &inventory.TLS{Managed: true, Validity: inventory.DefaultCertValidity, RoutesOnly: true}
	rep = Run(ctx, inv, targets(inv), fast)
	if r := find(t, rep, CheckLeafRelayTLS, "relay-1"); !r.OK || !r.Warning || !strings.Contains(r.Evidence, `leaf links stay plaintext while the tls block says links = "routes"`) || r.Fix == "" {
		t.Errorf("%s on relay-1 with links = \"routes\": %+v", CheckLeafRelayTLS, r)
	}
}
