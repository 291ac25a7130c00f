package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
)

// BaseDir is where labs are registered: each lab has an entry named after it, its state
// directory or a symlink to it.
const BaseDir = "/run/latticepush-lab"

// LabRange is the address range labs are allocated from: 198.18.0.0/15, reserved for network
// benchmarking (RFC 2544), so a lab never clashes with a real network.
var LabRange = netip.MustParsePrefix("198.18.0.0/15")

// MaxHosts is how many hosts one lab holds: .11 to .254 of its /24.
const MaxHosts = 244

// Spec describes a lab to bring up.
type Spec struct {
	// Name identifies the lab on this machine ([a-z0-9-], at most 32 characters).
	Name string
	// Subnet is the lab's /24, inside LabRange. Zero allocates a free one, never
	// 198.18.0.0/24, which is left to specs that ask for it (the demo inventory uses it).
	Subnet netip.Prefix
	// Hosts are the lab's hosts, at least one, at most MaxHosts.
	Hosts []HostSpec
	// StateDir holds the lab's keys, SSH settings and per-host directories. Default
	// BaseDir/<Name>. It must not exist yet, or be empty.
	StateDir string
	// Binaries maps a name to a file on the machine; every host sees a copy at
	// /usr/local/bin/<name> (e.g. "nats-server", "wasmcloud").
	Binaries map[string]string
	// Persistent keeps the lab after the creating process exits (the `latticepush lab`
	// command). Otherwise the lab is stale once that process is gone and the next Up removes it.
	Persistent bool

	failAfter string // tests: stop Up with an error after this step
}

// HostSpec is one host of a Spec.
type HostSpec struct {
	// Name is the host's name and hostname ([A-Za-z0-9][A-Za-z0-9._-]*, at most 40 characters).
	Name string
	// Addr is the host's address in the lab's subnet; zero allocates .11, .12, ... in order.
	Addr netip.Addr
	// SSHFrom, when set, names the lab hosts this host's sshd accepts logins from (besides
	// itself); it refuses every other source, the machine running the lab included, as a
	// host behind a bastion does. Empty: logins from anywhere.
	SSHFrom []string
	// Init is the host's process 1: InitRunit (the default when empty) or InitSystemd. A
	// lab may mix them. A systemd host boots the cached Debian tree (see SystemdBase) under
	// systemd-nspawn; its name must also be a valid hostname (no '_').
	Init string
}

// The inits a lab host can run as its process 1.
const (
	// InitRunit: runsvdir over the machine's own file system (overlays of /etc and /var).
	InitRunit = "runit"
	// InitSystemd: a Debian tree booted with systemd-nspawn, systemd as process 1.
	InitSystemd = "systemd"
)

var (
	labNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	hostNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$`)
	binNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// systemdNameRE: systemd and nspawn refuse hostnames with '_'.
	systemdNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,39}$`)
)

// check validates what can be checked without looking at the machine.
func (s *Spec) check() error {
	if !labNameRE.MatchString(s.Name) {
		return fmt.Errorf("lab name %q: use 1-32 of a-z, 0-9 and -, starting with a letter or digit", s.Name)
	}
	if len(s.Hosts) == 0 || len(s.Hosts) > MaxHosts {
		return fmt.Errorf("lab %s: %d hosts; a lab holds 1 to %d", s.Name, len(s.Hosts), MaxHosts)
	}
	if s.Subnet.IsValid() {
		if s.Subnet.Bits() != 24 || !LabRange.Contains(s.Subnet.Addr()) || s.Subnet.Masked() != s.Subnet {
			return fmt.Errorf("lab %s: subnet %s: want a /24 inside %s", s.Name, s.Subnet, LabRange)
		}
	}
	names := map[string]bool{}
	addrs := map[netip.Addr]string{}
	for _, h := range s.Hosts {
		if !hostNameRE.MatchString(h.Name) {
			return fmt.Errorf("lab %s: host name %q: use up to 40 of A-Z, a-z, 0-9, '.', '_' and '-'", s.Name, h.Name)
		}
		if names[h.Name] {
			return fmt.Errorf("lab %s: host %s is listed twice", s.Name, h.Name)
		}
		names[h.Name] = true
		switch h.Init {
		case "", InitRunit:
		case InitSystemd:
			if !systemdNameRE.MatchString(h.Name) {
				return fmt.Errorf("lab %s: host %s: a systemd host's name must be a valid hostname (A-Z, a-z, 0-9, '.' and '-')", s.Name, h.Name)
			}
		default:
			return fmt.Errorf("lab %s: host %s: init %q: use %q or %q", s.Name, h.Name, h.Init, InitRunit, InitSystemd)
		}
		if !h.Addr.IsValid() {
			continue
		}
		if prev, dup := addrs[h.Addr]; dup {
			return fmt.Errorf("lab %s: hosts %s and %s both have address %s", s.Name, prev, h.Name, h.Addr)
		}
		addrs[h.Addr] = h.Name
		if !LabRange.Contains(h.Addr) {
			return fmt.Errorf("lab %s: host %s: address %s is outside %s", s.Name, h.Name, h.Addr, LabRange)
		}
		if last := h.Addr.As4()[3]; last < 2 || last == 255 {
			return fmt.Errorf("lab %s: host %s: address %s is reserved (.0, .1 and .255 are the network, the machine and broadcast)", s.Name, h.Name, h.Addr)
		}
		p, _ := h.Addr.Prefix(24)
		if s.Subnet.IsValid() && p != s.Subnet {
			return fmt.Errorf("lab %s: host %s: address %s is outside the lab's subnet %s", s.Name, h.Name, h.Addr, s.Subnet)
		}
		if !s.Subnet.IsValid() {
			s.Subnet = p // the first explicit address decides the subnet
		}
	}
	for _, h := range s.Hosts {
		for _, from := range h.SSHFrom {
			if !names[from] {
				return fmt.Errorf("lab %s: host %s: SSHFrom names %q, which is not a host of the lab", s.Name, h.Name, from)
			}
		}
	}
	for name, path := range s.Binaries {
		if !binNameRE.MatchString(name) {
			return fmt.Errorf("lab %s: binary name %q is not a plain file name", s.Name, name)
		}
		if !filepath.IsAbs(path) {
			return fmt.Errorf("lab %s: binary %s: path %q is not absolute", s.Name, name, path)
		}
	}
	if s.StateDir == "" {
		s.StateDir = filepath.Join(BaseDir, s.Name)
	}
	if !filepath.IsAbs(s.StateDir) || filepath.Clean(s.StateDir) == "/" {
		return fmt.Errorf("lab %s: state directory %q: want an absolute path below /", s.Name, s.StateDir)
	}
	s.StateDir = filepath.Clean(s.StateDir)
	return nil
}

// assign gives every host without an address the next free one from .11 up. s.Subnet must be set.
func (s *Spec) assign() ([]netip.Addr, error) {
	taken := map[netip.Addr]bool{}
	for _, h := range s.Hosts {
		if h.Addr.IsValid() {
			taken[h.Addr] = true
		}
	}
	out := make([]netip.Addr, len(s.Hosts))
	next := s.Subnet.Addr().As4()
	next[3] = 11
	for i, h := range s.Hosts {
		if h.Addr.IsValid() {
			out[i] = h.Addr
			continue
		}
		for taken[netip.AddrFrom4(next)] {
			next[3]++
		}
		if next[3] == 255 || next[3] < 11 {
			return nil, fmt.Errorf("lab %s: no free address left in %s for host %s", s.Name, s.Subnet, h.Name)
		}
		out[i] = netip.AddrFrom4(next)
		taken[out[i]] = true
	}
	return out, nil
}

// labID is a short, stable hash of the lab's name. It names the bridge (lp<id>), the veths
// (lp<id>v<n>) and the network namespaces (lp<id>-<host>); Linux link names hold 15 bytes.
func labID(name string) string {
	sum := sha256.Sum256([]byte("latticepush-lab:" + name))
	return hex.EncodeToString(sum[:4])
}

func bridgeName(id string) string          { return "lp" + id }
func vethName(id string, i int) string     { return fmt.Sprintf("lp%sv%d", id, i) }
func netnsName(id, host string) string     { return "lp" + id + "-" + host }
func hostDir(stateDir, host string) string { return filepath.Join(stateDir, "hosts", host) }
