package inventory

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the decoder and validation: they must never panic, and
// Load's contract must hold (an inventory exactly when there is no error, hosts sorted,
// every diagnostic about the file it was given).
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "examples", "*", "inventory.hcl"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*.hcl"))
	invalid, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.hcl"))
	generated, _ := filepath.Glob(filepath.Join("testdata", "generated", "*.hcl"))
	for _, p := range append(append(append(seeds, more...), invalid...), generated...) {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		inv, diags := NewLoader().LoadSource("fuzz.hcl", src, Options{SkipSecrets: true})
		if (inv == nil) != diags.HasErrors() {
			t.Fatalf("inventory %v with errors=%v", inv != nil, diags.HasErrors())
		}
		for _, d := range diags {
			if d.Subject != nil && d.Subject.Filename != "fuzz.hcl" {
				t.Fatalf("diagnostic about %q: %s", d.Subject.Filename, d.Error())
			}
		}
		if inv != nil && !sort.SliceIsSorted(inv.Hosts, func(i, j int) bool { return inv.Hosts[i].Name < inv.Hosts[j].Name }) {
			t.Fatal("hosts not sorted")
		}
	})
}
