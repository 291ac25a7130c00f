package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Fleet is a running lab. Its methods are safe for concurrent use except Down, which must
// not overlap other calls.
type Fleet struct {
	Name     string
	Subnet   netip.Prefix
	Bridge   string // the bridge on the machine, holding the subnet's .1
	Hosts    []Host // in Spec order
	StateDir string
	// KeyPath is the ed25519 private key (OpenSSH format) root and SudoUser log in with.
	KeyPath string
	// KnownHostsPath lists every host's ed25519 host key by address.
	KnownHostsPath string
	// SSHConfigPath has a Host entry per host (matching its name and its address) with
	// HostName, User root, IdentityFile, UserKnownHostsFile and StrictHostKeyChecking yes.
	SSHConfigPath string
	// SudoUser logs in with the same key and runs `sudo -n` without a password.
	SudoUser string
	// MachineChanges says, in words, what bringing the lab up changed on the machine outside
	// the lab (such as raising fs.inotify.max_user_instances for many systemd hosts); Down
	// does not undo it. Empty when nothing was changed.
	MachineChanges []string

	st *state
}

// Host is one lab host.
type Host struct {
	Name  string
	Addr  netip.Addr
	Netns string // network namespace, for `ip netns exec`
	// Init is the host's process 1: InitRunit or InitSystemd.
	Init string
}

// Host returns the named host.
func (f *Fleet) Host(name string) (Host, bool) {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

func (f *Fleet) hostState(name string) (*hostState, error) {
	for i := range f.st.Hosts {
		if f.st.Hosts[i].Name == name {
			return &f.st.Hosts[i], nil
		}
	}
	return nil, fmt.Errorf("lab %s has no host %q", f.Name, name)
}

// Open returns the lab whose state directory is dir, or whose name is dir when dir is not a
// path. The lab may be half built or stopped; Down works on it either way.
func Open(dir string) (*Fleet, error) {
	if !strings.Contains(dir, "/") {
		dir = filepath.Join(BaseDir, dir)
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	st, err := loadState(dir)
	if err != nil {
		return nil, fmt.Errorf("open lab: %w (is a lab up? `latticepush lab status` lists them)", err)
	}
	return newFleet(st), nil
}

func newFleet(st *state) *Fleet {
	f := &Fleet{
		Name:           st.Name,
		Subnet:         st.Subnet,
		Bridge:         st.Bridge,
		StateDir:       st.StateDir,
		KeyPath:        filepath.Join(st.StateDir, "id_ed25519"),
		KnownHostsPath: filepath.Join(st.StateDir, "known_hosts"),
		SSHConfigPath:  filepath.Join(st.StateDir, "ssh_config"),
		SudoUser:       st.SudoUser,
		MachineChanges: st.MachineChanges,
		st:             st,
	}
	for _, h := range st.Hosts {
		init := InitRunit
		if h.systemd() {
			init = InitSystemd
		}
		f.Hosts = append(f.Hosts, Host{Name: h.Name, Addr: h.Addr, Netns: h.Netns, Init: init})
	}
	return f
}

// Ready reports whether every host's sshd answered when the lab came up.
func (f *Fleet) Ready() bool { return f.st.Ready }

// Running reports whether the host's process 1 (runsvdir or systemd) is running.
func (f *Fleet) Running(host string) bool {
	h, err := f.hostState(host)
	return err == nil && h.initOf().alive()
}

// Exec runs argv inside the host (all its namespaces, as root, without SSH) and returns its
// combined output. It is for tests and inspection; latticepush itself goes over SSH.
func (f *Fleet) Exec(ctx context.Context, host string, argv ...string) ([]byte, error) {
	h, err := f.hostState(host)
	if err != nil {
		return nil, err
	}
	init := h.initOf()
	if !init.alive() {
		return nil, fmt.Errorf("lab host %s is not running", host)
	}
	ns := []string{"-m", "-u", "-n", "-p", "-r", "-w"}
	if h.systemd() {
		ns = []string{"-a"} // nspawn also gives the host IPC and cgroup namespaces
	}
	args := append(append(append([]string{"-t", strconv.Itoa(init.PID)}, ns...), "--"), argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %s: %w: %s", host, strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// LinkDown cuts the host off the network (its veth goes down on the machine's side), as if
// its cable were pulled; LinkUp reconnects it. Processes on the host keep running.
func (f *Fleet) LinkDown(host string) error { return f.setLink(host, "down") }

// LinkUp undoes LinkDown.
func (f *Fleet) LinkUp(host string) error { return f.setLink(host, "up") }

func (f *Fleet) setLink(host, updown string) error {
	h, err := f.hostState(host)
	if err != nil {
		return err
	}
	if out, err := exec.Command("ip", "link", "set", h.Veth, updown).CombinedOutput(); err != nil {
		return fmt.Errorf("lab host %s: link %s: %w: %s", host, updown, err, bytes.TrimSpace(out))
	}
	return nil
}

// ClientConfig returns an SSH client configuration for user ("root" or SudoUser) that logs in
// with the lab's key and checks host keys strictly against KnownHostsPath.
func (f *Fleet) ClientConfig(user string) (*ssh.ClientConfig, error) {
	key, err := os.ReadFile(f.KeyPath)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("lab key %s: %w", f.KeyPath, err)
	}
	hk, err := knownhosts.New(f.KnownHostsPath)
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   hk,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           10 * time.Second,
	}, nil
}

// Dial opens an SSH connection to host as user (see ClientConfig).
func (f *Fleet) Dial(ctx context.Context, host, user string) (*ssh.Client, error) {
	h, ok := f.Host(host)
	if !ok {
		return nil, fmt.Errorf("lab %s has no host %q", f.Name, host)
	}
	cfg, err := f.ClientConfig(user)
	if err != nil {
		return nil, err
	}
	addr := netip.AddrPortFrom(h.Addr, 22).String()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh %s@%s (%s): %w", user, host, addr, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// writeSSHFiles writes KeyPath, KnownHostsPath and SSHConfigPath.
func (f *Fleet) writeSSHFiles(clientKey []byte, clientPub ssh.PublicKey, hostPubs []ssh.PublicKey) error {
	if err := os.WriteFile(f.KeyPath, clientKey, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(f.KeyPath+".pub", ssh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		return err
	}
	var kh, cfg strings.Builder
	fmt.Fprintf(&cfg, "# latticepush lab %s: ssh -F %s <host>\n", f.Name, f.SSHConfigPath)
	for i, h := range f.Hosts {
		kh.WriteString(knownhosts.Line([]string{h.Addr.String()}, hostPubs[i]) + "\n")
		fmt.Fprintf(&cfg, "\nHost %s %s\n  HostName %s\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n",
			h.Name, h.Addr, h.Addr, f.KeyPath, f.KnownHostsPath)
	}
	if err := os.WriteFile(f.KnownHostsPath, []byte(kh.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(f.SSHConfigPath, []byte(cfg.String()), 0o644)
}

// Probe reports whether the host's sshd answers now (within a second): nil, or why not.
func (f *Fleet) Probe(ctx context.Context, host string) error {
	h, err := f.hostState(host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return waitBanner(ctx, h.Veth, netip.AddrPortFrom(h.Addr, 22).String())
}
