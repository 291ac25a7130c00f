package supervisor_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/supervisor"
)

// runsvdir looks at its directory every five seconds. A service newly linked by Supervise or
// Enable is picked up sooner when runsvdir has its log pipe (as Debian's /etc/runit/2
// starts it): the scripts wake it with a NUL byte on that pipe, which its log does not show.
// A runsvdir without a log argument is not written to: its standard error stays as it was.
//
// Each round links a service 2.2 s after runsvdir looked at the directory (a probe service's
// link was just picked up), so without the wake runsv would start only at its next look,
// five seconds after that one.
func TestRunit_WakesRunsvdir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runsvdir")
	}
	for _, c := range []string{"runsvdir", "runsv", "sv"} {
		testenv.RequireCommand(t, c)
	}
	t.Run("with its log pipe", func(t *testing.T) {
		r, rsv := privateRunsvdir(t, true)
		cmds := r.Commands(30 * time.Second)
		for round, op := range []string{"supervise", "enable"} {
			probe := "probe" + op
			newService(t, r, probe)
			if err := os.Symlink(filepath.Join(r.SvDir, probe), filepath.Join(r.ServiceDir, probe)); err != nil {
				t.Fatal(err)
			}
			waitSupervised(t, r, probe, 15*time.Second) // runsvdir just looked
			looked := time.Now()
			// runsvdir may look again a second later (the probe's link is recent); Supervise
			// wakes it once, which it takes only a second or more after it last looked.
			// Enable goes on waking it until runsv runs.
			time.Sleep(2200 * time.Millisecond)

			svc := "svc" + op
			newService(t, r, svc)
			argv := cmds.(supervisor.EarlyCommands).Supervise(svc)
			if op == "enable" {
				argv = cmds.Enable(svc)
			}
			if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("round %d, %s: %v\n%s", round, op, err, out)
			}
			waitSupervised(t, r, svc, 15*time.Second)
			// Without the wake, runsv starts at runsvdir's next look, five seconds after the
			// last one; woken, about a second after the link.
			if took := time.Since(looked); took > 4500*time.Millisecond {
				t.Errorf("%s: runsv started %.1fs after runsvdir last looked at the directory: it was not woken", op, took.Seconds())
			}
		}
		if args := processArgs(t, rsv.Process.Pid); args[len(args)-1] != "log: .........." {
			t.Errorf("runsvdir's log shows what the wake wrote: %q", args)
		}
	})
	t.Run("without a log argument", func(t *testing.T) {
		r, rsv := privateRunsvdir(t, false)
		newService(t, r, "svc")
		argv := r.Commands(30 * time.Second).(supervisor.EarlyCommands).Supervise("svc")
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("supervise: %v\n%s", err, out)
		}
		waitSupervised(t, r, "svc", 15*time.Second) // at its rescan
		time.Sleep(200 * time.Millisecond)
		if b, err := os.ReadFile(rsv.Stderr.(*os.File).Name()); err != nil || len(b) > 0 {
			t.Errorf("runsvdir's standard error (a file) was written to: %q, %v", b, err)
		}
	})
}

// privateRunsvdir starts runsvdir over a directory of its own, with the log argument when
// withLog, its standard error into a file otherwise.
func privateRunsvdir(t *testing.T, withLog bool) (supervisor.Runit, *exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	r := supervisor.Runit{SvDir: filepath.Join(dir, "sv"), ServiceDir: filepath.Join(dir, "service")}
	for _, d := range []string{r.SvDir, r.ServiceDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-P", r.ServiceDir}
	if withLog {
		args = append(args, "log: ..........")
	}
	cmd := exec.Command("runsvdir", args...)
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGHUP: runsvdir sends TERM to every runsv (which stops its service) and exits.
		_ = cmd.Process.Signal(syscall.SIGHUP)
		_ = cmd.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			if out, _ := exec.Command("pgrep", "-f", "^runsv .*"+filepath.Base(dir)).Output(); len(out) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return r, cmd
}

// newService writes a service directory whose run script sleeps.
func newService(t *testing.T, r supervisor.Runit, name string) {
	t.Helper()
	d := filepath.Join(r.SvDir, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "run"), []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// waitSupervised waits until runsv supervises the service (sv status answers).
func waitSupervised(t *testing.T, r supervisor.Runit, name string, limit time.Duration) {
	t.Helper()
	link := filepath.Join(r.ServiceDir, name)
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if exec.Command("sv", "status", link).Run() == nil {
			return
		}
	}
	t.Fatalf("runsv did not start for %s within %s", name, limit)
}

// processArgs is the process's command line, as ps shows it: runsvdir writes its log over
// its last argument.
func processArgs(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}
