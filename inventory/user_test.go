package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLoad_ServiceUser: user is opt-in (root without it), set per role and overridden per
// host, for nats-server and the wasmCloud host apart.
func TestLoad_ServiceUser(t *testing.T) {
	src := `
lattice "default" { js_domain = "hub" }
role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
    user             = "nats"
  }
}
role "wasmcloud" {
  wasmcloud { user = "wasmcloud" }
}
host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub", "wasmcloud"]
}
host "hub-2" {
  address = "10.0.0.12"
  roles   = ["hub"]
  nats { user = "nats2" }
}
host "leaf-1" {
  address = "10.0.0.21"
  roles   = ["leaf"]
}
`
	path := filepath.Join(t.TempDir(), "inventory.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := Load(path, Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got := map[string][2]string{}
	for _, h := range inv.Hosts {
		var u [2]string
		if n := h.NATS(); n != nil {
			u[0] = n.User
		}
		if h.Wasmcloud != nil {
			u[1] = h.Wasmcloud.User
		}
		got[h.Name] = u
	}
	want := map[string][2]string{"hub-1": {"nats", "wasmcloud"}, "hub-2": {"nats2", ""}, "leaf-1": {"", ""}}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: users %q, want %q", name, got[name], w)
		}
	}
}
