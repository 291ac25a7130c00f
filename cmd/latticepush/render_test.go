package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderPlaceholders: render -o without secrets needs no secrets file, writes
// placeholders, and gives files that hold secrets mode 0600.
func TestRenderPlaceholders(t *testing.T) {
	out := t.TempDir()
	example, err := filepath.Abs("../../examples/minimal/inventory.hcl")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, out, "render", example, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	env := filepath.Join(out, "edge-1", "etc", "wasmcloud", "wasmcloud.env")
	b, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `WASMCLOUD_HOST_SEED="${secret:host_seeds.edge-1}"`) {
		t.Errorf("env file without the seed placeholder:\n%s", b)
	}
	if st, _ := os.Stat(env); st.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600", st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Join(out, "hub-1", "etc", "systemd", "system", "nats-server.service")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("hub-1 unit: %v %v", err, st)
	}
}

// TestFmtCheckAndWrite: --check lists an unformatted file and exits 1 without touching it;
// fmt then rewrites it, after which --check passes.
func TestFmtCheckAndWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.hcl")
	ugly := "lattice \"x\" {\n      js_domain=\"hub\"\n}\n"
	if err := os.WriteFile(path, []byte(ugly), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, filepath.Dir(path), "fmt", "--check", path)
	if code != 1 || !strings.Contains(stdout, path) {
		t.Fatalf("fmt --check: exit %d, stdout %q", code, stdout)
	}
	if b, _ := os.ReadFile(path); string(b) != ugly {
		t.Fatal("fmt --check changed the file")
	}
	if code, _, stderr := runCLI(t, filepath.Dir(path), "fmt", path); code != 0 {
		t.Fatalf("fmt: exit %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "lattice \"x\" {\n  js_domain = \"hub\"\n}\n" {
		t.Errorf("fmt wrote %q", b)
	}
	if code, _, _ := runCLI(t, filepath.Dir(path), "fmt", "--check", path); code != 0 {
		t.Errorf("fmt --check after fmt: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("lattice {\n"), 0o644)
	if code, _, stderr := runCLI(t, filepath.Dir(bad), "fmt", bad); code != 1 || !strings.Contains(stderr, "bad.hcl") {
		t.Errorf("fmt on a syntax error: exit %d, stderr %q", code, stderr)
	}
}
