package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fleetSites are examples/fleet/sites/*.hcl, written out by hand: the hand-expanded fleet is
// made from these, not from latticepush's own evaluation of the example.
var fleetSites = []struct {
	name, zone string
	net        int // 10.<net>.0.0/22
	edges      int
}{
	{"ams", "eu-west", 1, 100},
	{"fra", "eu-central", 2, 100},
	{"nyc", "us-east", 3, 100},
}

// expandedFleet is examples/fleet as one would write it without variables, functions or
// generated hosts: 3 hub blocks and 300 edge blocks.
func expandedFleet() []byte {
	var b bytes.Buffer
	b.WriteString(`# examples/fleet expanded by hand (go test ./cmd/latticepush -run TestFleetRenderMatchesExpanded -update).
lattice "fleet" {
  js_domain = "core"
}

defaults {
  ssh {
    user   = "deploy"
    become = true
  }
  service_manager = "systemd"
  parallelism     = 64
}

role "hub" {
  nats {
    cluster_name     = "core"
    max_file_store   = "500GB"
    max_memory_store = "8GB"
  }
}

role "leaf" {
  nats {
    max_file_store = "10GB"
  }
  rollout {
    batch           = "10%"
    max_unreachable = 3
  }
}

role "wasmcloud" {
  wasmcloud {
    labels = {
      owner = "platform"
      tier  = "edge"
    }
  }
  rollout {
    batch = "10%"
  }
}
`)
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "\nhost \"hub-%d\" {\n  address = \"10.0.0.%d\"\n  roles   = [\"hub\"]\n}\n", i, 10+i)
	}
	for _, s := range fleetSites {
		for i := 1; i <= s.edges; i++ {
			fmt.Fprintf(&b, "\nhost \"%s-edge-%03d\" {\n  address = \"10.%d.0.%d\"\n  roles   = [\"leaf\", \"wasmcloud\"]\n", s.name, i, s.net, 10+i)
			fmt.Fprintf(&b, "  labels = {\n    site = %q\n    zone = %q\n    rack = \"r%02d\"\n  }\n}\n", s.name, s.zone, (i+19)/20)
		}
	}
	return b.Bytes()
}

// TestFleetRenderMatchesExpanded: render of examples/fleet (a directory inventory, one
// -var-file per site, 300 generated edges) writes exactly the bytes render writes for the
// hand-expanded inventory in testdata.
func TestFleetRenderMatchesExpanded(t *testing.T) {
	expanded, err := filepath.Abs(filepath.Join("testdata", "fleet-expanded", "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(expanded, expandedFleet(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if raw, err := os.ReadFile(expanded); err != nil || !bytes.Equal(raw, expandedFleet()) {
		t.Fatalf("%s is not the hand expansion (go test -run %s -update): %v", expanded, t.Name(), err)
	}
	fleet, err := filepath.Abs(filepath.Join("..", "..", "examples", "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := []string{"render", fleet, "-o", filepath.Join(out, "generated")}
	for _, s := range fleetSites {
		args = append(args, "-var-file", filepath.Join(fleet, "sites", s.name+".hcl"))
	}
	if code, stdout, stderr := runCLI(t, out, args...); code != 0 || !strings.Contains(stdout, "for 303 hosts") {
		t.Fatalf("render fleet: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, out, "render", expanded, "-o", filepath.Join(out, "expanded")); code != 0 {
		t.Fatalf("render expanded: exit %d\n%s%s", code, stdout, stderr)
	}
	gen, exp := readTree(t, filepath.Join(out, "generated")), readTree(t, filepath.Join(out, "expanded"))
	if len(gen) != 300*4+3*2 || len(gen) != len(exp) {
		t.Fatalf("generated %d files, expanded %d, want %d each (4 per edge, 2 per hub)", len(gen), len(exp), 300*4+3*2)
	}
	for p, want := range exp {
		if got, ok := gen[p]; !ok || got != want {
			t.Errorf("%s differs from the hand-expanded inventory's:\n%s\nwant:\n%s", p, got, want)
		}
	}
}

// readTree returns every regular file under dir, by relative path, with its mode.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = fmt.Sprintf("%v\n%s", st.Mode(), raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestFmt_Fleet: the fleet example (its directory and its variables files) is canonical, and
// fmt puts a misaligned copy of its generating block back into that form.
func TestFmt_Fleet(t *testing.T) {
	fleet, err := filepath.Abs(filepath.Join("..", "..", "examples", "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCLI(t, fleet, "fmt", "--check", fleet, filepath.Join(fleet, "sites")); code != exitOK {
		t.Fatalf("fmt --check: exit %d %s%s", code, stdout, stderr)
	}
	want, err := os.ReadFile(filepath.Join(fleet, "edges.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	messy := strings.NewReplacer("  for_each = local.edges", "for_each=local.edges", "  address  = each.value.address", "   address = each.value.address",
		"    site = each.value.site", "site=each.value.site", "  ]...)", "]...)").Replace(string(want))
	if messy == string(want) {
		t.Fatal("the replacements changed nothing")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "edges.hcl")
	if err := os.WriteFile(path, []byte(messy), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, dir, "fmt", path); code != exitOK {
		t.Fatalf("fmt: exit %d %s", code, stderr)
	}
	if got, _ := os.ReadFile(path); string(got) != string(want) {
		t.Errorf("fmt wrote:\n%s\nwant:\n%s", got, want)
	}
}
