package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	MaxRSS  int64 // bytes
	Started time.Time
}

// latticepush runs the CLI with args and times it as a process (start to exit).
func latticepush(ctx context.Context, tb testing.TB, args ...string) cliRun {
	tb.Helper()
	cmd := exec.CommandContext(ctx, latticepushBin(tb), append([]string{"--no-color"}, args...)...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	r := cliRun{Started: time.Now()}
	err := cmd.Run()
	r.Wall = time.Since(r.Started)
	r.Out = out.Bytes()
	if cmd.ProcessState != nil {
		r.Exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSS = ru.Maxrss << 10
		}
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
