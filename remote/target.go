package remote

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Target says how to reach one host. Empty fields fall back to ssh_config (ConfigFile, by
// default ~/.ssh/config), then to OpenSSH's defaults: a value set here always wins.
type Target struct {
	// Name labels the host in errors and logs; it defaults to Address.
	Name string
	// Address is what one would give to ssh: a name matched against ssh_config Host
	// patterns (and replaced by its HostName), or an IP address.
	Address string
	Port    int // 0: ssh_config, else 22
	User    string
	// IdentityFiles are private keys to offer, before ssh_config's IdentityFile entries.
	IdentityFiles []string
	// IdentitiesOnly offers only the identity files (and agent keys matching them), never
	// other agent keys. True here or in ssh_config turns it on.
	IdentitiesOnly bool
	// KnownHostsFile replaces ssh_config's UserKnownHostsFile (default ~/.ssh/known_hosts).
	KnownHostsFile string
	// StrictHostKeyChecking is "yes" (default) or "accept-new" (record the key of a host
	// that has none yet; a changed key is still refused).
	StrictHostKeyChecking string
	// ProxyJump is "[user@]host[:port][,...]" or "none" (connect directly even when
	// ssh_config names a jump host).
	ProxyJump string
	// JumpHosts says how to reach the jump hosts named in ProxyJump (and in the ProxyJump of
	// those hops), keyed by the element as written there ("root@10.0.0.1", "bastion:2222").
	// A hop not in it is resolved from ssh_config and OpenSSH's defaults alone.
	JumpHosts map[string]Hop
	// ConfigFile is the ssh_config to read: "" means ~/.ssh/config, "none" reads none.
	ConfigFile string
	// Become runs commands and SFTP as root through sudo (see Client.Run).
	Become bool
}

// Hop is how to reach one jump host, as the caller knows it (e.g. from its own inventory). A
// user or port written in the ProxyJump element wins over the Hop's.
type Hop struct {
	// Address replaces the host written in ProxyJump (a name the caller knows → its address);
	// ssh_config Host entries are matched against it. Empty: the written host.
	Address string
	Port    int
	User    string
	// IdentityFiles are offered before ssh_config's (Inherited: after them).
	IdentityFiles []string
	// KnownHostsFiles are consulted in order; the first is where accept-new records a key.
	KnownHostsFiles []string
	// StrictHostKeyChecking is "yes", "accept-new" or "" (ssh_config, else "yes").
	StrictHostKeyChecking string
	// ProxyJump is how this hop is reached when it is the first of a chain: "" uses
	// ssh_config's ProxyJump for it, "none" connects directly.
	ProxyJump string
	// ConfigFile is the ssh_config for this hop: "" the target's, "none" reads none.
	ConfigFile string
	// Inherited marks settings the jump host only inherits from the target that names it
	// (the hop is not a host of its own): then any value ssh_config has for the hop wins,
	// and the Hop fills in only what ssh_config leaves unset. Otherwise the Hop's values
	// win, as a Target's do.
	Inherited bool
}

// Endpoint is one fully resolved SSH server: a target or one of its jump hosts.
type Endpoint struct {
	Alias          string // the name that was resolved (for errors and ssh_config matching)
	Host           string // after HostName
	Port           int
	User           string
	IdentityFiles  []string // expanded paths, in the order they are offered
	IdentitiesOnly bool
	KnownHosts     []string // expanded paths; the first is the one accept-new writes to
	StrictHostKey  string   // "yes" or "accept-new"
	ConnectTimeout time.Duration
	KeepAlive      time.Duration // ServerAliveInterval; 0 means the pool's default
}

// Addr returns host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// String names the endpoint for messages: user@host:port (alias).
func (e Endpoint) String() string {
	s := e.User + "@" + e.Addr()
	if e.Alias != e.Host {
		s += " (" + e.Alias + ")"
	}
	return s
}

// Resolved is a Target merged with ssh_config and defaults.
type Resolved struct {
	Name   string
	Become bool
	Endpoint
	// Jumps are the hosts to go through, first hop first; empty for a direct connection.
	Jumps []Endpoint
	// Warnings name ssh_config directives that apply to this host but that latticepush does
	// not implement, and values it overrode. Callers should show them: nothing is dropped
	// silently.
	Warnings []string
}

// key returns a string that identifies the connection this endpoint needs, including the
// path to it, so that two targets share a connection only when they would be identical.
func (r Resolved) key() string {
	var b strings.Builder
	for _, j := range r.Jumps {
		b.WriteString(j.User + "@" + j.Addr() + ">")
	}
	b.WriteString(r.User + "@" + r.Addr())
	return b.String()
}

func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

// expandPath expands ~ and the ssh_config tokens %d %h %p %r %u %% in p.
func expandPath(p string, e *Endpoint) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = filepath.Join(homeDir(), p[1:])
	}
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			b.WriteByte(p[i])
			continue
		}
		i++
		switch p[i] {
		case 'd':
			b.WriteString(homeDir())
		case 'h':
			b.WriteString(e.Host)
		case 'p':
			b.WriteString(strconv.Itoa(e.Port))
		case 'r':
			b.WriteString(e.User)
		case 'u':
			b.WriteString(localUser())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

// ParseJump splits one ProxyJump element "[user@]host[:port]".
func ParseJump(s string) (user, host string, port int, err error) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		user, s = s[:i], s[i+1:]
	}
	host = s
	if h, p, splitErr := net.SplitHostPort(s); splitErr == nil {
		host = h
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("bad port in ProxyJump element %q", s)
		}
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("empty host in ProxyJump element %q", s)
	}
	return user, host, port, nil
}
