package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkValidate times `latticepush validate` of the 300-edge fleet example and of a
// 10,000-host generated inventory, $LATTICEPUSH_BENCH_VALIDATE_RUNS runs each (default 5),
// and records the CLI's peak RSS. No lab, no network.
func BenchmarkValidate(b *testing.B) {
	root := moduleRoot()
	fleet := filepath.Join(root, "examples", "fleet")
	cases := []struct {
		name  string
		hosts int
		args  []string
	}{
		{"examples/fleet (3 sites)", 303, []string{fleet,
			"-var-file", filepath.Join(fleet, "sites", "ams.hcl"),
			"-var-file", filepath.Join(fleet, "sites", "fra.hcl"),
			"-var-file", filepath.Join(fleet, "sites", "nyc.hcl")}},
		{"inventory/testdata/scale", 10003, []string{filepath.Join(root, "inventory", "testdata", "scale", "inventory.hcl")}},
	}
	runs := envInt("LATTICEPUSH_BENCH_VALIDATE_RUNS", 5)
	latticepushBin(b)
	for _, c := range cases {
		b.Run(fmt.Sprintf("hosts=%d", c.hosts), func(b *testing.B) {
			row := ValidateRow{Name: c.name, Hosts: c.hosts}
			for i := 0; i < runs; i++ {
				r := latticepushPeak(context.Background(), b, append([]string{"validate"}, c.args...)...)
				r.mustExit(b, 0, "validate "+c.name)
				row.Wall = append(row.Wall, r.Wall)
				row.PeakRSS = max(row.PeakRSS, r.MaxRSS)
			}
			b.ReportMetric(row.Wall.Median().Seconds(), "s/validate")
			b.ReportMetric(float64(row.PeakRSS)/(1<<20), "MiB-peak")
			b.ReportMetric(0, "ns/op")
			report.Validate = append(report.Validate, row)
		})
	}
}
