package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSystemctl is a systemctl and a journalctl on PATH that play a unit's states in order:
// each `systemctl show` prints the next state (the last one repeats), every other systemctl
// verb is recorded in calls and exits with rc.<verb> (0 without one).
const fakeSystemctl = `#!/bin/sh
d=$FAKE
case $1 in
show)
  n=$(cat "$d/n" 2>/dev/null || echo 0)
  f=$d/state.$n
  if [ -e "$d/state.$((n+1))" ]; then echo $((n+1)) > "$d/n"; fi
  case " $* " in
  *" --value "*) p=$3; grep "^$p=" "$f" | cut -d= -f2- ;;
  *) cat "$f" ;;
  esac ;;
*) echo "$*" >> "$d/calls"; rc=0; [ -e "$d/rc.$1" ] && rc=$(cat "$d/rc.$1"); exit "$rc" ;;
esac
`

// runFake runs argv (a supervisor.Script) against states; it returns stderr, the recorded
// systemctl calls and the exit error.
func runFake(t *testing.T, argv []string, states []string, rc map[string]int) (string, string, error) {
	t.Helper()
	d := t.TempDir()
	bin := filepath.Join(d, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755)
	os.WriteFile(filepath.Join(bin, "journalctl"), []byte("#!/bin/sh\necho \"journal: listen tcp 0.0.0.0:4222: address already in use ($*)\"\n"), 0o755)
	for i, s := range states {
		os.WriteFile(filepath.Join(d, fmt.Sprintf("state.%d", i)), []byte(strings.ReplaceAll(s, " ", "\n")+"\n"), 0o644)
	}
	for verb, code := range rc {
		os.WriteFile(filepath.Join(d, "rc."+verb), []byte(fmt.Sprint(code)), 0o644)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "FAKE="+d, "PATH="+bin+":"+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	calls, _ := os.ReadFile(filepath.Join(d, "calls"))
	return stderr.String(), string(calls), err
}

const (
	running42  = "ActiveState=active SubState=running MainPID=42 NRestarts=0 Result=success KillSignal=12"
	running50  = "ActiveState=active SubState=running MainPID=50 NRestarts=0 Result=success KillSignal=12"
	autoRestar = "ActiveState=activating SubState=auto-restart MainPID=0 Result=exit-code ExecMainCode=1 ExecMainStatus=1 KillSignal=12"
)

// TestSystemdScripts plays systemd's answers to the start, restart, reload and graceful-stop
// scripts: a unit that stays up passes; one that keeps exiting is reported with systemctl
// show's Result and ExecMainStatus and its journal, and stopped; a reload that made systemd
// restart the process fails; a lame-duck stop goes through systemctl stop when KillSignal is
// the signal, and a stop systemd had to time out is an error.
func TestSystemdScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs shell scripts for several seconds")
	}
	cmds := Systemd{}.Commands(5 * time.Second)

	t.Run("start: stays up", func(t *testing.T) {
		stderr, calls, err := runFake(t, cmds.Start("nats-server"), []string{running42}, nil)
		if err != nil || calls != "start -- nats-server\n" {
			t.Fatalf("err %v, calls %q, stderr %s", err, calls, stderr)
		}
	})

	t.Run("start: keeps exiting", func(t *testing.T) {
		states := []string{running42, running42, autoRestar + " NRestarts=0", running50 + " NRestarts=1",
			autoRestar + " NRestarts=1", autoRestar + " NRestarts=2"}
		start := time.Now()
		stderr, calls, err := runFake(t, cmds.Start("nats-server"), states, nil)
		if err == nil {
			t.Fatal("a unit that exited again after systemd restarted it passed as started")
		}
		for _, want := range []string{"nats-server: keeps exiting right after it starts: it exited again after systemd restarted it (1 restart(s))",
			"systemctl show -p Result,ExecMainCode,ExecMainStatus,NRestarts,ActiveState,SubState,MainPID nats-server:",
			"Result=exit-code", "ExecMainStatus=1", "journalctl -u nats-server -n 20 --no-pager:",
			"journal: listen tcp 0.0.0.0:4222: address already in use (-u nats-server -n 20 --no-pager)"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if calls != "start -- nats-server\nstop -- nats-server\n" {
			t.Errorf("calls %q: want start, then stop (systemd stops retrying)", calls)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %s: a failing unit must be reported before the wait ends", d)
		}
	})

	t.Run("start: failed", func(t *testing.T) {
		stderr, _, err := runFake(t, cmds.Start("svc"), []string{running42, "ActiveState=failed SubState=failed MainPID=0 Result=exit-code ExecMainStatus=2"}, nil)
		if err == nil || !strings.Contains(stderr, "svc: failed right after it started (Result=exit-code)") || !strings.Contains(stderr, "ExecMainStatus=2") {
			t.Fatalf("err %v, stderr:\n%s", err, stderr)
		}
	})

	t.Run("start: systemctl start refused", func(t *testing.T) {
		stderr, _, err := runFake(t, cmds.Start("svc"), []string{"ActiveState=inactive SubState=dead MainPID=0 Result=success"}, map[string]int{"start": 5})
		if err == nil || !strings.Contains(stderr, "svc: systemctl start failed") || !strings.Contains(stderr, "journalctl -u svc") {
			t.Fatalf("err %v, stderr:\n%s", err, stderr)
		}
	})

	t.Run("restart: new main pid", func(t *testing.T) {
		stderr, calls, err := runFake(t, cmds.Restart("svc"), []string{running42, running42, running42, running50}, nil)
		if err != nil || calls != "restart -- svc\n" {
			t.Fatalf("err %v, calls %q, stderr %s", err, calls, stderr)
		}
	})

	t.Run("restart: same pid is not a restart", func(t *testing.T) {
		stderr, _, err := runFake(t, Systemd{}.Commands(time.Second).Restart("svc"), []string{running42}, nil)
		if err == nil || !strings.Contains(stderr, "svc: not running steadily within 1s") {
			t.Fatalf("err %v, stderr:\n%s", err, stderr)
		}
	})

	t.Run("reload: same process", func(t *testing.T) {
		stderr, calls, err := runFake(t, cmds.Reload("svc"), []string{running42}, nil)
		if err != nil || calls != "reload -- svc\n" {
			t.Fatalf("err %v, calls %q, stderr %s", err, calls, stderr)
		}
	})

	t.Run("reload: systemd restarted it", func(t *testing.T) {
		stderr, calls, err := runFake(t, cmds.Reload("svc"), []string{running42, "ActiveState=active SubState=running MainPID=43 NRestarts=1 Result=success"}, nil)
		if err == nil || !strings.Contains(stderr, "the reload restarted it (MainPID 42 -> 43, NRestarts 0 -> 1") {
			t.Fatalf("err %v, stderr:\n%s", err, stderr)
		}
		if strings.Contains(calls, "stop") {
			t.Errorf("a failed reload stopped the unit: %q", calls)
		}
	})

	t.Run("disable: unit file gone", func(t *testing.T) {
		stderr, calls, err := runFake(t, cmds.Disable("svc"), []string{running42}, map[string]int{"disable": 1, "is-active": 3})
		if err != nil || calls != "disable --now -- svc\nstop -- svc\ndaemon-reload\nis-active --quiet -- svc\n" {
			t.Fatalf("err %v, calls %q, stderr %s", err, calls, stderr)
		}
		_, _, err = runFake(t, cmds.Disable("svc"), []string{running42}, map[string]int{"disable": 1})
		if err == nil {
			t.Fatal("a unit still active after the fallback stop passed as disabled")
		}
	})

	t.Run("graceful stop: KillSignal is the signal", func(t *testing.T) {
		stderr, calls, err := runFake(t, cmds.GracefulStop("svc", "USR2"), []string{running42}, nil)
		if err != nil || calls != "stop -- svc\n" {
			t.Fatalf("err %v, calls %q, stderr %s", err, calls, stderr)
		}
		stderr, _, err = runFake(t, cmds.GracefulStop("svc", "USR2"), []string{running42, "Result=timeout KillSignal=12"}, nil)
		if err == nil || !strings.Contains(stderr, "did not exit within its TimeoutStopSec after SIGUSR2") {
			t.Fatalf("a timed-out stop: err %v, stderr %s", err, stderr)
		}
	})
}

// TestParseShow reads systemctl show's lines into a UnitState.
func TestParseShow(t *testing.T) {
	out := "Result=exit-code\nExecMainCode=1\nExecMainStatus=1\nNRestarts=3\nActiveState=activating\nSubState=auto-restart\nMainPID=0\nOther=x=y\n"
	st, err := ParseShow([]byte(out))
	want := UnitState{ActiveState: "activating", SubState: "auto-restart", Result: "exit-code", ExecMainCode: 1, ExecMainStatus: 1, NRestarts: 3}
	if err != nil || st != want {
		t.Fatalf("ParseShow = %+v, %v; want %+v", st, err, want)
	}
	if _, err := ParseShow([]byte("MainPID=abc\n")); err == nil || !strings.Contains(err.Error(), "MainPID") {
		t.Errorf("a bad number: %v", err)
	}
	if got := strings.Join(ShowArgv("nats-server"), " "); got != "systemctl show -p Result,ExecMainCode,ExecMainStatus,NRestarts,ActiveState,SubState,MainPID -- nats-server" {
		t.Errorf("ShowArgv: %s", got)
	}
}
