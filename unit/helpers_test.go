package unit

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// examples returns the names of the example inventories under examples/.
func examples(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("../examples/*/inventory.hcl")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example inventories found: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(filepath.Dir(p)))
	}
	sort.Strings(names)
	return names
}

// loadExample loads examples/<name>/inventory.hcl with the fixed fake secrets of
// testdata/secrets.json: the example is copied into a temp dir and the secrets file written
// where the inventory looks for it.
func loadExample(t *testing.T, name string) *inventory.Inventory {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../examples", name, "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return loadSource(t, name, src)
}

// loadSource loads an inventory held in src (as if it were examples/<name>/inventory.hcl)
// with the fake secrets.
func loadSource(t *testing.T, name string, src []byte) *inventory.Inventory {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := inventory.Options{LookupEnv: func(string) (string, bool) { return "", false }}
	skip := noEnv
	skip.SkipSecrets = true
	inv, diags := inventory.Load(path, skip)
	if diags.HasErrors() {
		t.Fatalf("load %s: %s", name, diags.Error())
	}
	secrets, err := os.ReadFile("testdata/secrets.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(inv.Auth.SecretsFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inv.Auth.SecretsFile, secrets, 0o600); err != nil {
		t.Fatal(err)
	}
	inv, diags = inventory.Load(path, noEnv)
	if diags.HasErrors() {
		t.Fatalf("load %s with secrets: %s", name, diags.Error())
	}
	return inv
}

// renderAll renders inv or fails the test.
func renderAll(t *testing.T, inv *inventory.Inventory, opts Options) map[string][]File {
	t.Helper()
	all, err := All(inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// fileAt returns the file at path among files, or fails the test.
func fileAt(t *testing.T, files []File, path string) File {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no file %s rendered", path)
	return File{}
}
