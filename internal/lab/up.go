package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"
)

// Up brings up the lab spec describes and returns once every host's sshd answers. On any
// error (or when ctx ends) it removes whatever it created and returns the error. It first
// removes stale labs: non-persistent labs whose creating process is gone.
func Up(ctx context.Context, spec Spec) (_ *Fleet, err error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	if err := CheckPrerequisites(); err != nil {
		return nil, err
	}
	if spec.systemdHosts() > 0 {
		if err := CheckSystemdPrerequisites(); err != nil {
			return nil, err
		}
	}
	for name, path := range spec.Binaries {
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("lab %s: binary %s: %s is not a file", spec.Name, name, path)
		}
	}
	f, err := reserve(ctx, &spec)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if derr := f.Down(context.WithoutCancel(ctx)); derr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up: %w", derr))
			}
		}
	}()
	if err := f.build(ctx, &spec); err != nil {
		return nil, fmt.Errorf("lab %s: %w", spec.Name, err)
	}
	return f, nil
}

// reserve, under the registry lock, removes stale labs, chooses the subnet and addresses,
// creates and registers the state directory, and creates the bridge with the subnet's .1.
func reserve(ctx context.Context, spec *Spec) (*Fleet, error) {
	unlock, err := lockRegistry()
	if err != nil {
		return nil, err
	}
	defer unlock()
	labs := registered()
	for name, st := range labs {
		if stale(st) {
			if err := newFleet(st).Down(ctx); err != nil {
				return nil, fmt.Errorf("removing stale lab %s: %w", name, err)
			}
			delete(labs, name)
		}
	}
	if st, dup := labs[spec.Name]; dup {
		return nil, fmt.Errorf("lab %s is already up (state in %s); take it down with `latticepush lab down %s`", spec.Name, st.StateDir, spec.Name)
	}
	if _, err := os.Lstat(filepath.Join(BaseDir, spec.Name)); err == nil && filepath.Join(BaseDir, spec.Name) != spec.StateDir {
		return nil, fmt.Errorf("lab %s: %s exists; remove it or choose another name", spec.Name, filepath.Join(BaseDir, spec.Name))
	}
	id := labID(spec.Name)
	if _, err := net.InterfaceByName(bridgeName(id)); err == nil {
		return nil, fmt.Errorf("lab %s: link %s exists but no lab state names it; delete it with `ip link del %[2]s`", spec.Name, bridgeName(id))
	}
	used, err := usedPrefixes(labs)
	if err != nil {
		return nil, err
	}
	if spec.Subnet, err = allocate(spec.Subnet, used); err != nil {
		return nil, fmt.Errorf("lab %s: %w", spec.Name, err)
	}
	addrs, err := spec.assign()
	if err != nil {
		return nil, err
	}
	if !emptyOrAbsent(spec.StateDir) {
		return nil, fmt.Errorf("lab %s: state directory %s exists and is not empty", spec.Name, spec.StateDir)
	}
	if err := os.MkdirAll(spec.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("lab %s: %w", spec.Name, err)
	}
	owner, _ := identify(os.Getpid())
	st := &state{Name: spec.Name, ID: id, Bridge: bridgeName(id), Subnet: spec.Subnet, StateDir: spec.StateDir,
		Persistent: spec.Persistent, Owner: owner, SudoUser: SudoUser}
	for i, h := range spec.Hosts {
		init := InitRunit
		if h.Init == InitSystemd {
			init = InitSystemd
		}
		st.Hosts = append(st.Hosts, hostState{Name: h.Name, Addr: addrs[i], Netns: netnsName(id, h.Name), Veth: vethName(id, i), InitSystem: init})
	}
	if err := st.save(); err != nil {
		os.Remove(spec.StateDir)
		return nil, err
	}
	f := newFleet(st)
	if err := register(spec.Name, spec.StateDir); err != nil {
		return nil, errors.Join(err, f.Down(ctx))
	}
	gw := netip.PrefixFrom(spec.Subnet.Addr().Next(), 24)
	if err := ipBatch(ctx, "link add "+st.Bridge+" type bridge", "addr add "+gw.String()+" dev "+st.Bridge, "link set "+st.Bridge+" up"); err != nil {
		return nil, errors.Join(fmt.Errorf("lab %s: bridge: %w", spec.Name, err), f.Down(ctx))
	}
	return f, nil
}

// stale reports whether a lab belongs to a process that has exited.
func stale(st *state) bool { return !st.Persistent && st.Owner.PID != 0 && !st.Owner.alive() }

// build creates the hosts' files, namespaces and links, starts them and waits for sshd.
func (f *Fleet) build(ctx context.Context, spec *Spec) error {
	st := f.st
	var err error
	bin := filepath.Join(st.StateDir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	for name, path := range spec.Binaries {
		if err := copyFile(path, filepath.Join(bin, name), 0o755); err != nil {
			return fmt.Errorf("binary %s: %w", name, err)
		}
	}
	var base string
	if spec.systemdHosts() > 0 {
		if base, err = SystemdBase(); err != nil {
			return err
		}
	}
	initPath := filepath.Join(st.StateDir, "init.sh")
	if err := os.WriteFile(initPath, initScript, 0o755); err != nil {
		return err
	}
	var clientKey []byte
	var clientPub ssh.PublicKey
	clientKey, clientPub, err = newKey("latticepush-lab-" + st.Name)
	if err != nil {
		return err
	}
	acct, err := pickAccount()
	if err != nil {
		return err
	}
	var etcHosts strings.Builder
	fmt.Fprintf(&etcHosts, "# latticepush lab %s", st.Name)
	for _, h := range st.Hosts {
		fmt.Fprintf(&etcHosts, "\n%s\t%s", h.Addr, h.Name)
	}
	addrOf := map[string]netip.Addr{}
	for _, h := range st.Hosts {
		addrOf[h.Name] = h.Addr
	}
	hostPubs := make([]ssh.PublicKey, len(st.Hosts))
	for i, h := range st.Hosts {
		var from []netip.Addr
		for _, n := range spec.Hosts[i].SSHFrom {
			from = append(from, addrOf[n])
		}
		key, pub, err := newKey("root@" + h.Name)
		if err != nil {
			return err
		}
		hostPubs[i] = pub
		files := hostFiles{name: h.Name, dir: hostDir(st.StateDir, h.Name), sshd: sshdConfigFrom(h.Addr, from), hostKey: key, hostPub: pub,
			clientPub: clientPub, acct: acct, etcHosts: etcHosts.String()}
		if h.systemd() {
			var allow []netip.Addr
			if len(from) > 0 {
				allow = append([]netip.Addr{h.Addr}, from...)
			}
			err = prepareSystemdHost(files, base, allow)
		} else {
			err = prepareHost(files)
		}
		if err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
	}
	if err := f.writeSSHFiles(clientKey, clientPub, hostPubs); err != nil {
		return err
	}
	if err := failPoint(spec, "files"); err != nil {
		return err
	}

	var cmds []string
	for _, h := range st.Hosts {
		cmds = append(cmds, "netns add "+h.Netns,
			"link add "+h.Veth+" type veth peer name eth0 netns "+h.Netns,
			"link set "+h.Veth+" master "+st.Bridge+" up")
	}
	if err := ipBatch(ctx, cmds...); err != nil {
		return fmt.Errorf("host network: %w", err)
	}
	if err := failPoint(spec, "network"); err != nil {
		return err
	}

	if n := spec.systemdHosts(); n > 0 {
		change, err := raiseInotify(n)
		if err != nil {
			return err
		}
		if change != "" {
			st.MachineChanges = append(st.MachineChanges, change)
		}
		for _, h := range st.Hosts {
			if h.systemd() {
				if err := mountOverlay(st.StateDir, h.Name, base); err != nil {
					return err
				}
			}
		}
	}
	if err := failPoint(spec, "mount"); err != nil {
		return err
	}

	exited := make(chan string, len(st.Hosts))
	for i := range st.Hosts {
		h := &st.Hosts[i]
		hostBin, _, berr := hostBinaries(st.StateDir, h.Name, bin)
		if berr != nil {
			return fmt.Errorf("host %s: binaries: %w", h.Name, berr)
		}
		if h.systemd() {
			err = f.startSystemd(ctx, h, hostBin, exited)
		} else {
			err = f.start(h, initPath, hostBin, exited)
		}
		if err != nil {
			return err
		}
	}
	if err := st.save(); err != nil {
		return err
	}
	if err := failPoint(spec, "start"); err != nil {
		return err
	}
	if err := f.waitSSH(ctx, exited); err != nil {
		return err
	}
	if err := f.waitSystemd(ctx); err != nil {
		return err
	}
	for i := range st.Hosts {
		st.Hosts[i].Init = st.Hosts[i].initOf()
	}
	st.Ready = true
	return st.save()
}

// systemdHosts counts the spec's systemd hosts.
func (s *Spec) systemdHosts() int {
	n := 0
	for _, h := range s.Hosts {
		if h.Init == InitSystemd {
			n++
		}
	}
	return n
}

// start launches the host's process 1 and records the process it started.
func (f *Fleet) start(h *hostState, initPath, bin string, exited chan<- string) error {
	dir := hostDir(f.st.StateDir, h.Name)
	console, err := os.OpenFile(filepath.Join(dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer console.Close()
	prefix := netip.PrefixFrom(h.Addr, f.Subnet.Bits())
	cmd := exec.Command("ip", "netns", "exec", h.Netns,
		"unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc",
		"/bin/sh", initPath, dir, h.Name, prefix.String(), bin)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	// A session of its own: the host outlives a terminal's Ctrl-C (Down stops it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	h.Unshare, _ = identify(cmd.Process.Pid)
	name := h.Name
	go func() {
		cmd.Wait() // reaps it; Down kills it by PID, from any process

		exited <- name
	}()
	return nil
}

// waitSSH waits until every host's sshd sends its banner, failing early if a host exits.
func (f *Fleet) waitSSH(ctx context.Context, exited <-chan string) error {
	limit := 30*time.Second + time.Duration(len(f.Hosts))*200*time.Millisecond
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(64)
		for _, h := range f.st.Hosts {
			g.Go(func() error { return waitBanner(gctx, h.Veth, netip.AddrPortFrom(h.Addr, 22).String()) })
		}
		done <- g.Wait()
	}()
	select {
	case err := <-done:
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w (limit %s; see console.log in the host's state directory)", err, limit)
		}
		return err
	case name := <-exited:
		cancel()
		<-done
		return fmt.Errorf("host %s exited while starting:\n%s", name, tail(filepath.Join(hostDir(f.StateDir, name), "console.log"), 10))
	}
}

// waitBanner dials addr until it sends an SSH banner or ctx ends. It dials only once the
// host's link is up (its init sets the address first): a SYN sent earlier waits a full ARP
// retransmit interval (1 s) for an answer.
func waitBanner(ctx context.Context, veth, addr string) error {
	var d net.Dialer
	operstate := "/sys/class/net/" + veth + "/operstate"
	for {
		var err error
		if b, _ := os.ReadFile(operstate); string(bytes.TrimSpace(b)) != "up" {
			err = errors.New("link down")
		}
		var conn net.Conn
		if err == nil {
			conn, err = d.DialContext(ctx, "tcp", addr)
		}
		if err == nil {
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sshd on %s did not answer: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ipBatch runs `ip -batch -` with one command per line.
func ipBatch(ctx context.Context, lines ...string) error {
	if len(lines) == 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, "ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no console log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

func failPoint(spec *Spec, step string) error {
	if spec.failAfter == step {
		return fmt.Errorf("failing after step %q as the test asked", step)
	}
	return nil
}
