package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"
)

// A systemd host is a Debian tree booted with systemd-nspawn: an overlay mount whose lower
// layer is the shared base tree (SystemdBase) and whose upper layer, in the host's state
// directory, holds the host's own files. nspawn joins the host's network namespace (the same
// veth and bridge addressing as a runit host, the address set from outside) and is started
// from a cgroup of its own, so each host's processes stay apart and Down can find them all.

// SystemdBaseEnv names the environment variable that overrides where the base tree is.
const SystemdBaseEnv = "LATTICEPUSH_SYSTEMD_BASE"

// systemdBaseStamp is the file internal/tools/systemd-base.sh writes into the tree once it is
// complete and prepared.
const systemdBaseStamp = ".latticepush-base"

// SystemdBase returns the prepared Debian tree systemd hosts boot from:
// $LATTICEPUSH_SYSTEMD_BASE, else ~/.cache/latticepush/systemd-base-bookworm, which `make
// deps` builds (internal/tools/systemd-base.sh). It is an error when the tree is missing or
// was not finished.
func SystemdBase() (string, error) {
	dir, fix := os.Getenv(SystemdBaseEnv), "unset "+SystemdBaseEnv+" or point it at a tree internal/tools/systemd-base.sh built"
	if dir == "" {
		fix = "run `make deps` (internal/tools/systemd-base.sh) as root"
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("systemd hosts: %w", err)
		}
		dir = filepath.Join(home, ".cache", "latticepush", "systemd-base-bookworm")
	}
	if _, err := os.Stat(filepath.Join(dir, systemdBaseStamp)); err != nil {
		return "", fmt.Errorf("systemd hosts need the Debian base tree %s, which is missing or unfinished: %s", dir, fix)
	}
	return dir, nil
}

// systemdSignalStop asks systemd (process 1) to power off: SIGRTMIN+4, with glibc's SIGRTMIN
// (34) as systemd uses it.
const systemdSignalStop = syscall.Signal(34 + 4)

// inotifyPerHost is about how many inotify instances one booted container uses.
const inotifyPerHost = 8

func upperDir(stateDir, host string) string  { return filepath.Join(hostDir(stateDir, host), "upper") }
func mergedDir(stateDir, host string) string { return filepath.Join(hostDir(stateDir, host), "merged") }
func machineName(id, host string) string     { return "lp" + id + "-" + host }

// cgroupRel is the host's cgroup, relative to each hierarchy's root.
func cgroupRel(labName, host string) string {
	return filepath.Join("latticepush-lab-"+labName, host)
}

// cgroupRoots returns the hierarchies a systemd host's cgroup is created in: the named
// systemd one and cgroup2 on a hybrid machine, or the one cgroup2 tree on a unified one.
func cgroupRoots() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var roots []string
	for _, r := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(r, "cgroup.procs")); err == nil {
			roots = append(roots, r)
		}
	}
	return roots
}

// prepareSystemdHost writes the host's upper layer: hostname, machine-id, ed25519 host key,
// an sshd drop-in, the sudo user (passwd, group, shadow, sudoers), /etc/hosts, and
// authorized_keys for root and the sudo user. allow, when set, lists the addresses sshd
// accepts logins from.
func prepareSystemdHost(f hostFiles, base string, allow []netip.Addr) error {
	d := f.dir
	for _, sub := range []string{"work", "merged"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	up := filepath.Join(d, "upper")
	for _, sub := range []string{"", "etc", "etc/ssh", "etc/ssh/sshd_config.d", "etc/sudoers.d", "var", "var/lib", "home"} {
		if err := mkdirLike(filepath.Join(up, sub), filepath.Join(base, sub)); err != nil {
			return err
		}
	}
	for _, sub := range []string{"etc/nats", "etc/wasmcloud", "var/lib/nats"} {
		if err := os.MkdirAll(filepath.Join(up, sub), 0o755); err != nil {
			return err
		}
	}
	mid := make([]byte, 16)
	if _, err := rand.Read(mid); err != nil {
		return err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"etc/hostname", []byte(f.name + "\n"), 0o644},
		{"etc/machine-id", []byte(hex.EncodeToString(mid) + "\n"), 0o444},
		{"etc/ssh/ssh_host_ed25519_key", f.hostKey, 0o600},
		{"etc/ssh/ssh_host_ed25519_key.pub", ssh.MarshalAuthorizedKey(f.hostPub), 0o644},
		{"etc/ssh/sshd_config.d/50-latticepush-lab.conf", []byte(sshdDropIn(allow)), 0o644},
		{"etc/sudoers.d/latticepush-lab", []byte(SudoUser + " ALL=(ALL:ALL) NOPASSWD: ALL\n"), 0o440},
		// A minimal Debian tree has no /etc/hosts.
		{"etc/hosts", []byte("127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + f.name + "\n" + f.etcHosts + "\n"), 0o644},
	}
	for _, fl := range files {
		if err := os.WriteFile(filepath.Join(up, fl.path), fl.data, fl.mode); err != nil {
			return err
		}
	}
	for _, a := range sudoAccount(f.acct.uid) {
		if err := appendCopy(filepath.Join(base, "etc", a.file), filepath.Join(up, "etc", a.file), SudoUser+":", a.line); err != nil {
			return err
		}
	}
	authorized := ssh.MarshalAuthorizedKey(f.clientPub)
	if err := mkdirLike(filepath.Join(up, "root"), filepath.Join(base, "root")); err != nil {
		return err
	}
	if err := writeAuthorized(filepath.Join(up, "root"), authorized, 0, 0, 0o700); err != nil {
		return err
	}
	return writeAuthorized(filepath.Join(up, "home", SudoUser), authorized, f.acct.uid, f.acct.uid, 0o750)
}

// sshdDropIn is a systemd host's sshd settings, read before Debian's sshd_config (the first
// value of an option wins): root by key only, the limits of sshdConfig, and, when allow is
// set, logins only from those addresses.
func sshdDropIn(allow []netip.Addr) string {
	var b strings.Builder
	b.WriteString(`# Written by latticepush's lab. MaxStartups is raised because tests open many connections
# at once; real fleets keep OpenSSH's 10:30:100.
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 64:30:256
MaxSessions 64
`)
	if len(allow) > 0 {
		b.WriteString("# Logins only from these lab hosts (and this one); every other source is refused.\nAllowUsers")
		for _, a := range allow {
			b.WriteString(" *@" + a.String())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// mountOverlay mounts the host's tree: the base below, its upper layer above.
func mountOverlay(stateDir, host, base string) error {
	d := hostDir(stateDir, host)
	opts := "lowerdir=" + base + ",upperdir=" + filepath.Join(d, "upper") + ",workdir=" + filepath.Join(d, "work")
	if err := syscall.Mount("overlay", mergedDir(stateDir, host), "overlay", 0, opts); err != nil {
		return fmt.Errorf("host %s: mount overlay on %s: %w", host, mergedDir(stateDir, host), err)
	}
	return nil
}

// startSystemd boots the host with systemd-nspawn from the host's own cgroup and records the
// nspawn process.
func (f *Fleet) startSystemd(ctx context.Context, h *hostState, bin string, exited chan<- string) error {
	st := f.st
	dir := hostDir(st.StateDir, h.Name)
	prefix := netip.PrefixFrom(h.Addr, f.Subnet.Bits())
	cmd := exec.CommandContext(ctx, "ip", "-n", h.Netns, "-batch", "-")
	cmd.Stdin = strings.NewReader("link set lo up\naddr add " + prefix.String() + " dev eth0\nlink set eth0 up\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("host %s: address: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	roots := cgroupRoots()
	if len(roots) == 0 {
		return fmt.Errorf("host %s: no cgroup hierarchy found under /sys/fs/cgroup", h.Name)
	}
	args := []string{"-c", `while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs"; shift; done; shift; exec "$@"`, "sh"}
	for _, r := range roots {
		cg := filepath.Join(r, cgroupRel(st.Name, h.Name))
		if err := os.MkdirAll(cg, 0o755); err != nil {
			return fmt.Errorf("host %s: cgroup: %w", h.Name, err)
		}
		args = append(args, cg)
	}
	args = append(args, "--", "systemd-nspawn", "--boot", "--register=no", "--keep-unit",
		"--machine="+machineName(st.ID, h.Name), "--hostname="+h.Name,
		"--directory="+mergedDir(st.StateDir, h.Name),
		"--network-namespace-path=/run/netns/"+h.Netns,
		"--bind="+bin+":/usr/local/bin", "--bind="+filepath.Join(dir, "opt")+":/opt",
		"--link-journal=no", "--console=read-only")
	console, err := os.OpenFile(filepath.Join(dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer console.Close()
	c := exec.Command("/bin/sh", args...)
	c.Stdout, c.Stderr = console, console
	c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_COLOR=0"}
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives a terminal's Ctrl-C
	if err := c.Start(); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	h.Unshare, _ = identify(c.Process.Pid)
	name := h.Name
	go func() {
		c.Wait()
		exited <- name
	}()
	return nil
}

// inotifyLimit is the sysctl raiseInotify reads and raises.
const inotifyLimit = "/proc/sys/fs/inotify/max_user_instances"

// waitSystemd waits until systemd on every systemd host has finished booting, and fails when
// one is not "running" (a failed unit makes it "degraded"), naming the failed units.
func (f *Fleet) waitSystemd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second+time.Duration(len(f.Hosts))*200*time.Millisecond)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, h := range f.st.Hosts {
		if !h.systemd() {
			continue
		}
		g.Go(func() error {
			out, _ := f.Exec(gctx, h.Name, "systemctl", "is-system-running", "--wait")
			state := strings.TrimSpace(string(out))
			if state == "running" {
				return nil
			}
			if gctx.Err() != nil {
				return fmt.Errorf("host %s: systemd did not finish booting (%s): %w", h.Name, state, gctx.Err())
			}
			failed, _ := f.Exec(context.WithoutCancel(gctx), h.Name, "systemctl", "--failed", "--plain", "--no-legend")
			return fmt.Errorf("host %s: systemd is %q, not running; failed units:\n%s\n(see `journalctl -b` on the host, and console.log in its state directory)",
				h.Name, state, strings.TrimSpace(string(failed)))
		})
	}
	return g.Wait()
}

// raiseInotify makes room for n more systemd hosts in fs.inotify.max_user_instances (a
// machine-wide limit, per user) and returns what it changed, in words, or "".
func raiseInotify(n int) (string, error) {
	return raiseInotifyIn(inotifyLimit, n, inotifyInUse())
}

// raiseInotifyIn is raiseInotify with the sysctl file and the instances in use given.
func raiseInotifyIn(path string, n, used int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil // no such limit here
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "", nil
	}
	need := used + n*inotifyPerHost + 32
	if need <= limit {
		return "", nil
	}
	raised := (need + 127) / 128 * 128
	if err := os.WriteFile(path, []byte(strconv.Itoa(raised)), 0o644); err != nil {
		return "", fmt.Errorf("%d systemd hosts need about %d more inotify instances than fs.inotify.max_user_instances (%d) allows, and raising it failed: %w; raise it with `sysctl fs.inotify.max_user_instances=%d`", n, need-limit, limit, err, raised)
	}
	return fmt.Sprintf("raised fs.inotify.max_user_instances from %d to %d (machine-wide, kept after lab down): %d systemd hosts use about %d each and %d were in use", limit, raised, n, inotifyPerHost, used), nil
}

// inotifyInUse counts the inotify instances root's processes hold.
func inotifyInUse() int {
	n := 0
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && l == "anon_inode:inotify" {
			if fi, err := os.Stat(filepath.Dir(filepath.Dir(fd))); err == nil && fi.Sys().(*syscall.Stat_t).Uid == 0 {
				n++
			}
		}
	}
	return n
}

// stopSystemd asks every running systemd host to power off and waits up to 10 s for their
// nspawn processes to exit. What is left is killed by cleanupSystemd.
func (f *Fleet) stopSystemd(ctx context.Context) {
	var g errgroup.Group
	for _, h := range f.st.Hosts {
		if !h.systemd() {
			continue
		}
		init := h.initOf()
		if !init.alive() {
			continue
		}
		g.Go(func() error {
			syscall.Kill(init.PID, systemdSignalStop)
			waitFor(ctx, 10*time.Second, func() string {
				if init.alive() || h.Unshare.alive() {
					return "running"
				}
				return ""
			})
			return nil
		})
	}
	g.Wait()
}

// cleanupSystemd removes what a systemd host leaves on the machine once its processes are
// signalled: it kills whatever still runs in the host's cgroups, unmounts its tree, removes
// the cgroups (deepest first) and nspawn's files under /run/systemd/nspawn.
func (f *Fleet) cleanupSystemd(ctx context.Context) error {
	st := f.st
	var errs []error
	any := false
	for _, h := range st.Hosts {
		if !h.systemd() {
			continue
		}
		any = true
		var cgs []string
		for _, r := range cgroupRoots() {
			cgs = append(cgs, filepath.Join(r, cgroupRel(st.Name, h.Name)))
		}
		if err := waitFor(ctx, 5*time.Second, func() string {
			var left []string
			for _, cg := range cgs {
				for _, pid := range cgroupProcs(cg) {
					syscall.Kill(pid, syscall.SIGKILL)
					left = append(left, strconv.Itoa(pid))
				}
			}
			if len(left) > 0 {
				return fmt.Sprintf("host %s: processes %s still run in its cgroup", h.Name, strings.Join(left, " "))
			}
			return ""
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		lock := nspawnLock(mergedDir(st.StateDir, h.Name))
		if err := unmountAll(hostDir(st.StateDir, h.Name)); err != nil {
			errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
		}
		for _, cg := range cgs {
			if err := removeCgroup(cg); err != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join("/run/systemd/nspawn", "*", machineName(st.ID, h.Name)))
		if lock != "" {
			leftovers = append(leftovers, lock)
		}
		for _, p := range leftovers {
			if m := mountsUnder(p); len(m) > 0 {
				if err := unmountAll(p); err != nil {
					errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
					continue
				}
			}
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
			}
		}
	}
	if any {
		for _, r := range cgroupRoots() {
			if err := removeCgroup(filepath.Dir(filepath.Join(r, cgroupRel(st.Name, "x")))); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// nspawnLock returns the lock file nspawn keeps for the tree mounted on merged, named after
// the tree's device and inode, or "" when merged is not mounted. A killed nspawn leaves it
// behind.
func nspawnLock(merged string) string {
	if len(mountsUnder(merged)) == 0 {
		return ""
	}
	var st syscall.Stat_t
	if err := syscall.Stat(merged, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("/run/systemd/nspawn/locks/inode-%d:%d", st.Dev, st.Ino)
}

// cgroupProcs lists the processes in cg and every cgroup below it.
func cgroupProcs(cg string) []int {
	var pids []int
	filepath.WalkDir(cg, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}

// removeCgroup removes cg and the cgroups below it, deepest first; a missing cg is fine.
func removeCgroup(cg string) error {
	var dirs []string
	filepath.WalkDir(cg, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
		}
	}
	return nil
}

// unmountAll unmounts every mount at or below dir, deepest first; a mount still busy is
// detached.
func unmountAll(dir string) error {
	m := mountsUnder(dir)
	for i := len(m) - 1; i >= 0; i-- {
		if err := syscall.Unmount(m[i], 0); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			if err := syscall.Unmount(m[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				return fmt.Errorf("unmount %s: %w", m[i], err)
			}
		}
	}
	if left := mountsUnder(dir); len(left) > 0 {
		return fmt.Errorf("mounts remain: %s", strings.Join(left, ", "))
	}
	return nil
}
