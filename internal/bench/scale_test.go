package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// simFleet is a simulated fleet of n hosts (3 hubs, n-3 edges) with its inventory, served
// by Procs processes.
type simFleet struct {
	path  string // inventory
	inv   *inventory.Inventory
	procs int
	floor Floor // the client side of the floor against these hosts
}

// addrs lists every simulated host's SSH address.
func (sf *simFleet) addrs() []string {
	out := make([]string, len(sf.inv.Hosts))
	for i, h := range sf.inv.Hosts {
		out[i] = simSSHAddr(h)
	}
	return out
}

// simHostsPerProcess is how many simulated hosts one process serves by default: two
// descriptors each, well under a process's 20,000.
const simHostsPerProcess = 2500

// startSimFleet writes a key, an inventory and secrets into a temp dir and starts the
// simulated hosts, which hold exactly the files latticepush renders for them, in processes of
// at most perProc hosts ($LATTICEPUSH_BENCH_SIM_PER_PROCESS, default simHostsPerProcess).
func startSimFleet(tb testing.TB, n int) *simFleet {
	return startSimFleetSplit(tb, n, envInt("LATTICEPUSH_BENCH_SIM_PER_PROCESS", simHostsPerProcess))
}

func startSimFleetSplit(tb testing.TB, n, perProc int) *simFleet {
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
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	hostBlock, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		tb.Fatal(err)
	}
	hostKeyPath := filepath.Join(dir, "sim_host_key")
	if err := os.WriteFile(hostKeyPath, pem.EncodeToMemory(hostBlock), 0o600); err != nil {
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
	hostSigner, _ := ssh.NewSignerFromKey(hostPriv)
	if err := writeKnownHosts(khPath, inv, hostSigner.PublicKey()); err != nil {
		tb.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	sf := &simFleet{path: path, inv: inv, floor: Floor{User: "root", KeyPath: keyPath, KnownHosts: khPath}}
	for from := 0; from < len(inv.Hosts); from += perProc {
		spec := SimSpec{Inventory: path, HostKey: hostKeyPath, ClientKey: string(ssh.MarshalAuthorizedKey(sshPub)),
			From: from, To: min(from+perProc, len(inv.Hosts))}
		startSimProcess(tb, spec)
		sf.procs++
	}
	return sf
}

// startSimProcess starts one process serving spec's hosts and waits until it listens; the
// test's cleanup closes its standard input and waits for it to exit.
func startSimProcess(tb testing.TB, spec SimSpec) {
	tb.Helper()
	js, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), SimChildEnv+"="+string(js))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	tb.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill() // the process this test started, by its own handle
			<-done
		}
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
	if strings.TrimSpace(line) != "ready" {
		stdin.Close()
		<-done
		tb.Fatalf("simulated hosts %d-%d did not start: %q %s", spec.From, spec.To, line, stderr.String())
	}
}

// simNet picks a /16 of 127/8 per process, so that the benchmark and a test of this
// package running at the same time do not ask for the same addresses.
func simNet() int { return 100 + os.Getpid()%150 }

// BenchmarkScale times `latticepush plan` (the CLI, as a process) against 100, 1000 and
// 10000 simulated hosts ($LATTICEPUSH_BENCH_SCALE overrides, e.g. "100,1000") and records
// its peak RSS, plus the in-process split of one run into load, render, observe and build.
func BenchmarkScale(b *testing.B) {
	sizes := []int{100, 1000, 10000}
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
	// The CLI (and the in-process run) holds one connection per host; the simulated hosts
	// are other processes.
	raiseFileLimit(b, uint64(slices.Max(sizes)+1024))
	latticepushBin(b)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			sf := startSimFleet(b, n)
			row := ScaleRow{Hosts: n}
			ctx := context.Background()
			for i := 0; i < runs; i++ {
				r := latticepushPeak(ctx, b, "plan", "--detailed-exitcode", sf.path)
				r.mustExit(b, 0, fmt.Sprintf("plan of %d simulated hosts", n))
				row.Wall = append(row.Wall, r.Wall)
				row.PeakRSS = max(row.PeakRSS, r.MaxRSS)
				d, err := sf.floor.Run(ctx, sf.addrs())
				if err != nil {
					b.Fatalf("floor of %d simulated hosts: %v", n, err)
				}
				row.Floor = append(row.Floor, d)
			}
			split := phases(ctx, b, sf.path, fmt.Sprintf("scale-%d", n))
			row.Phases, row.HeapPerHost, row.Procs = split.text, split.heapPerHost, sf.procs
			b.ReportMetric(row.Wall.Median().Seconds(), "s/plan")
			b.ReportMetric(float64(row.PeakRSS)/(1<<20), "MiB-peak")
			b.ReportMetric(0, "ns/op")
			b.Logf("%d hosts (served by %d process(es)): floor median %s (%s); plan median %s (%s), peak RSS %.0f MiB (%.0f KiB per host); heap and stacks per host after observe %.1f KiB; %s",
				n, sf.procs, secs(row.Floor.Median()), row.Floor.Spread(), secs(row.Wall.Median()), row.Wall.Spread(), float64(row.PeakRSS)/(1<<20), float64(row.PeakRSS)/float64(n)/1024, float64(row.HeapPerHost)/1024, row.Phases)
			report.Scale = append(report.Scale, row)
		})
	}
}

// phases runs the CLI's plan pipeline in process once and says how long each step took.
// With $LATTICEPUSH_BENCH_PROFILE set to a directory, it writes name.cpu.pprof there.
func phases(ctx context.Context, tb testing.TB, path, name string) phaseSplit {
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
	before := heapInUse()
	facts := fl.Observe(ctx, probes)
	t3 := time.Now()
	perHost := float64(heapInUse()-before) / float64(len(inv.Hosts))
	if dir := os.Getenv("LATTICEPUSH_BENCH_PROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, name+".heap.pprof"))
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			tb.Fatal(err)
		}
	}
	p, err := plan.Build(inv, desired, facts, plan.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	t4 := time.Now()
	if p.HasChanges() {
		tb.Fatalf("in-process plan of the simulated fleet has changes: %s", p.Summary())
	}
	runtime.KeepAlive(facts)
	return phaseSplit{text: fmt.Sprintf("load %s, render %s, observe %s, build %s", secs(t1.Sub(t0)), secs(t2.Sub(t1)), secs(t3.Sub(t2)), secs(t4.Sub(t3))),
		heapPerHost: int64(perHost)}
}

// phaseSplit is what one in-process run measured: the time of each step, and the heap a host
// holds once its facts are in (its connection and its facts, after a collection).
type phaseSplit struct {
	text        string
	heapPerHost int64 // bytes
}

func (p phaseSplit) String() string { return p.text }

// heapInUse is the live heap and the goroutine stacks after a collection, in bytes.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
