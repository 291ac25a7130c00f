package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// LoadSample is the machine's load just before a timed run: the share of all CPUs busy over
// a short window while the benchmark itself waits (so: other processes, and whatever a
// previous run left behind), and the kernel's 1-minute load average.
type LoadSample struct {
	Busy  float64 // percent of all CPUs, 0-100
	Load1 float64
}

func (l LoadSample) String() string { return fmt.Sprintf("%.0f%% busy, load %.2f", l.Busy, l.Load1) }

// cpuTimes reads the aggregate cpu line of /proc/stat: busy and total jiffies.
func cpuTimes() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %q: %w", line, err)
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// jiffies converts /proc/stat's clock ticks (USER_HZ, 100 on Linux) to a duration.
func jiffies(n uint64) time.Duration { return time.Duration(n) * 10 * time.Millisecond }

// sampleLoad measures the CPUs' busy share over window.
func sampleLoad(ctx context.Context, window time.Duration) (LoadSample, error) {
	b0, t0, err := cpuTimes()
	if err != nil {
		return LoadSample{}, err
	}
	select {
	case <-ctx.Done():
		return LoadSample{}, ctx.Err()
	case <-time.After(window):
	}
	b1, t1, err := cpuTimes()
	if err != nil {
		return LoadSample{}, err
	}
	s := LoadSample{}
	if t1 > t0 {
		s.Busy = 100 * float64(b1-b0) / float64(t1-t0)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			s.Load1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return s, nil
}

// LoadGate refuses to start a timed run on a busy machine: before each run it samples the
// load and, while the CPUs are busier than MaxBusy percent, samples again, for up to
// Patience; a machine still that busy then is refused.
type LoadGate struct {
	MaxBusy  float64
	Patience time.Duration
	Window   time.Duration
}

// envInt is the integer in $name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// loadGate is the benchmark's gate: $LATTICEPUSH_BENCH_MAX_BUSY percent (default 25) of the
// CPUs busy over 2 s, waiting up to $LATTICEPUSH_BENCH_QUIET_WAIT_S seconds (default 90).
func loadGate() LoadGate {
	return LoadGate{MaxBusy: float64(envInt("LATTICEPUSH_BENCH_MAX_BUSY", 25)),
		Patience: time.Duration(envInt("LATTICEPUSH_BENCH_QUIET_WAIT_S", 90)) * time.Second, Window: 2 * time.Second}
}

// Wait returns the last sample and nil once the machine is quiet enough, or an error saying
// why the run is refused.
func (g LoadGate) Wait(ctx context.Context) (LoadSample, error) {
	deadline := time.Now().Add(g.Patience)
	for {
		s, err := sampleLoad(ctx, g.Window)
		if err != nil {
			return s, err
		}
		if s.Busy <= g.MaxBusy {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("machine busy: %s after waiting %s, above the %.0f%% threshold ($LATTICEPUSH_BENCH_MAX_BUSY)", s, g.Patience, g.MaxBusy)
		}
	}
}
