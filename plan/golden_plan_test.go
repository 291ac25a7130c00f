package plan_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"

	"github.com/latticepush/latticepush/inventory"
)

var updatePlans = flag.Bool("update-plans", false, "rewrite testdata/plans/*.json")

// TestGoldenPlanJSON pins the plan document (`plan --json`) of every example against fixed
// facts: an empty fleet, a converged one, and for the domain-change example the hubs still
// on the previous domain (a cutover). The secrets come from testdata/plans/*.secrets.json, so
// file hashes are stable. Refactorings of the planner must keep these bytes identical.
func TestGoldenPlanJSON(t *testing.T) {
	for _, name := range []string{"minimal", "edge", "lab", "domain-change", "tiered"} {
		inv := loadGoldenExample(t, name)
		desired, err := plan.Render(inv)
		if err != nil {
			t.Fatal(err)
		}
		scenarios := map[string]struct {
			facts map[string]plan.Facts
			opts  plan.Options
		}{
			"empty":     {goldenFacts(inv, desired, false, ""), plan.Options{}},
			"converged": {goldenFacts(inv, desired, true, inv.Lattice.JSDomain), plan.Options{}},
		}
		if prev := inv.Lattice.PreviousJSDomain; prev != "" {
			scenarios["cutover"] = struct {
				facts map[string]plan.Facts
				opts  plan.Options
			}{goldenFacts(inv, desired, true, prev), plan.Options{AllowDomainChange: true}}
		}
		for scenario, sc := range scenarios {
			t.Run(name+"/"+scenario, func(t *testing.T) {
				p, err := plan.Build(inv, desired, sc.facts, sc.opts)
				if err != nil {
					t.Fatal(err)
				}
				p.Inventory = "examples/" + name + "/inventory.hcl"
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetIndent("", "  ")
				if err := enc.Encode(p); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "plans", name+"-"+scenario+".json")
				if *updatePlans {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./plan -run TestGoldenPlanJSON -update-plans)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					got := filepath.Join(t.TempDir(), filepath.Base(golden))
					os.WriteFile(got, buf.Bytes(), 0o644)
					t.Errorf("plan JSON differs from %s (got: %s)", golden, got)
				}
			})
		}
	}
}

// loadGoldenExample loads examples/<name> with the fixed secrets of testdata/plans.
func loadGoldenExample(t *testing.T, name string) *inventory.Inventory {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", name, "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(src), `"../lab/secrets.json"`, `"secrets.json"`)
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join("testdata", "plans", name+".secrets.json")
	b, err := os.ReadFile(secrets)
	if os.IsNotExist(err) && *updatePlans {
		inv, diags := inventory.Load(path, inventory.Options{SkipSecrets: true})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if _, err := inventory.GenerateSecrets(inv, inventory.Options{}); err != nil {
			t.Fatal(err)
		}
		b, err = os.ReadFile(filepath.Join(dir, "secrets.json"))
		if err == nil {
			err = os.WriteFile(secrets, b, 0o644)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	inv, diags := inventory.Load(path, inventory.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", name, diags)
	}
	return inv
}

// goldenFacts are the facts of a fleet where nothing is installed (installed false), or
// where every host holds and runs its rendered files with the hubs on domain.
func goldenFacts(inv *inventory.Inventory, d plan.Desired, installed bool, domain string) map[string]plan.Facts {
	facts := map[string]plan.Facts{}
	for _, h := range inv.Hosts {
		f := plan.Facts{Host: h.Name, Files: map[string]plan.FileFact{}, Services: map[string]plan.ServiceFact{}}
		for _, df := range d[h.Name] {
			if installed {
				f.Files[df.Path] = plan.FileFact{Exists: true, Mode: df.Mode, Size: int64(len(df.Content)), SHA256: plantest.SHA(df.Content), Content: df.Content, MTime: 1000}
			} else {
				f.Files[df.Path] = plan.FileFact{}
			}
		}
		if n := h.NATS(); n != nil {
			var digest string
			for _, df := range d[h.Name] {
				if df.Path == n.ConfigFile {
					digest = "sha256:" + plantest.SHA(df.Content)
				}
			}
			nf := &plan.NATSFacts{Version: "2.15.2", DesiredDigest: digest}
			if installed {
				f.Services[plan.ServiceNATS] = plan.ServiceFact{Running: true, PID: 100, Enabled: true, Started: 2000}
				nf.RunningDigest, nf.ServerName = digest, n.ServerName
				nf.ClientPort, nf.HTTPPort = n.ClientPort, n.HTTPPort
				nf.Domain = n.JetStreamDomain
				if h.Hub != nil {
					nf.Domain, nf.ClusterName = domain, n.ClusterName
					nf.ClusterPort, nf.LeafnodePort = n.ClusterPort, n.LeafnodePort
					nf.MetaLeader = inv.Hubs()[0].Hub.ServerName
				}
			}
			f.NATS = nf
		}
		if h.Wasmcloud != nil && installed {
			f.Services[plan.ServiceWasmcloud] = plan.ServiceFact{Running: true, PID: 200, Enabled: true, Started: 2000}
		}
		facts[h.Name] = f
	}
	return facts
}
