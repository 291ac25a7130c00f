package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCLI runs one command line in dir and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// copyFile copies src into dir under name, with mode perm.
func copyFile(t *testing.T, src, dir, name string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeSecrets(t *testing.T, dir string) {
	t.Helper()
	doc := `{"passwords": {"system": "s3cr3t-s", "leaf": "s3cr3t-l", "check": "s3cr3t-c", "route": "s3cr3t-r"}}`
	if err := os.WriteFile(filepath.Join(dir, "secrets.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestValidate_JSONGolden pins the -json document: two errors and a warning.
func TestValidate_JSONGolden(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "validate", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile(t, filepath.Join("testdata", "validate", "inventory.hcl"), dir, "inventory.hcl")
	writeSecrets(t, dir)

	code, stdout, stderr := runCLI(t, dir, "validate", "-json", "inventory.hcl")
	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	if stderr != "" {
		t.Errorf("stderr not empty with -json: %q", stderr)
	}
	if *update {
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("validate -json differs from %s (go test -run %s -update to accept):\n%s", golden, t.Name(), stdout)
	}
}

func TestValidate_Human(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join("testdata", "validate", "inventory.hcl"), dir, "inventory.hcl")
	writeSecrets(t, dir)

	code, stdout, stderr := runCLI(t, dir, "validate", "--no-color", "inventory.hcl")
	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	if want := "Invalid: 2 errors, 1 warning.\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	for _, want := range []string{
		"Error: Unsupported argument\n\n  on inventory.hcl:29:5, in host \"edge-1\":\n    29:     client_prot      = 4222\n",
		`An argument named "client_prot" is not expected here.`,
		"Error: Leaf domain equals the hub domain\n\n  on inventory.hcl:28:5",
		"Warning: Even number of hubs\n\n  on inventory.hcl:21:3",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "Even number of hubs"); n != 1 {
		t.Errorf("warning printed %d times, want once", n)
	}
	if strings.Contains(stderr, "\x1b[") {
		t.Error("colour codes with --no-color")
	}
}

// TestValidate_WarningsOnlyExitZero: an even hub count alone is valid.
func TestValidate_WarningsOnlyExitZero(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "validate", "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(src), "    jetstream_domain = \"hub\"\n    client_prot      = 4222\n", "", 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inventory.hcl"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	writeSecrets(t, dir)

	code, stdout, stderr := runCLI(t, dir, "validate", "inventory.hcl")
	if code != exitOK {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr)
	}
	if want := "Valid: 2 hubs, 1 leaf, 0 wasmCloud hosts, lattice default, domain hub (1 warning).\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if !strings.Contains(stderr, "Warning: Even number of hubs") {
		t.Errorf("stderr lacks the warning:\n%s", stderr)
	}
}

// TestSecretsThenValidate: `secrets` fills a fresh example's secrets file, prints names only,
// and `validate` then passes.
func TestSecretsThenValidate(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join("..", "..", "examples", "edge", "inventory.hcl"), dir, "inventory.hcl")
	t.Setenv("LATTICEPUSH_LEAF_PASSWORD", "")

	code, stdout, stderr := runCLI(t, dir, "secrets", "inventory.hcl")
	if code != exitOK {
		t.Fatalf("secrets: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "  + host_seeds.edge-4\n") || !strings.Contains(stdout, "  + passwords.leaf\n") {
		t.Errorf("secrets output lacks the names it added:\n%s", stdout)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Passwords map[string]string `json:"passwords"`
		HostSeeds map[string]string `json:"host_seeds"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Passwords) != 4 || len(doc.HostSeeds) != 4 {
		t.Fatalf("secrets file holds %d passwords and %d seeds, want 4 and 4", len(doc.Passwords), len(doc.HostSeeds))
	}
	for _, m := range []map[string]string{doc.Passwords, doc.HostSeeds} {
		for k, v := range m {
			if strings.Contains(stdout+stderr, v) {
				t.Errorf("secrets printed the value of %s", k)
			}
		}
	}

	code, stdout, _ = runCLI(t, dir, "secrets", "inventory.hcl")
	if code != exitOK || !strings.Contains(stdout, "nothing added") {
		t.Errorf("second secrets: exit %d, %q", code, stdout)
	}
	code, stdout, stderr = runCLI(t, dir, "validate", "inventory.hcl")
	if code != exitOK {
		t.Fatalf("validate: exit %d\n%s", code, stderr)
	}
	if want := "Valid: 3 hubs, 4 leaves, 4 wasmCloud hosts, lattice prod, domain core.\n"; stdout != want {
		t.Errorf("validate: %q, want %q", stdout, want)
	}
}
