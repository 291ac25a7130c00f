package ansible

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

var update = flag.Bool("update", false, "rewrite golden files")

func roles(t *testing.T, flags ...string) []RoleMap {
	t.Helper()
	var out []RoleMap
	for _, f := range flags {
		m, err := ParseRole(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestImport_Golden imports the INI and YAML fixtures (ranges, nested groups, inline and
// section variables, group_vars/ files and directories, host_vars/), compares the output
// with the golden files, and loads it as an inventory: it validates.
func TestImport_Golden(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		roles      []string
		hosts      int
		blocks     int
		check      func(t *testing.T, inv *inventory.Inventory)
	}{
		{"ini", "testdata/ini/hosts.ini", []string{"hub=nats_hubs", "leaf,wasmcloud=edge"}, 3 + 101 + 20 + 3, 4,
			func(t *testing.T, inv *inventory.Inventory) {
				h := inv.Host("hub-1.example.net")
				if h.Address != "10.0.0.11" || h.SSH.Port != 2202 || h.SSH.User != "deploy" || h.SSH.Become {
					t.Errorf("hub-1: %s %+v", h.Address, h.SSH)
				}
				e := inv.Host("ams-edge-007")
				if e.Address != "10.1.0.250" || e.SSH.User != "edge-ops" || !e.SSH.Become || e.SSH.KnownHosts != "/etc/fleet/known_hosts" ||
					e.SSH.StrictHostKeyChecking != "accept-new" || e.SSH.IdentityFile != "~/.ssh/fleet_ed25519" {
					t.Errorf("ams-edge-007: %s %+v", e.Address, e.SSH)
				}
				if f := inv.Host("fra-edge-39"); f == nil || f.SSH.User != "fra-ops" || f.Address != "fra-edge-39" {
					t.Errorf("fra-edge-39: %+v", f)
				}
				if f := inv.Host("fra-edge-b"); f == nil || f.SSH.User != "edge-ops" || !f.HasRole("wasmcloud") {
					t.Errorf("fra-edge-b: %+v", f)
				}
				if inv.Host("grafana") != nil || inv.Host("fra-edge-02") != nil {
					t.Error("grafana (no role) or fra-edge-02 (not in the stepped range) imported")
				}
			}},
		{"yaml", "testdata/yaml/inventory.yml", []string{"hub=hubs", "leaf=edge", "wasmcloud=nyc"}, 3 + 21 + 6, 3,
			func(t *testing.T, inv *inventory.Inventory) {
				if h := inv.Host("nyc-edge-03"); h.Address != "10.3.0.3" || h.SSH.ProxyJump != "jump@198.51.100.1" || !h.HasRole("wasmcloud") {
					t.Errorf("nyc-edge-03: %s %v %+v", h.Address, h.Roles, h.SSH)
				}
				if h := inv.Host("lon-rack2-nodeb"); h == nil || h.SSH.Port != 2222 || h.SSH.User != "deploy" || h.HasRole("wasmcloud") {
					t.Errorf("lon-rack2-nodeb: %+v", h)
				}
				if h := inv.Host("hub-2"); h.SSH.IdentityFile != "/etc/fleet/hub_key" || !h.SSH.Become || h.SSH.ProxyJump != "" {
					t.Errorf("hub-2: %+v", h.SSH)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Import(tc.path, Options{Roles: roles(t, tc.roles...)})
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(filepath.Dir(tc.path), "expected.hcl")
			if *update {
				if err := os.WriteFile(golden, res.HCL, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.HCL) != string(want) {
				t.Errorf("output differs from %s (go test -run TestImport_Golden -update rewrites it):\n%s", golden, res.HCL)
			}
			if f := hclwrite.Format(res.HCL); string(f) != string(res.HCL) {
				t.Errorf("output is not in canonical format")
			}
			if res.Hosts != tc.hosts || res.Blocks != tc.blocks {
				t.Errorf("%d hosts in %d hosts blocks, want %d in %d", res.Hosts, res.Blocks, tc.hosts, tc.blocks)
			}
			for _, n := range res.Notes {
				if strings.Contains(n.String(), "hunter2") {
					t.Errorf("a note shows a password: %s", n)
				}
			}
			out := filepath.Join(t.TempDir(), "inventory.hcl")
			if err := os.WriteFile(out, res.HCL, 0o644); err != nil {
				t.Fatal(err)
			}
			inv, diags := inventory.Load(out, inventory.Options{SkipSecrets: true})
			if diags.HasErrors() {
				t.Fatalf("the imported inventory does not validate: %v", diags)
			}
			if len(inv.Hosts) != tc.hosts {
				t.Errorf("the inventory has %d hosts, want %d", len(inv.Hosts), tc.hosts)
			}
			tc.check(t, inv)
			// It renders too (hubs need explicit JetStream limits, which validate leaves to render).
			if _, err := inventory.GenerateSecrets(inv, inventory.Options{}); err != nil {
				t.Fatal(err)
			}
			inv, diags = inventory.Load(out, inventory.Options{})
			if diags.HasErrors() {
				t.Fatalf("with secrets: %v", diags)
			}
			if _, err := unit.All(inv, unit.Options{}); err != nil {
				t.Errorf("render the imported inventory: %v", err)
			}
		})
	}
}

// TestImport_Relays: a group mapped to the relay role becomes relay hosts, and the header says
// how to put leaves below them; the output validates (a relay nothing names yet is a warning).
func TestImport_Relays(t *testing.T) {
	path := writeINI(t, "[hubs]\nhub-[1:3]\n\n[relays]\nrelay-east-1\nrelay-east-2\n\n[edge]\nedge-[1:4]\n")
	dir := filepath.Dir(path)
	res, err := Import(path, Options{Roles: roles(t, "hub=hubs", "relay=relays", "leaf,wasmcloud=edge")})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.HCL)
	for _, want := range []string{
		"host \"relay-east-1\" {\n  address = \"relay-east-1\"\n  roles   = [\"relay\"]\n}",
		"#   - point the leaves that link through the relays at them: upstream = \"<relay host,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(p, res.HCL, 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := inventory.Load(p, inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatalf("the imported inventory does not validate: %v", diags)
	}
	if h := inv.Host("relay-east-2"); h == nil || !h.IsRelay() {
		t.Errorf("relay-east-2: %+v, want a relay", h)
	}
	if len(inv.HostsWithRole(inventory.RoleRelay)) != 2 {
		t.Errorf("relays %d, want 2", len(inv.HostsWithRole(inventory.RoleRelay)))
	}

	// Without a relay role there is no such line.
	res, err = Import(path, Options{Roles: roles(t, "hub=hubs", "leaf,wasmcloud=edge")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.HCL), "upstream") {
		t.Errorf("output without relays mentions upstream:\n%s", res.HCL)
	}
}

// TestImport_ServiceManagers: --service-manager MANAGER=GROUP gives a group's hosts their own
// service_manager (a host's most specific mapped group wins, as Ansible merges group
// variables), hosts blocks included; the others keep the defaults'. A group the inventory
// lacks, or a manager latticepush does not drive, is refused.
func TestImport_ServiceManagers(t *testing.T) {
	path := writeINI(t, "[hubs]\nhub-[1:3]\n\n[ams]\nams-[1:4]\n\n[fra]\nfra-1\n\n[edge:children]\nams\nfra\n")
	dir := filepath.Dir(path)
	res, err := Import(path, Options{Roles: roles(t, "hub=hubs", "leaf,wasmcloud=edge"),
		ServiceManagers: []ManagerMap{{Manager: "runit", Group: "edge"}, {Manager: "systemd", Group: "fra"}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.HCL), "service_manager in defaults") {
		t.Errorf("the header still asks for service_manager:\n%s", res.HCL)
	}
	p := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(p, res.HCL, 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := inventory.Load(p, inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatalf("the imported inventory does not validate: %v\n%s", diags, res.HCL)
	}
	for h, want := range map[string]string{"hub-1": "systemd", "ams-1": "runit", "ams-4": "runit", "fra-1": "systemd"} {
		if got := inv.Host(h).ServiceManager; got != want {
			t.Errorf("%s: service_manager %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(string(res.HCL), "hosts \"ams\" {\n  for_each        = [for i in range(1, 5) : format(\"ams-%d\", i)]\n  address         = each.key\n  roles           = [\"leaf\", \"wasmcloud\"]\n  service_manager = \"runit\"\n}") {
		t.Errorf("the ams hosts block lacks its service_manager:\n%s", res.HCL)
	}

	if _, err := Import(path, Options{Roles: roles(t, "hub=hubs"), ServiceManagers: []ManagerMap{{Manager: "runit", Group: "edges"}}}); err == nil ||
		err.Error() != `--service-manager runit=edges: the inventory has no group "edges"; its groups: hubs, ams, fra, edge` {
		t.Errorf("unknown group: %v", err)
	}
	for in, want := range map[string]string{
		"openrc=edge": `--service-manager "openrc=edge": the service managers are systemd and runit (MANAGER, or MANAGER=GROUP for a group's hosts)`,
		"runit=":      `--service-manager "runit=": name the group after '=', e.g. --service-manager runit=edge`,
	} {
		if _, _, err := ParseServiceManager(in); err == nil || err.Error() != want {
			t.Errorf("ParseServiceManager(%q): %v, want %s", in, err, want)
		}
	}
	if m, forGroup, err := ParseServiceManager("runit=edge"); err != nil || !forGroup || m != (ManagerMap{Manager: "runit", Group: "edge"}) {
		t.Errorf("ParseServiceManager(runit=edge): %+v %v %v", m, forGroup, err)
	}
}

// writeINI writes src as hosts.ini in a new directory and returns its path.
func writeINI(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hosts.ini")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
