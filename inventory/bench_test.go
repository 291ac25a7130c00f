package inventory

import (
	"path/filepath"
	"runtime"
	"testing"
)

// Validate's work on big inventories: the 300-edge fleet example (a directory, three
// -var-files) and testdata/scale, 10,000 generated edges and 3 hubs. Run with
//
//	go test ./inventory -run '^$' -bench Validate -benchmem
//
// peak-heap-MB is the largest live heap seen after a load (runtime.MemStats.HeapInuse), a
// lower bound on the process's peak; BENCHMARKS.md has the CLI's wall time and peak RSS.
func BenchmarkValidateFleet300(b *testing.B) {
	fleet := filepath.Join("..", "examples", "fleet")
	var vars []VarArg
	for _, s := range []string{"ams", "fra", "nyc"} {
		vars = append(vars, VarArg{File: filepath.Join(fleet, "sites", s+".hcl")})
	}
	benchValidate(b, fleet, vars, 303)
}

func BenchmarkValidateGenerated10000(b *testing.B) {
	benchValidate(b, filepath.Join("testdata", "scale", "inventory.hcl"), nil, 10003)
}

func benchValidate(b *testing.B, path string, vars []VarArg, hosts int) {
	b.ReportAllocs()
	var peak uint64
	var ms runtime.MemStats
	for b.Loop() {
		inv, diags := Load(path, Options{SecretsOptional: true, Vars: vars, LookupEnv: noEnv})
		if diags.HasErrors() {
			b.Fatal(dumpDiags(diags))
		}
		if len(inv.Hosts) != hosts {
			b.Fatalf("%d hosts, want %d", len(inv.Hosts), hosts)
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
