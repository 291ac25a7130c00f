package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Probe says what to observe on one host, in one round trip.
type Probe struct {
	Host string
	// Files are the managed paths whose state (and, for small files, content) is wanted.
	Files []string
	// Want is the sha256 (hex) of each file's desired content. Content is needed only to
	// diff a file that differs, so the host adapter may leave it out for files that match.
	Want map[string]string
	// Services are the services latticepush manages on the host ("nats-server", "wasmcloud").
	Services []string
	// NATS is set when the host runs a nats-server.
	NATS *NATSProbe
	// Wasmcloud is set when the inventory pins the host's wasmCloud release.
	Wasmcloud *WasmcloudProbe
}

// WasmcloudProbe asks a host about its pinned wasmCloud release: the machine, the binary's
// version (`wasmcloud --version`), the releases under the install root and the fetch tool,
// and the running host's version from the control interface (host.get HostID).
type WasmcloudProbe struct {
	Binary string
	HostID string
}

// NATSProbe asks a host about its nats-server.
type NATSProbe struct {
	Binary string // nats-server on the host; its -t gives the desired digest
	// DesiredConfig is the rendered config (secrets revealed). Its digest is the value /varz
	// config_digest shows once the server runs that config: the host's own nats-server prints
	// it (`nats-server -t -c /dev/stdin`), or the host's digest cache holds what it printed
	// for these bytes when apply checked them.
	DesiredConfig []byte
	// MonitorAddr is host:port of the monitoring listener, reached through the SSH connection.
	MonitorAddr string
	// StoreDir is the JetStream store directory whose state is looked for (hubs only).
	StoreDir string
	// Install asks for what a pinned release needs: the machine (`uname -m`), the installed
	// release (`<binary> --version`) and the releases kept under the install root.
	Install bool
}

// Facts is what was observed on one host. A host that could not be reached has Err set and
// nothing else; Err does not repeat the host's name (plan puts it in front).
type Facts struct {
	Host string
	Err  string
	// Refused marks an Err that must stop any plan rather than leave the host out: the host
	// presented an SSH host key that known_hosts does not accept.
	Refused bool

	Files    map[string]FileFact
	Services map[string]ServiceFact
	NATS     *NATSFacts
	// Wasmcloud is what a pinned wasmCloud release needs (WasmcloudProbe); nil otherwise.
	Wasmcloud *ReleaseFacts
	// Others are nats-server processes that are not the managed service's.
	Others []Process
	// Lock describes the latticepush lock the host holds ("" for none): who took it, when,
	// running what. Not part of the fingerprint: apply observes again holding its own lock.
	Lock string
}

// Reachable reports whether the host answered.
func (f Facts) Reachable() bool { return f.Err == "" }

// FileFact is one managed file as found on the host.
type FileFact struct {
	Exists bool
	Mode   uint32 // permission bits
	// Group is the file's group name; "" when unknown (not compared).
	Group  string
	Size   int64
	SHA256 string // hex
	// MTime is the file's modification time (Unix seconds, host clock); 0 when unknown.
	MTime int64
	// Content is the file's bytes when it is small enough to diff (the host adapter decides);
	// nil otherwise. Never printed as is: plan redacts secrets before showing a diff.
	Content []byte
}

// ServiceFact is one service's state.
type ServiceFact struct {
	Running bool
	// Stopping is set when the service runs but its supervisor will not start it again once
	// it exits (runit: "want down"): a stop is under way, or one was begun and never finished.
	Stopping bool
	PID      int
	Enabled  bool
	// Started is when the running process started (Unix seconds, host clock); 0 when unknown.
	Started int64
	// User is the user the running process runs as (the owner of /proc/PID: its effective
	// uid); "" when unknown.
	User string
	// Exe and Cmdline are the running process's /proc/PID/exe and command line (arguments
	// separated by spaces); empty when not running or not readable.
	Exe     string
	Cmdline string
	// Definition is what the supervisor runs for the service, whatever wrote it: runit, the
	// supervised path's target (the path itself for a directory of its own); systemd, the
	// unit file in effect (FragmentPath). Empty when there is none.
	Definition string
	// DropIns are the systemd drop-in files that apply to the unit.
	DropIns []string
	// ExecStart is systemd's command line for the unit (its argv).
	ExecStart string
}

// Process is a running process of the managed server's binary that no managed service runs:
// a server started by another service (a package's nats.service, a hand-made runit service
// of another name) or by hand.
type Process struct {
	PID     int
	Exe     string
	Cmdline string
	// Unit is the systemd unit whose cgroup holds it ("nats.service"); RunitDir the
	// directory of the runsv supervising it (resolved), RunitName the name of that service
	// in the supervised directory. All empty for a process no service runs.
	Unit      string
	RunitDir  string
	RunitName string
}

// MetaPeer is a member of the JetStream meta group, as a node sees it.
type MetaPeer struct {
	Name    string // server_name
	Peer    string // peer id
	Current bool
	Offline bool
}

// NATSFacts is what the host's nats-server says about itself.
type NATSFacts struct {
	// Version is the running server's (/varz), e.g. "2.15.2"; empty when no server answers. It
	// decides what a reload can change; a server that does not run is started, not reloaded.
	Version string
	// DesiredDigest is the digest the host's nats-server -t prints for the desired config (run
	// now, or cached from apply's check of the same bytes with the same binary), or empty
	// when that failed (DesiredError then says why).
	DesiredDigest string
	DesiredError  string
	// FileDigest is what the host's digest cache holds for its config file as found (its
	// sha256, this binary): the digest of a config an apply checked there; empty when the
	// cache holds none. Compared with RunningDigest, it says whether the server runs its file.
	FileDigest string
	// The rest comes from the running server's monitoring endpoints; empty when it is down.
	RunningDigest string // /varz config_digest
	ServerName    string // /varz server_name
	Domain        string // /varz jetstream.config.domain
	ClusterName   string // /varz cluster.name
	MetaLeader    string // /jsz meta_cluster.leader, as this node sees it
	// MetaPeers are the other members of the JetStream meta group as this node sees them
	// (/jsz meta_cluster.replicas; nats-server before 2.15 lists them only on the meta
	// leader): on the meta leader, who is current and who is offline.
	MetaPeers []MetaPeer
	// MetaSize is the meta group's size as this node counts it (/jsz meta_cluster.cluster_size).
	MetaSize int
	// Routes are the servers a hub has a route to (/routez remote_name): who runs in the
	// cluster as far as this node can tell. RoutesRead says /routez answered.
	Routes     []string
	RoutesRead bool
	// Listening ports as /varz reports them (port, http_port, cluster.port, leaf.port); 0 when
	// not listening. They tell a pending restart from a pending reload.
	ClientPort   int
	HTTPPort     int
	ClusterPort  int
	LeafnodePort int
	// ClientHost and HTTPHost are the client and monitoring listeners' hosts (/varz host,
	// http_host): with the ports, where apply reaches the server until its new config is in,
	// and again after a rollback.
	ClientHost string
	HTTPHost   string
	// BinaryPath is `readlink -f` of the managed binary: a running process whose exe is
	// another file runs another binary.
	BinaryPath string
	// JetStream says the running server has JetStream enabled (/varz); StoreState that the
	// store directory the inventory gives holds JetStream state (a non-empty jetstream/).
	JetStream  bool
	StoreState bool
	// TLSCertNotAfter is the earliest end of the certificates the running server serves on
	// its client, cluster and leafnode ports (/varz); zero without TLS or when it is down. Plan renews a
	// certificate from it (renew.go).
	TLSCertNotAfter time.Time
	// TLSCertSerial and TLSCertIssuer are the serial (hex) and authority key ID (hex: its CA's
	// subject key ID) of the certificate it presents on its leafnode port (else its client
	// port), read by a TLS handshake; empty without TLS or when unread. A CA rotation's last
	// step waits for every server to present one of the new CA.
	TLSCertSerial string
	TLSCertIssuer string

	// Asked for only when the inventory pins a release (NATSProbe.Install):
	// Machine is what `uname -m` prints; Installed what `<binary> --version` says (cached on
	// the host by the binary's inode, size and mtime); Running the running server's /varz
	// version ("" when it does not run); Releases the release directories under the install
	// root, each with the sha256 of the artifact it was unpacked from; Fetcher the tool the
	// host fetches a URL artifact with, "curl" or "wget" ("" when it has neither).
	Machine   string
	Installed string
	Running   string
	Releases  map[string]string
	Fetcher   string
}

// ReleaseFacts is what a pinned release of a program needs to know about a host: Machine
// what `uname -m` prints; BinaryPath `readlink -f` of the binary path; Installed what the
// binary's --version says (cached on the host by the binary's inode, size and mtime);
// Running what the running program says it runs ("" when it does not run or does not
// answer); Releases the release directories under the program's install root, each with the
// sha256 of the artifact it was unpacked from; Fetcher the tool the host fetches a URL
// artifact with, "curl" or "wget" ("" when it has neither).
type ReleaseFacts struct {
	Machine    string
	BinaryPath string
	Installed  string
	Running    string
	Releases   map[string]string
	Fetcher    string
}

func (r *ReleaseFacts) line() string {
	rel := make([]string, 0, len(r.Releases))
	for v, sum := range r.Releases {
		rel = append(rel, v+"="+sum)
	}
	sort.Strings(rel)
	return "machine=" + r.Machine + " binary=" + r.BinaryPath + " installed=" + r.Installed + " running=" + r.Running +
		" releases=" + strings.Join(rel, ",") + " fetcher=" + r.Fetcher
}

// fingerprint is a digest of the facts that drive a decision: file hashes and modes, service
// up/down, versions and digests. It leaves out what changes without meaning a change (PIDs,
// uptimes, which hub currently leads).
func (f Facts) fingerprint() string {
	var b strings.Builder
	if !f.Reachable() {
		b.WriteString("unreachable\n")
	}
	paths := make([]string, 0, len(f.Files))
	for p := range f.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		ff := f.Files[p]
		if !ff.Exists {
			b.WriteString("file " + p + " absent\n")
			continue
		}
		b.WriteString("file " + p + " " + ff.SHA256 + " " + octal(ff.Mode) + "\n")
	}
	svcs := make([]string, 0, len(f.Services))
	for s := range f.Services {
		svcs = append(svcs, s)
	}
	sort.Strings(svcs)
	for _, s := range svcs {
		sf := f.Services[s]
		b.WriteString("service " + s + " running=" + boolStr(sf.Running) + " enabled=" + boolStr(sf.Enabled) + "\n")
		// Written only when observed, so facts without them keep their fingerprint.
		if sf.Definition != "" || len(sf.DropIns) > 0 || sf.Exe != "" {
			b.WriteString("service " + s + " def=" + sf.Definition + " dropins=" + strings.Join(sf.DropIns, ",") +
				" exe=" + sf.Exe + " cmdline=" + sf.Cmdline + "\n")
		}
	}
	if n := f.NATS; n != nil {
		b.WriteString("nats " + n.Version + " desired=" + n.DesiredDigest + " running=" + n.RunningDigest +
			" name=" + n.ServerName + " domain=" + n.Domain + " cluster=" + n.ClusterName +
			" ports=" + itoa(n.ClientPort) + "," + itoa(n.HTTPPort) + "," + itoa(n.ClusterPort) + "," + itoa(n.LeafnodePort) + "\n")
	}
	for _, o := range f.Others {
		b.WriteString("other " + o.Exe + " " + o.Cmdline + " unit=" + o.Unit + " runit=" + o.RunitDir + "\n")
	}
	if n := f.NATS; n != nil && (n.JetStream || n.StoreState || n.BinaryPath != "") {
		b.WriteString("nats binary=" + n.BinaryPath + " js=" + boolStr(n.JetStream) + " store=" + boolStr(n.StoreState) + "\n")
	}
	if n := f.NATS; n != nil && n.Machine != "" {
		rel := make([]string, 0, len(n.Releases))
		for v, sum := range n.Releases {
			rel = append(rel, v+"="+sum)
		}
		sort.Strings(rel)
		b.WriteString("install machine=" + n.Machine + " installed=" + n.Installed + " running=" + n.Running +
			" releases=" + strings.Join(rel, ",") + " fetcher=" + n.Fetcher + "\n")
	}
	if f.Wasmcloud != nil {
		b.WriteString("wasmcloud install " + f.Wasmcloud.line() + "\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func octal(m uint32) string {
	const digits = "01234567"
	out := []byte{'0', '0', '0', '0'}
	for i := 3; i >= 0; i-- {
		out[i] = digits[m&7]
		m >>= 3
	}
	return string(out)
}
