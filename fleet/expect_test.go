package fleet

import (
	"path/filepath"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// TestView: the gates see a listed host's server on the ports it listens on now and the
// lattice on the expected domain; every other host, and the inventory itself, unchanged.
func TestView(t *testing.T) {
	inv, diags := inventory.Load(filepath.Join("..", "examples", "lab", "inventory.hcl"), inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if v := view(inv, rollout.Expect{}); v != inv {
		t.Error("no expectation: want the inventory itself")
	}
	v := view(inv, rollout.Expect{Domain: "old", Ports: map[string]plan.Ports{"hub-2": {Client: 4111, HTTP: 8111}}})
	if v.Lattice.JSDomain != "old" || inv.Lattice.JSDomain == "old" {
		t.Errorf("domain: view %q, inventory %q", v.Lattice.JSDomain, inv.Lattice.JSDomain)
	}
	if n := v.Host("hub-2").Hub; n.ClientPort != 4111 || n.HTTPPort != 8111 {
		t.Errorf("hub-2 in the view: %d/%d", n.ClientPort, n.HTTPPort)
	}
	if n := inv.Host("hub-2").Hub; n.ClientPort == 4111 {
		t.Error("view changed the inventory itself")
	}
	if v.Host("hub-1") != inv.Host("hub-1") {
		t.Error("an unlisted host was copied")
	}
}

// TestView_EveryListener: each listener kind the gates may reach (client and monitoring host
// and port, cluster and leafnode port) is taken from the expectation.
func TestView_EveryListener(t *testing.T) {
	inv, diags := inventory.Load(filepath.Join("..", "examples", "lab", "inventory.hcl"), inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	was := plan.Ports{ClientHost: "10.1.1.1", Client: 4111, HTTPHost: "10.2.2.2", HTTP: 8111, Cluster: 6111, Leafnode: 7111}
	v := view(inv, rollout.Expect{Ports: map[string]plan.Ports{"hub-2": was, "edge-1": {HTTPHost: "10.3.3.3"}}})
	n := v.Host("hub-2").Hub
	got := plan.Ports{ClientHost: n.ClientHost, Client: n.ClientPort, HTTPHost: n.HTTPHost, HTTP: n.HTTPPort, Cluster: n.ClusterPort, Leafnode: n.LeafnodePort}
	if got != was {
		t.Errorf("hub-2 in the view listens on %+v, want %+v", got, was)
	}
	if a := n.LocalMonitorAddr(); a != "10.2.2.2:8111" {
		t.Errorf("hub-2's monitoring address in the view: %s", a)
	}
	l, orig := v.Host("edge-1").Leaf, inv.Host("edge-1").Leaf
	if l.HTTPHost != "10.3.3.3" || l.HTTPPort != orig.HTTPPort || l.ClientHost != orig.ClientHost || l.ClientPort != orig.ClientPort {
		t.Errorf("edge-1 in the view: %s:%d client %s:%d; want only the monitoring host moved", l.HTTPHost, l.HTTPPort, l.ClientHost, l.ClientPort)
	}
}
