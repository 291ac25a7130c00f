package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/testenv"
)

// requireSystemdLab ends the test unless systemd hosts can start here (see requireLab).
func requireSystemdLab(t testing.TB) {
	t.Helper()
	requireLab(t)
	if err := CheckSystemdPrerequisites(); err != nil {
		testenv.Unavailable(t, err.Error())
	}
}

// withInit makes the named hosts of a spec systemd hosts.
func withInit(init string, hosts ...string) func(*Spec) {
	return func(s *Spec) {
		for i := range s.Hosts {
			for _, h := range hosts {
				if s.Hosts[i].Name == h {
					s.Hosts[i].Init = init
				}
			}
		}
	}
}

func TestSystemdHosts(t *testing.T) {
	requireSystemdLab(t)
	ctx := context.Background()
	start := time.Now()
	f := upLab(t, "sdmix", 3, func(s *Spec) {
		withInit(InitSystemd, "h1", "h2")(s)
		s.Hosts[1].SSHFrom = []string{"h1"}
	})
	t.Logf("lab of 2 systemd hosts and 1 runit host up in %.1fs", time.Since(start).Seconds())
	for _, h := range f.Hosts {
		want := map[string]string{"h1": InitSystemd, "h2": InitSystemd, "h3": InitRunit}[h.Name]
		if h.Init != want {
			t.Errorf("host %s: Init %q, want %q", h.Name, h.Init, want)
		}
		if !f.Running(h.Name) {
			t.Errorf("host %s does not run", h.Name)
		}
	}

	// h1: systemd reaches "running" (no failed unit), root and the sudo user log in, and a
	// unit starts.
	root, err := f.Dial(ctx, "h1", "root")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if got, err := tryRun(root, "timeout 60 systemctl is-system-running --wait"); got != "running" {
		failed, _ := tryRun(root, "systemctl --failed --no-legend")
		t.Errorf("h1: systemctl is-system-running = %q (%v); failed units: %s", got, err, failed)
	}
	if got := run(t, root, "hostname; cat /etc/hostname; id -un; ps -p 1 -o comm="); got != "h1\nh1\nroot\nsystemd" {
		t.Errorf("h1: hostname, /etc/hostname, user, process 1 = %q", got)
	}
	if got := run(t, root, "/usr/local/bin/probe-true && echo ok"); got != "ok" {
		t.Errorf("h1: /usr/local/bin/probe-true: %q", got)
	}
	// Its own writable /usr/local/bin and /opt, where binaries are installed.
	if got := run(t, root, "touch /usr/local/bin/h1-probe /opt/h1-probe && ls /usr/local/bin/h1-probe /opt/h1-probe"); got != "/opt/h1-probe\n/usr/local/bin/h1-probe" {
		t.Errorf("h1: writing /usr/local/bin and /opt: %q", got)
	}
	for _, p := range []string{"/usr/local/bin/h1-probe", "/opt/h1-probe"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s leaked onto the machine (stat: %v)", p, err)
		}
	}
	run(t, root, `printf '[Service]\nExecStart=/bin/sleep 600\n' > /etc/systemd/system/lp-probe.service && systemctl daemon-reload && systemctl start lp-probe`)
	if got := run(t, root, "systemctl show -p ActiveState,SubState --value lp-probe"); got != "active\nrunning" {
		t.Errorf("h1: lp-probe: %q, want active running", got)
	}
	pid := run(t, root, "systemctl show -p MainPID --value lp-probe")
	if pid == "0" || pid == "" {
		t.Errorf("h1: lp-probe has no MainPID")
	}
	sudo, err := f.Dial(ctx, "h1", f.SudoUser)
	if err != nil {
		t.Fatal(err)
	}
	defer sudo.Close()
	if got := run(t, sudo, "id -un; sudo -n true && sudo -n id -un"); got != f.SudoUser+"\nroot" {
		t.Errorf("h1: as %s: %q, want %s then root", f.SudoUser, got, f.SudoUser)
	}

	// Exec enters the host without SSH; the two systemd hosts are distinct machines.
	id1, err := f.Exec(ctx, "h1", "cat", "/etc/machine-id")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := f.Exec(ctx, "h2", "cat", "/etc/machine-id")
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.TrimSpace(string(id1))) != 32 || string(id1) == string(id2) {
		t.Errorf("machine-ids %q and %q: want two different ids", id1, id2)
	}
	if out, err := f.Exec(ctx, "h2", "systemctl", "is-active", "ssh"); err != nil || strings.TrimSpace(string(out)) != "active" {
		t.Errorf("h2: ssh.service: %q %v", out, err)
	}

	// h2 takes logins only from h1: the machine is refused, h1 gets in (as on a runit host).
	if c, err := f.Dial(ctx, "h2", "root"); err == nil {
		c.Close()
		t.Errorf("h2 (SSHFrom h1) accepted a login from the machine")
	}
	if _, err := f.Exec(ctx, "h1", "sh", "-c", "install -m 600 /dev/stdin /root/.ssh/id_ed25519 < /dev/null"); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(f.KeyPath)
	kh, _ := os.ReadFile(f.KnownHostsPath)
	put := fmt.Sprintf("cat > /root/.ssh/id_ed25519 <<'EOF'\n%sEOF\ncat > /root/.ssh/known_hosts <<'EOF'\n%sEOF\n", key, kh)
	run(t, root, put)
	h2, _ := f.Host("h2")
	if got := run(t, root, "ssh -o BatchMode=yes root@"+h2.Addr.String()+" hostname"); got != "h2" {
		t.Errorf("h1 -> h2 over ssh: %q", got)
	}

	// The runit host of the same lab works as before.
	r3, err := f.Dial(ctx, "h3", f.SudoUser)
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	if got := run(t, r3, "sudo -n true && echo ok"); got != "ok" {
		t.Errorf("h3: sudo -n: %q", got)
	}
	root.Close()
	sudo.Close()
	r3.Close()

	fp := footprintOf(f)
	start = time.Now()
	if err := f.Down(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("lab down in %.1fs", time.Since(start).Seconds())
	assertGone(t, fp)
}

// TestSystemdCrashedNspawn kills a systemd host's nspawn process (its container keeps running,
// and nspawn leaves its files in /run/systemd/nspawn): Down, from another process, must still
// stop the container and leave nothing.
func TestSystemdCrashedNspawn(t *testing.T) {
	requireSystemdLab(t)
	f := upLab(t, "sdcrash", 2, withInit(InitSystemd, "h1", "h2"))
	fp := footprintOf(f)
	if len(fp.files) != 2 {
		t.Fatalf("nspawn lock files: %v, want one per host", fp.files)
	}
	nspawn := f.st.Hosts[0].Unshare
	if err := syscall.Kill(nspawn.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(context.Background(), 5*time.Second, func() string {
		if nspawn.alive() {
			return "nspawn runs"
		}
		return ""
	})
	if !f.st.Hosts[0].initOf().alive() {
		t.Fatalf("host h1's systemd ended with its nspawn; the test wants it orphaned")
	}
	reopened, err := Open(f.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := reopened.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertGone(t, fp)
}

// killedUpEnv makes the test binary, run as a child of TestSystemdKilledUp, bring up a lab of
// systemd hosts named after the variable's value and wait to be killed. The lab is
// persistent, as `latticepush lab up` makes it, when killedUpPersistentEnv is set.
const (
	killedUpEnv           = "LATTICEPUSH_LAB_TEST_KILLED_UP"
	killedUpPersistentEnv = "LATTICEPUSH_LAB_TEST_KILLED_UP_PERSISTENT"
)

// TestMain runs the child of TestSystemdKilledUp when killedUpEnv names a lab, else the tests.
func TestMain(m *testing.M) {
	if name := os.Getenv(killedUpEnv); name != "" {
		killedUpChild(name)
		return
	}
	os.Exit(m.Run())
}

// killedUpChild brings up a lab of four systemd hosts and a runit one, and waits to be killed.
func killedUpChild(name string) {
	spec := Spec{Name: name, Binaries: map[string]string{"probe-true": "/bin/true"}, Persistent: os.Getenv(killedUpPersistentEnv) != ""}
	for i := 1; i <= 4; i++ {
		spec.Hosts = append(spec.Hosts, HostSpec{Name: fmt.Sprintf("s%d", i), Init: InitSystemd})
	}
	spec.Hosts = append(spec.Hosts, HostSpec{Name: "r1"})
	if _, err := Up(context.Background(), spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	time.Sleep(time.Hour) // until killed
}

// TestSystemdKilledUp SIGKILLs a process while it brings up systemd hosts (containers booting,
// overlays mounted, cgroups made), then removes the lab as `lab down` would (the lab of a test
// run: as stale, by DownStale, which the next Up also runs; the persistent lab of a killed
// `latticepush lab up`: by name), and checks nothing of it is left.
func TestSystemdKilledUp(t *testing.T) {
	requireSystemdLab(t)
	t.Run("Stale", func(t *testing.T) { testKilledUp(t, false) })
	t.Run("Persistent", func(t *testing.T) { testKilledUp(t, true) })
}

func testKilledUp(t *testing.T, persistent bool) {
	name := fmt.Sprintf("t%d-killed", os.Getpid())
	stateDir := filepath.Join(BaseDir, name)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), killedUpEnv+"="+name)
	if persistent {
		cmd.Env = append(cmd.Env, killedUpPersistentEnv+"=1")
	}
	out, _ := os.CreateTemp(t.TempDir(), "child")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a container has started booting and before the lab is ready.
	var booting []int
	deadline := time.Now().Add(90 * time.Second)
	for len(booting) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		booting = nspawnsUnder(stateDir)
	}
	time.Sleep(300 * time.Millisecond) // let more of them start and mount
	// Any Up removes stale labs (reserve), and other test binaries bring labs up while this
	// one runs: hold the registry from before the kill, so only this test removes this lab.
	unlock, err := lockRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	cmd.Process.Kill()
	cmd.Wait()
	if len(booting) == 0 {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("no systemd-nspawn of lab %s started within 90 s; child output:\n%s", name, b)
	}
	st, err := loadState(stateDir)
	if err != nil {
		t.Fatalf("killed lab left no state: %v", err)
	}
	t.Logf("killed `lab up` with %d nspawn processes running, ready=%v, mounts: %d", len(nspawnsUnder(stateDir)), st.Ready, len(mountsUnder(stateDir)))
	if st.Ready {
		t.Logf("the lab was ready before the kill: the test did not hit mid-bringup this time")
	}
	fp := footprint{st: *st}
	for _, pid := range nspawnsUnder(stateDir) {
		if id, err := identify(pid); err == nil {
			fp.procs = append(fp.procs, id) // nspawn
			for _, c := range id.children() {
				if cid, err := identify(c); err == nil {
					fp.procs = append(fp.procs, cid) // the container's systemd
				}
			}
		}
	}
	if persistent {
		// As `latticepush lab down NAME`, from another process than the one that made it.
		unlock()
		f, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Down(context.Background()); err != nil {
			t.Fatal(err)
		}
	} else {
		// DownStale (here under the lock already held) is DownAll (`lab down --all`)
		// restricted to labs whose creator is gone: DownAll would also take down labs other
		// test runs on this machine are using.
		names, err := downLocked(context.Background(), stale)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+name+" ") {
			t.Errorf("DownStale took down %v, not %s", names, name)
		}
	}
	assertGone(t, fp)
}

// nspawnsUnder lists the systemd-nspawn processes whose command line names a path in dir.
func nspawnsUnder(dir string) []int {
	var pids []int
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(b), "systemd-nspawn\x00") && strings.Contains(string(b), dir+"/") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestRaiseInotify(t *testing.T) {
	limit := filepath.Join(t.TempDir(), "max_user_instances")
	for _, c := range []struct {
		limit, hosts, used int
		want               int // 0: unchanged
	}{
		{128, 5, 20, 0},    // 20 + 40 + 32 fits
		{128, 12, 0, 0},    // 96 + 32 = 128 fits exactly
		{128, 13, 0, 256},  // 136 does not
		{128, 30, 50, 384}, // 50 + 240 + 32 = 322
		{8192, 200, 100, 0},
	} {
		os.WriteFile(limit, []byte(strconv.Itoa(c.limit)+"\n"), 0o644)
		msg, err := raiseInotifyIn(limit, c.hosts, c.used)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(limit)
		got, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		switch {
		case c.want == 0 && (got != c.limit || msg != ""):
			t.Errorf("limit %d, %d hosts, %d used: raised to %d (%q), want unchanged", c.limit, c.hosts, c.used, got, msg)
		case c.want != 0 && (got != c.want || !strings.Contains(msg, fmt.Sprintf("from %d to %d", c.limit, c.want))):
			t.Errorf("limit %d, %d hosts, %d used: %d (%q), want raised to %d and said so", c.limit, c.hosts, c.used, got, msg, c.want)
		}
	}
}

// TestSystemdHalfBuilt fails Up after each step of bringing up systemd hosts next to a runit
// one: the cleanup of the failed Up must leave nothing.
func TestSystemdHalfBuilt(t *testing.T) {
	requireSystemdLab(t)
	for _, step := range []string{"files", "network", "mount", "start"} {
		t.Run(step, func(t *testing.T) {
			spec := Spec{Name: fmt.Sprintf("t%d-sdhalf", os.Getpid()), failAfter: step,
				Hosts: []HostSpec{{Name: "a", Init: InitSystemd}, {Name: "b", Init: InitSystemd}, {Name: "c"}}}
			spec.check()
			st := state{Name: spec.Name, ID: labID(spec.Name), Bridge: bridgeName(labID(spec.Name)), StateDir: spec.StateDir}
			for i, h := range spec.Hosts {
				st.Hosts = append(st.Hosts, hostState{Name: h.Name, Netns: netnsName(st.ID, h.Name), Veth: vethName(st.ID, i), InitSystem: h.Init})
			}
			_, err := Up(context.Background(), spec)
			if err == nil || !strings.Contains(err.Error(), step) {
				t.Fatalf("Up = %v, want the failure after %q", err, step)
			}
			assertGone(t, footprint{st: st})
		})
	}
}
