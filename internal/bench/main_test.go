package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/testenv"
)

// report collects what the benchmarks measured; TestMain writes it.
var report = &Report{}

// TestMain runs the benchmarks, then writes BENCHMARKS.md: to $LATTICEPUSH_BENCH_REPORT
// when set ("-" for none), else to the module root, but only after a full run (lab and
// scale both measured) so that a partial run never replaces the published figures.
func TestMain(m *testing.M) {
	if ok, err := ServeSimChild(); ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, "simulated hosts:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if len(report.Cases) > 0 || len(report.Scale) > 0 || len(report.Validate) > 0 {
		path := os.Getenv("LATTICEPUSH_BENCH_REPORT")
		if path == "" && len(report.Cases) > 0 && len(report.Scale) > 0 {
			path = filepath.Join(moduleRoot(), "BENCHMARKS.md")
		}
		var buf bytes.Buffer
		if err := report.WriteMarkdown(&buf); err != nil {
			fmt.Fprintln(os.Stderr, "bench report:", err)
			code = 1
		}
		os.Stdout.Write(buf.Bytes())
		if path != "" && path != "-" {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "bench report:", err)
				code = 1
			} else {
				fmt.Println("wrote", path)
			}
		}
	}
	os.Exit(code)
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// latticepushBin builds the CLI once per test binary.
func latticepushBin(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "latticepush-bench-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "latticepush")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/latticepush")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build latticepush: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// cliRun is one timed run of the latticepush CLI.
type cliRun struct {
	Wall    time.Duration
	Exit    int
	Out     []byte
	MaxRSS  int64 // bytes; set by latticepushPeak only
	Started time.Time
	// CPU is the CPU time the whole machine used while the run lasted (every process, all
	// CPUs), and CLI the CLI's own: the lab's hosts share the machine's CPUs with it.
	CPU, CLI time.Duration
}

// latticepush runs the CLI with args and times it as a process (start to exit).
func latticepush(ctx context.Context, tb testing.TB, args ...string) cliRun {
	tb.Helper()
	return runCLI(ctx, tb, nil, args)
}

// timeBin measures a child's peak RSS. The CLI's own getrusage maxrss cannot: Go starts a
// child with vfork, so until exec the child runs in the benchmark's address space, and
// Linux carries that space's high-water mark across exec into the child's maxrss (every
// run would report at least the benchmark's own RSS). GNU time forks from a small process,
// so the CLI's figure is its own.
const timeBin = "/usr/bin/time"

// latticepushPeak is latticepush with the CLI's peak RSS measured (through GNU time).
func latticepushPeak(ctx context.Context, tb testing.TB, args ...string) cliRun {
	tb.Helper()
	if _, err := os.Stat(timeBin); err != nil {
		tb.Fatalf("%s is needed to measure peak memory: install Debian's time package (make bench does)", timeBin)
	}
	f := filepath.Join(tb.TempDir(), "maxrss")
	r := runCLI(ctx, tb, []string{timeBin, "-f", "%M", "-o", f}, args)
	b, err := os.ReadFile(f)
	if err != nil {
		tb.Fatalf("latticepush %v: reading GNU time's figure: %v", args, err)
	}
	// A failed command adds a "Command exited with non-zero status" line first.
	lines := strings.Fields(strings.TrimSpace(string(b)))
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		tb.Fatalf("latticepush %v: GNU time wrote %q, want the peak RSS in KiB", args, b)
	}
	r.MaxRSS = kib << 10
	return r
}

// runCLI runs the CLI, behind wrapper when one is given, in its own process group (a
// cancelled ctx kills the whole group).
func runCLI(ctx context.Context, tb testing.TB, wrapper, args []string) cliRun {
	tb.Helper()
	argv := append(append(append([]string{}, wrapper...), latticepushBin(tb), "--no-color"), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	r := cliRun{Started: time.Now()}
	busy0, _, cpuErr := cpuTimes()
	err := cmd.Run()
	r.Wall = time.Since(r.Started)
	if busy1, _, err := cpuTimes(); err == nil && cpuErr == nil {
		r.CPU = jiffies(busy1 - busy0)
	}
	r.Out = out.Bytes()
	if cmd.ProcessState != nil {
		r.Exit = cmd.ProcessState.ExitCode()
		r.CLI = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil && cmd.ProcessState == nil {
		tb.Fatalf("latticepush %v: %v", args, err)
	}
	return r
}

// mustExit fails unless the run exited with want.
func (r cliRun) mustExit(tb testing.TB, want int, what string) {
	tb.Helper()
	if r.Exit != want {
		tb.Fatalf("%s: exit %d, want %d\n%s", what, r.Exit, want, tail(string(r.Out), 4000))
	}
}

// raiseFileLimit lifts RLIMIT_NOFILE to n (root may raise the hard limit too).
func raiseFileLimit(tb testing.TB, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	want := syscall.Rlimit{Cur: n, Max: max(n, lim.Max)}
	if n <= lim.Max {
		want.Max = lim.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		testenv.Unavailable(tb, fmt.Sprintf("need %d open files (RLIMIT_NOFILE is %d/%d): %v", n, lim.Cur, lim.Max, err))
	}
}
