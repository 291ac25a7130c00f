package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/inventory"
)

// TestLabHosts: lab up gives each host the init its own service_manager names, so the mixed
// example (hubs systemd by their host blocks, edges runit by the defaults) makes a mixed lab,
// each host at its inventory address.
func TestLabHosts(t *testing.T) {
	inv, diags := inventory.Load(filepath.Join("..", "..", "examples", "lab-mixed", "inventory.hcl"), inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	hosts, err := labHosts(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"hub-1": lab.InitSystemd, "hub-2": lab.InitSystemd, "hub-3": lab.InitSystemd,
		"edge-1": lab.InitRunit, "edge-2": lab.InitRunit, "edge-3": lab.InitRunit,
	}
	if len(hosts) != len(want) {
		t.Fatalf("%d lab hosts, want %d: %+v", len(hosts), len(want), hosts)
	}
	for _, h := range hosts {
		if h.Init != want[h.Name] {
			t.Errorf("%s: init %q, want %q", h.Name, h.Init, want[h.Name])
		}
		if ih := inv.Host(h.Name); ih == nil || h.Addr.String() != ih.Address {
			t.Errorf("%s: address %s, want the inventory's", h.Name, h.Addr)
		}
	}

	// A host the lab cannot address is refused with its name.
	inv.Hosts[0].Address = "hub-1.example"
	if _, err := labHosts(inv); err == nil || !strings.Contains(err.Error(), inv.Hosts[0].Name) || !strings.Contains(err.Error(), "IP addresses") {
		t.Errorf("labHosts with a host name as address: %v, want an error naming the host", err)
	}
}
