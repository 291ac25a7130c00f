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
