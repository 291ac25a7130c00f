package unit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden pins every rendered file of every example, byte for byte, plus each file's mode,
// service, kind and secret flag (testdata/golden/<example>/files.txt). Secrets render as
// placeholders, as in `render -o`. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	for _, name := range examples(t) {
		t.Run(name, func(t *testing.T) {
			all := renderAll(t, loadExample(t, name), Options{})
			root := filepath.Join("testdata", "golden", name)
			got := map[string][]byte{}
			var manifest []string
			for host, files := range all {
				for _, f := range files {
					rel := filepath.Join(host, strings.TrimPrefix(f.Path, "/"))
					got[rel] = f.Content
					manifest = append(manifest, fmt.Sprintf("%s %s %04o %s %s secret=%t",
						host, f.Path, f.Mode, f.Service, f.Kind, f.Secret))
				}
			}
			sort.Strings(manifest)
			got["files.txt"] = []byte(strings.Join(manifest, "\n") + "\n")

			if *update {
				if err := os.RemoveAll(root); err != nil {
					t.Fatal(err)
				}
				for rel, b := range got {
					p := filepath.Join(root, rel)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}

			want := map[string][]byte{}
			err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				rel, _ := filepath.Rel(root, p)
				want[rel] = b
				return err
			})
			if err != nil {
				t.Fatalf("read golden files (run `go test ./unit -run TestGolden -update`): %v", err)
			}
			for rel, b := range got {
				w, ok := want[rel]
				switch {
				case !ok:
					t.Errorf("%s: rendered but no golden file (run with -update)", rel)
				case !bytes.Equal(w, b):
					t.Errorf("%s differs from its golden file (run with -update if intended):\n--- got\n%s", rel, b)
				}
			}
			for rel := range want {
				if _, ok := got[rel]; !ok {
					t.Errorf("%s: golden file for a file no longer rendered", rel)
				}
			}
		})
	}
}

// TestDeterministic renders twice and expects identical bytes, and checks that a host's files
// do not change when an unrelated host is edited.
func TestDeterministic(t *testing.T) {
	inv := loadExample(t, "edge")
	a := renderAll(t, inv, Options{RevealSecrets: true})
	b := renderAll(t, inv, Options{RevealSecrets: true})
	for host := range a {
		for i := range a[host] {
			if !bytes.Equal(a[host][i].Content, b[host][i].Content) {
				t.Errorf("%s %s: two renders differ", host, a[host][i].Path)
			}
		}
	}

	src, err := os.ReadFile("../examples/edge/inventory.hcl")
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(src, []byte(`labels  = { rack = "r1" }`), []byte(`labels  = { rack = "r9" }`), 1)
	if bytes.Equal(src, edited) {
		t.Fatal("edit did not apply: the edge example changed")
	}
	c := renderAll(t, loadSource(t, "edge", edited), Options{RevealSecrets: true})
	changed := map[string]bool{}
	for host := range a {
		for i := range a[host] {
			if !bytes.Equal(a[host][i].Content, c[host][i].Content) {
				changed[host] = true
			}
		}
	}
	if len(changed) != 1 || !changed["edge-1"] {
		t.Errorf("editing edge-1's label changed the files of %v; want only edge-1", changed)
	}
}
