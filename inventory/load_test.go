package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// copyExample copies examples/<name>/inventory.hcl into a temporary directory and returns the
// new inventory path.
func copyExample(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", name, "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) (string, bool) { return "", false }

func TestLoad_EdgeExampleResolved(t *testing.T) {
	path := copyExample(t, "edge")
	inv, diags := Load(path, Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatalf("Load: %s", diags.Error())
	}
	if got, want := len(inv.Hosts), 7; got != want {
		t.Fatalf("hosts = %d, want %d", got, want)
	}
	if inv.Hosts[0].Name != "core-1" || inv.Hosts[6].Name != "edge-4" {
		t.Errorf("hosts not sorted: first %s last %s", inv.Hosts[0].Name, inv.Hosts[6].Name)
	}
	hub := inv.Host("core-2")
	if hub.Hub == nil || hub.Leaf != nil || hub.Wasmcloud != nil {
		t.Fatalf("core-2: want a hub only, got %+v", hub)
	}
	if hub.Hub.ClusterName != "core" || hub.Hub.ClientHost != "0.0.0.0" || hub.Hub.ServerName != "core-2" ||
		hub.Hub.MaxFileStore != "200GB" || hub.Hub.LeafnodePort != 7422 {
		t.Errorf("core-2 hub settings: %+v", hub.Hub)
	}
	if !hub.SSH.Become || hub.SSH.User != "deploy" || hub.SSH.StrictHostKeyChecking != "yes" {
		t.Errorf("core-2 ssh: %+v", hub.SSH)
	}

	e4 := inv.Host("edge-4")
	if e4.Leaf == nil || e4.Leaf.JetStreamDomain != "edge-4" || e4.Leaf.ClientHost != "127.0.0.1" ||
		e4.Leaf.MaxFileStore != "10GB" || e4.Leaf.ClusterPort != 0 {
		t.Errorf("edge-4 leaf: %+v", e4.Leaf)
	}
	if e4.Leaf.DomainRange.Start.Line != 102 {
		t.Errorf("edge-4 DomainRange = %s, want line 102", e4.Leaf.DomainRange)
	}
	w := e4.Wasmcloud
	if w == nil || w.NATSPort != 4222 || w.NATSHost != "127.0.0.1" || w.EnvFile != DefaultWasmcloudEnv {
		t.Fatalf("edge-4 wasmcloud: %+v", w)
	}
	if w.Labels["zone"] != "east" || w.Labels["rack"] != "r2" || len(w.Labels) != 2 {
		t.Errorf("edge-4 labels = %v, want zone=east rack=r2", w.Labels)
	}
	if got := e4.Rollout[RoleLeaf].BatchSize(4); got != 1 {
		t.Errorf("leaf batch of 4 = %d, want 1 (25%%)", got)
	}
	if got := e4.Rollout[RoleWasmcloud].Batch; got != "2" {
		t.Errorf("wasmcloud batch = %q, want \"2\"", got)
	}
	if inv.Auth.SecretsEnv["passwords.leaf"] != "LATTICEPUSH_LEAF_PASSWORD" {
		t.Errorf("SecretsEnv = %v", inv.Auth.SecretsEnv)
	}
	if inv.Auth.SecretsFile != filepath.Join(filepath.Dir(path), "secrets.json") {
		t.Errorf("SecretsFile = %s", inv.Auth.SecretsFile)
	}
	if len(inv.Digest) != 64 {
		t.Errorf("Digest = %q", inv.Digest)
	}
}

func TestGenerateSecrets_ThenLoad(t *testing.T) {
	path := copyExample(t, "edge")
	inv, diags := Load(path, Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	env := func(name string) (string, bool) {
		if name == "LATTICEPUSH_LEAF_PASSWORD" {
			return "from-env", true
		}
		return "", false
	}
	added, err := GenerateSecrets(inv, Options{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"host_seeds.edge-1", "host_seeds.edge-2", "host_seeds.edge-3", "host_seeds.edge-4", "passwords.check", "passwords.route", "passwords.system"}
	if len(added) != len(want) {
		t.Fatalf("added = %v, want %v", added, want)
	}
	for i := range want {
		if added[i] != want[i] {
			t.Fatalf("added = %v, want %v", added, want)
		}
	}
	st, err := os.Stat(inv.Auth.SecretsFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode %04o, want 0600", st.Mode().Perm())
	}
	before, _ := os.ReadFile(inv.Auth.SecretsFile)
	if again, err := GenerateSecrets(inv, Options{LookupEnv: env}); err != nil || len(again) != 0 {
		t.Errorf("second GenerateSecrets = %v, %v; want nothing added", again, err)
	}
	after, _ := os.ReadFile(inv.Auth.SecretsFile)
	if string(before) != string(after) {
		t.Error("second GenerateSecrets changed the file")
	}

	full, diags := Load(path, Options{LookupEnv: env})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if full.Auth.LeafPassword.Reveal() != "from-env" || full.Auth.LeafPassword.Source != "env LATTICEPUSH_LEAF_PASSWORD" {
		t.Errorf("leaf password source = %s", full.Auth.LeafPassword.Source)
	}
	if len(full.Auth.SystemPassword.Reveal()) != 43 {
		t.Errorf("system password has %d chars, want 43", len(full.Auth.SystemPassword.Reveal()))
	}
	w := full.Host("edge-1").Wasmcloud
	if w.HostSeed.Name() != "host_seeds.edge-1" || w.HostID == "" || w.HostID[0] != 'N' {
		t.Errorf("edge-1 seed %s id %q", w.HostSeed.Name(), w.HostID)
	}

	// Without the variable, the leaf password is missing from the file.
	_, diags = Load(path, Options{LookupEnv: noEnv})
	if !diags.HasErrors() || diags[0].Summary != "Missing secrets" {
		t.Errorf("without env: %v", diags)
	}
}

// TestExamplesValidate loads every example with secrets generated for it, as an operator
// would after `latticepush secrets`: each must load with no diagnostic at all. An example is
// examples/<name>/inventory.hcl, or the directory itself when it has none (then the *.hcl
// files in its sites/ directory are its -var-files).
func TestExamplesValidate(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "examples", "*"))
	if err != nil || len(dirs) < 5 {
		t.Fatalf("examples: %v, %v", dirs, err)
	}
	// Copy the whole tree: domain-change shares the lab's secrets file.
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "examples"))); err != nil {
		t.Fatal(err)
	}
	// As in a fresh clone: no secrets file (one left by `make demo` would be copied 0644).
	stale, _ := filepath.Glob(filepath.Join(root, "*", "secrets.json"))
	for _, f := range stale {
		os.Remove(f)
	}
	wantHosts := map[string]int{"fleet": 303}
	for _, src := range dirs {
		name := filepath.Base(src)
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(root, name, "inventory.hcl")
			var vars []VarArg
			if _, err := os.Stat(path); err != nil {
				path = filepath.Join(root, name)
				sites, _ := filepath.Glob(filepath.Join(path, "sites", "*.hcl"))
				for _, f := range sites {
					vars = append(vars, VarArg{File: f})
				}
			}
			inv, diags := Load(path, Options{SkipSecrets: true, Vars: vars, LookupEnv: noEnv})
			if len(diags) > 0 {
				t.Fatalf("Load without secrets:\n%s", dumpDiags(diags))
			}
			if _, err := GenerateSecrets(inv, Options{LookupEnv: noEnv}); err != nil {
				t.Fatal(err)
			}
			inv, diags = Load(path, Options{Vars: vars, LookupEnv: noEnv})
			if len(diags) > 0 {
				t.Fatalf("Load:\n%s", dumpDiags(diags))
			}
			for _, h := range inv.Hosts {
				if h.Wasmcloud != nil && !h.Wasmcloud.HostSeed.IsSet() {
					t.Errorf("%s: no host seed", h.Name)
				}
			}
			if !inv.Auth.LeafPassword.IsSet() {
				t.Error("no leaf password")
			}
			if n, ok := wantHosts[name]; ok && len(inv.Hosts) != n {
				t.Errorf("%d hosts, want %d", len(inv.Hosts), n)
			}
		})
	}
}
