package main

import (
	"os"
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

// TestFmt_HostServiceManager: fmt puts a host block's service_manager in the canonical
// alignment, which is how examples/lab-mixed is written.
func TestFmt_HostServiceManager(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "lab-mixed", "inventory.hcl")
	raw, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	want := string(raw)
	canonical := "  address         = \"198.18.0.11\"\n  roles           = [\"hub\"]\n  service_manager = \"systemd\"\n"
	if !strings.Contains(want, canonical) {
		t.Fatalf("%s has no hub-1 block written as\n%s", example, canonical)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.hcl")
	messy := strings.Replace(want, canonical, "  address = \"198.18.0.11\"\n  roles = [\"hub\"]\n  service_manager=\"systemd\"\n", 1)
	if err := os.WriteFile(path, []byte(messy), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, dir, "fmt", "--check", path); code == exitOK {
		t.Fatal("fmt --check passed a misaligned service_manager")
	}
	if code, _, stderr := runCLI(t, dir, "fmt", path); code != exitOK {
		t.Fatalf("fmt: exit %d %s", code, stderr)
	}
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Errorf("fmt did not restore the example's form:\n%s", got)
	}
}
