package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkUp10 and BenchmarkUp50 report how long a lab takes to come up (until sshd answers
// on every host) and to go down, and what it costs in memory: the proportional set size of
// every process in its hosts, and the drop in the machine's MemAvailable (which also counts kernel
// objects and page cache).
func BenchmarkUp10(b *testing.B) { benchmarkUp(b, 10) }

// BenchmarkUp50 is BenchmarkUp10 with 50 hosts.
func BenchmarkUp50(b *testing.B) { benchmarkUp(b, 50) }

func benchmarkUp(b *testing.B, n int) {
	requireLab(b)
	ctx := context.Background()
	var up, down time.Duration
	var pss, avail float64
	for i := 0; i < b.N; i++ {
		spec := Spec{Name: fmt.Sprintf("b%d-up%d-%d", os.Getpid(), n, i)}
		for j := 1; j <= n; j++ {
			spec.Hosts = append(spec.Hosts, HostSpec{Name: fmt.Sprintf("h%d", j)})
		}
		before := memAvailable()
		start := time.Now()
		f, err := Up(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		up += time.Since(start)
		time.Sleep(500 * time.Millisecond) // let the hosts settle before measuring memory
		pss += float64(f.pss())
		avail += float64(before - memAvailable())
		start = time.Now()
		if err := f.Down(ctx); err != nil {
			b.Fatal(err)
		}
		down += time.Since(start)
	}
	N := float64(b.N)
	b.ReportMetric(up.Seconds()/N, "s/up")
	b.ReportMetric(down.Seconds()/N, "s/down")
	b.ReportMetric(pss/N/(1<<20), "MiB-pss")
	b.ReportMetric(pss/N/float64(n)/(1<<20), "MiB-pss/host")
	b.ReportMetric(avail/N/(1<<20), "MiB-memavail")
	b.ReportMetric(0, "ns/op") // the per-op time is s/up + s/down; ns/op would mislead
}

// pss sums the proportional set size (Pss: shared pages split between their users, so sums
// are honest) of every process in the lab's hosts (their PID namespaces).
func (f *Fleet) pss() int64 {
	nss := map[string]bool{}
	for _, h := range f.st.Hosts {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", h.initOf().PID)); err == nil {
			nss[ns] = true
		}
	}
	var total int64
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if ns, err := os.Readlink(d + "/ns/pid"); err != nil || !nss[ns] {
			continue
		}
		total += statusKB(d+"/smaps_rollup", "Pss:") * 1024
	}
	return total
}

func memAvailable() int64 { return statusKB("/proc/meminfo", "MemAvailable:") * 1024 }

// statusKB returns the kB value of the line starting with key in a /proc status-style file.
func statusKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
