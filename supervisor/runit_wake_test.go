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
	requireRunit(t)
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

// requireRunit skips a test that starts runsvdir in -short mode, and needs runit's commands.
func requireRunit(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts runsvdir")
	}
	for _, c := range []string{"runsvdir", "runsv", "sv"} {
		testenv.RequireCommand(t, c)
	}
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

// A service linked again soon after its link was removed: runsvdir told the old runsv to exit
// when the link went, and it exits only once its log service does, which waits while any
// process still holds the service's output (here a child the run script left behind, for four
// seconds). Until then that runsv answers sv for the directory but starts nothing: each start
// fails before the run script runs, without a line in the log. Enable and Supervise wait for
// it to go, so the service then starts under a runsv of its own.
func TestRunit_RelinkWaitsForTheLastRunsv(t *testing.T) {
	requireRunit(t)
	r, rsv := privateRunsvdir(t, true)
	cmds := r.Commands(15 * time.Second)
	d := filepath.Join(r.SvDir, "svc")
	link := filepath.Join(r.ServiceDir, "svc")
	for path, body := range map[string]string{
		"run":     "#!/bin/sh\nsleep 4 &\nexec sleep 600\n",
		"log/run": "#!/bin/sh\nexec cat >/dev/null\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(d, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, path), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(what string, argv []string) {
		t.Helper()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
	}
	runsvPid := func() string { // this runsvdir's runsv processes
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(rsv.Process.Pid), "-x", "runsv").Output()
		return strings.TrimSpace(string(out))
	}
	for _, op := range []string{"enable", "supervise"} {
		run("enable", cmds.Enable("svc"))
		run("start", cmds.Start("svc"))
		old := runsvPid()
		if old == "" || strings.Contains(old, "\n") {
			t.Fatalf("%s: runsv processes of svc: %q", op, old)
		}
		run("disable", cmds.Disable("svc"))
		// runsvdir sees the link gone at its next look and tells the old runsv to exit: its
		// log service is then asked down, and waits for the run script's child.
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out, _ := exec.Command("sv", "status", d).Output()
			if strings.Contains(string(out), "log: (pid") && strings.HasSuffix(strings.TrimSpace(string(out)), "want down") {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s: runsvdir did not tell the old runsv to exit: %s", op, out)
			}
			exec.Command("sh", "-c", `printf '\0' > /proc/$1/fd/2`, "wake", strconv.Itoa(rsv.Process.Pid)).Run()
		}
		if op == "enable" {
			run("enable again", cmds.Enable("svc"))
		} else {
			run("supervise", cmds.(supervisor.EarlyCommands).Supervise("svc"))
			run("enable", cmds.Enable("svc"))
		}
		run("start again", cmds.Start("svc"))
		if now := runsvPid(); now == "" || now == old || strings.Contains(now, "\n") {
			t.Errorf("%s: runsv of svc after the relink: %q, before: %s", op, now, old)
		}
		out, err := exec.Command("sv", "status", link).Output()
		if err != nil || !strings.HasPrefix(string(out), "run: ") {
			t.Errorf("%s: after the relink: %s %v", op, out, err)
		}
		run("disable", cmds.Disable("svc"))
	}
}

// A runsv that runs a directory linked nowhere, which no runsvdir will tell to exit (here one
// started by hand; in the lab, one left from an earlier link 90 s after the link went): Enable
// tells it to exit itself, then links the directory, and the service starts under runsvdir.
func TestRunit_EnableEndsARunsvNoRunsvdirKnows(t *testing.T) {
	requireRunit(t)
	r, rsv := privateRunsvdir(t, true)
	cmds := r.Commands(15 * time.Second)
	newService(t, r, "svc")
	d := filepath.Join(r.SvDir, "svc")
	stray := exec.Command("runsv", d)
	stray.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- stray.Wait() }()
	t.Cleanup(func() { _ = stray.Process.Kill() })
	for end := time.Now().Add(5 * time.Second); exec.Command("sv", "status", d).Run() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the stray runsv did not start")
		}
	}
	for _, argv := range [][]string{cmds.Enable("svc"), cmds.Start("svc")} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv[3:], err, out)
		}
	}
	select {
	case <-exited:
	default:
		t.Fatal("the stray runsv still runs")
	}
	out, err := exec.Command("pgrep", "-P", strconv.Itoa(rsv.Process.Pid), "-x", "runsv").Output()
	if err != nil || len(strings.Fields(string(out))) != 1 {
		t.Errorf("runsvdir's runsv processes: %q %v", out, err)
	}
	if out, err := exec.Command("sv", "status", filepath.Join(r.ServiceDir, "svc")).Output(); err != nil || !strings.HasPrefix(string(out), "run: ") {
		t.Errorf("after enable and start: %s %v", out, err)
	}
}
