package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
)

// simFleet is a simulated fleet of n hosts (3 hubs, n-3 edges) with its inventory.
type simFleet struct {
	sim  *Sim
	path string // inventory
	inv  *inventory.Inventory
}

// startSimFleet writes a key, an inventory and secrets into a temp dir and starts the
// simulated hosts, which hold exactly the files latticepush renders for them.
func startSimFleet(tb testing.TB, n int) *simFleet {
	tb.Helper()
	dir := tb.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		tb.Fatal(err)
	}
	keyPath, khPath := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, []byte(SimInventory(simNet(), n-3, keyPath, khPath)), 0o644); err != nil {
		tb.Fatal(err)
	}
	inv, diags := inventory.Load(path, inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		tb.Fatalf("simulated inventory: %v", diags)
	}
	if _, err := inventory.GenerateSecrets(inv, inventory.Options{}); err != nil {
		tb.Fatal(err)
	}
	if inv, diags = inventory.Load(path, inventory.Options{}); diags.HasErrors() {
		tb.Fatalf("simulated inventory: %v", diags)
	}
	desired, err := plan.Render(inv)
	if err != nil {
		tb.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	sim, err := StartSim(inv, desired, sshPub)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sim.Close)
	if err := sim.WriteKnownHosts(khPath); err != nil {
		tb.Fatal(err)
	}
	return &simFleet{sim: sim, path: path, inv: inv}
}

// simNet picks a /16 of 127/8 per process, so that the benchmark and a test of this
// package running at the same time do not ask for the same addresses.
func simNet() int { return 100 + os.Getpid()%150 }

// BenchmarkScale times `latticepush plan` (the CLI, as a process) against 100, 1000 and
// 5000 simulated hosts ($LATTICEPUSH_BENCH_SCALE overrides, e.g. "100,1000") and records
// its peak RSS, plus the in-process split of one run into load, render, observe and build.
func BenchmarkScale(b *testing.B) {
	sizes := []int{100, 1000, 5000}
	if v := os.Getenv("LATTICEPUSH_BENCH_SCALE"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 4 {
				b.Fatalf("LATTICEPUSH_BENCH_SCALE: bad size %q", s)
			}
			sizes = append(sizes, n)
		}
	}
	runs := envInt("LATTICEPUSH_BENCH_SCALE_RUNS", 3)
	raiseFileLimit(b, uint64(3*slices.Max(sizes)+1024)) // listeners + both ends of each connection
	latticepushBin(b)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			sf := startSimFleet(b, n)
			row := ScaleRow{Hosts: n}
			ctx := context.Background()
			for i := 0; i < runs; i++ {
				r := latticepush(ctx, b, "plan", "--detailed-exitcode", sf.path)
				r.mustExit(b, 0, fmt.Sprintf("plan of %d simulated hosts", n))
				row.Wall = append(row.Wall, r.Wall)
				row.PeakRSS = max(row.PeakRSS, r.MaxRSS)
			}
			row.Phases = phases(ctx, b, sf.path, fmt.Sprintf("scale-%d", n))
			b.ReportMetric(row.Wall.Median().Seconds(), "s/plan")
			b.ReportMetric(float64(row.PeakRSS)/(1<<20), "MiB-peak")
			b.ReportMetric(0, "ns/op")
			b.Logf("%d hosts: plan median %s (%s), peak RSS %.0f MiB; %s", n, secs(row.Wall.Median()), row.Wall.Spread(), float64(row.PeakRSS)/(1<<20), row.Phases)
			report.Scale = append(report.Scale, row)
		})
	}
}

// phases runs the CLI's plan pipeline in process once and says how long each step took.
// With $LATTICEPUSH_BENCH_PROFILE set to a directory, it writes name.cpu.pprof there.
func phases(ctx context.Context, tb testing.TB, path, name string) string {
	if dir := os.Getenv("LATTICEPUSH_BENCH_PROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			tb.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	inv, diags := inventory.Load(path, inventory.Options{})
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	t1 := time.Now()
	desired, err := plan.Render(inv)
	if err != nil {
		tb.Fatal(err)
	}
	t2 := time.Now()
	pool := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer pool.Close()
	fl := fleet.New(inv, pool, fleet.Options{})
	probes := plan.Probes(inv, desired, plan.Options{})
	facts := fl.Observe(ctx, probes)
	t3 := time.Now()
	p, err := plan.Build(inv, desired, facts, plan.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	t4 := time.Now()
	if p.HasChanges() {
		tb.Fatalf("in-process plan of the simulated fleet has changes: %s", p.Summary())
	}
	return fmt.Sprintf("load %s, render %s, observe %s, build %s", secs(t1.Sub(t0)), secs(t2.Sub(t1)), secs(t3.Sub(t2)), secs(t4.Sub(t3)))
}
