package inventory

import (
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Role names known to latticepush. A host carries one or more of them.
const (
	RoleHub       = "hub"
	RoleLeaf      = "leaf"
	RoleWasmcloud = "wasmcloud"
	// RoleRelay is a nats-server that accepts leaf connections from the tier below and is
	// itself a leaf of the tier above (see relay.go). A relay host has Leaf set.
	RoleRelay = "relay"
)

// Service managers a host can run its services under.
const (
	ServiceManagerSystemd = "systemd"
	ServiceManagerRunit   = "runit"
)

// Inventory is a decoded, defaulted and validated description of one lattice.
// Every value is resolved: role settings are merged into each host, defaults applied.
// Hosts are sorted by name. An Inventory is immutable once Load returns it.
type Inventory struct {
	// Filename is the path the inventory was loaded from, as given to Load: a file, or a
	// directory of .hcl files.
	Filename string
	// Files are the .hcl files read, in the order they were merged.
	Files []string
	// Dir is the directory relative paths in the inventory are resolved against.
	Dir string
	// Digest is a sha256 (hex) of the inventory source bytes, recorded in plans and audit records.
	Digest string
	// VariablesDigest is a sha256 (hex) of the values the inventory's variables took (defaults,
	// LATTICEPUSH_VAR_*, -var, -var-file), recorded in plans; "" when it declares none.
	VariablesDigest string

	Lattice Lattice
	Auth    Auth
	Hosts   []*Host
	// Roles holds the role blocks as written (after defaults), keyed by role name.
	Roles map[string]*Role
	// Bastions are jump hosts outside the fleet, by name order.
	Bastions []*Bastion
	// UpstreamSystem is the NATS system the hub cluster is a leaf of (`upstream {}`), or nil.
	UpstreamSystem *UpstreamSystem
}

// Bastion is a jump host that is not part of the fleet. Hosts name it in proxy_jump as
// bastion.<name>, which stands for its [user@]address[:port]. Its SSH settings are its own
// merged over the defaults' ssh block; its ProxyJump and Become are always empty.
type Bastion struct {
	Name      string
	Address   string
	SSH       SSH
	DeclRange hcl.Range
}

// Lattice is the wasmCloud lattice and the JetStream domain its hub homes.
type Lattice struct {
	Name     string // [A-Za-z0-9_-]+
	JSDomain string // single subject token
	// AliasOldDomain keeps the previous domain answering on the hubs after a domain cutover
	// (an undocumented NATS mapping table, see docs/domain-alias.md). Default true.
	AliasOldDomain bool
	// AliasDomain is the old domain the hubs keep answering for, when AliasOldDomain is set
	// and an alias is wanted. Empty means no alias. Set by the operator as `previous_js_domain`.
	PreviousJSDomain string
	// RouteAuth makes the hub cluster require the route user and password (passwords.route)
	// from every route, and puts them in every route URL. Default true; false renders the
	// cluster block without authorization (a fleet deployed before route authentication).
	RouteAuth bool
	// TLS is the fleet's TLS (tls.go); nil without a tls block: every link is plaintext.
	TLS           *TLS
	DeclRange     hcl.Range
	JSDomainRange hcl.Range
}

// Auth is the auth model: config-mode accounts, no operator/JWT (JWT and creds come later).
//
// On the hubs: account SYS (user "sys"), account LATTICE with JetStream holding the users
// "leaf" (what leaves authenticate with) and "latticepush" (the deployer's own checks); the
// cluster's routes authenticate as user "route" (Lattice.RouteAuth). A rotation renames a
// user (UserName: "leaf-a", "route-b"…).
// Leaves have no accounts block: local clients land in $G, bridged to LATTICE by the leaf link.
type Auth struct {
	SystemPassword Secret
	LeafPassword   Secret
	CheckPassword  Secret
	RoutePassword  Secret // hub cluster routes; required only with Lattice.RouteAuth
	// Users maps a rotatable password's key ("leaf", "system", "check", "route") to the user it belongs
	// to when a rotation renamed it ("leaf-b"; the secrets file's "users" object). Read it
	// through UserName.
	Users map[string]string
	// Retiring maps a rotatable password's key to the user and password a rotation replaces
	// (the secrets file's "retiring" object): the hubs keep accepting it until nothing logs in
	// with it. Absent when no rotation of that password is recorded.
	Retiring map[string]RetiringUser
	// SecretsFile is the operator's 0600 file holding generated secrets (host seeds, passwords),
	// resolved against Inventory.Dir. Default "secrets.json" next to the inventory.
	SecretsFile string
	// SecretsEnv maps a password's name ("passwords.leaf") to the environment variable that
	// supplies it (`secrets { env = {...} }`); when that variable is set it wins over the file.
	SecretsEnv map[string]string
}

// RetiringUser is a user name and its password that a rotation replaces.
type RetiringUser struct {
	User     string
	Password Secret
}

// IsSet reports whether a retiring user is recorded.
func (u RetiringUser) IsSet() bool { return u.User != "" && u.Password.IsSet() }

// RotatableKeys are the passwords `secrets --rotate` rotates, by their key in the secrets
// file's "passwords" object.
var RotatableKeys = []string{"leaf", "system", "check", "route"}

// defaultUsers are the users of the rotatable passwords before any rotation.
var defaultUsers = map[string]string{"leaf": DefaultLeafUser, "system": "sys", "check": "latticepush", "route": "route"}

// DefaultUserName is the user of a rotatable password before any rotation: "leaf", "sys",
// "latticepush", "route".
func DefaultUserName(key string) string { return defaultUsers[key] }

// UserName is the user the password key belongs to now: the recorded one, else the default.
func (a Auth) UserName(key string) string {
	if u := a.Users[key]; u != "" {
		return u
	}
	return defaultUsers[key]
}

// LeafUserName is the user the leaves log in as.
func (a Auth) LeafUserName() string { return a.UserName("leaf") }

// RetiringUser is the retiring user of password key; zero when none is recorded.
func (a Auth) RetiringUser(key string) RetiringUser { return a.Retiring[key] }

// DefaultLeafUser is the leaf user's name before any rotation.
const DefaultLeafUser = "leaf"

// Host is one machine with its fully merged settings.
type Host struct {
	Name    string
	Address string
	Roles   []string // sorted, unique
	Labels  map[string]string

	SSH            SSH
	ServiceManager string
	Parallelism    int

	// Exactly one of Hub and Leaf is set when the host runs a nats-server; both nil otherwise.
	Hub  *NATS
	Leaf *NATS
	// Wasmcloud is set when the host runs a wasmCloud host.
	Wasmcloud *Wasmcloud

	// Rollout settings per role this host has, keyed by role name.
	Rollout map[string]Rollout

	// Group is the hosts block that generated the host ("" for a host block), Instance the
	// instance, as in hosts "edge"["edge-017"].
	Group    string
	Instance string

	DeclRange    hcl.Range
	AddressRange hcl.Range
	RolesRange   hcl.Range
}

// HasRole reports whether the host carries the named role.
func (h *Host) HasRole(role string) bool {
	for _, r := range h.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// NATS returns the host's nats-server settings (hub or leaf), or nil if it runs none.
func (h *Host) NATS() *NATS {
	if h.Hub != nil {
		return h.Hub
	}
	return h.Leaf
}

// SSH holds how latticepush reaches a host. Empty fields fall back to ~/.ssh/config, then to
// OpenSSH's defaults.
type SSH struct {
	User         string
	Port         int    // 0: from ssh_config, else 22
	IdentityFile string // "~" expanded by remote/
	KnownHosts   string
	ProxyJump    string
	Become       bool
	ConfigFile   string // ssh_config to read; default ~/.ssh/config
	// StrictHostKeyChecking is "yes" (default) or "accept-new".
	StrictHostKeyChecking string
}

// NATS is one nats-server's settings, for a hub node or a leaf.
// LeafCompressionModes are the leaf_compression values: nats-server's names of its
// compression modes. Between two servers, "off" on either end turns a link's compression off.
var LeafCompressionModes = []string{"off", "accept", "s2_auto", "s2_uncompressed", "s2_fast", "s2_better", "s2_best"}

type NATS struct {
	ServerName string // defaults to the host name
	// ClusterName is the hub cluster's name (hubs only).
	ClusterName string

	ClientHost   string // listen host for clients; hub default 0.0.0.0, leaf default 127.0.0.1
	ClientPort   int
	HTTPHost     string // monitoring listen host; default 127.0.0.1 (reached over SSH)
	HTTPPort     int
	ClusterPort  int // hubs only
	LeafnodePort int // hubs and relays

	// JetStream. Hubs always run it with Lattice.JSDomain; leaves only if JetStreamDomain is set.
	JetStreamDomain string // leaves: own, optional domain; hubs: empty (the lattice's domain is used)
	StoreDir        string
	MaxFileStore    string // size as NATS writes it, e.g. "20GB"
	MaxMemoryStore  string

	LameDuckDuration    string // e.g. "30s"
	LameDuckGracePeriod string // e.g. "10s"

	Binary     string // path of nats-server on the host
	ConfigFile string // path of the rendered config on the host
	LogFile    string // optional
	// LeafCompression is the compression of the server's leaf links within the lattice:
	// a hub's or relay's leafnode listener, a leaf's or relay's remotes to the hubs or relays
	// ("" leaves nats-server's default, s2_auto). One of LeafCompressionModes.
	LeafCompression string
	// User is the system user (and group of the same name) the server runs as; "" runs it
	// as root, as before the setting existed (nats { user = "nats" }).
	User string
	// Install is the pinned release latticepush installs (nats { version, artifact }); nil
	// when the binary is the operator's to provide.
	Install *Install

	// Upstream is what a leaf or relay dials: "" (the hub cluster), "hub", "relay" (every
	// relay), a relay's host name, the name of a hosts block of relays, or a label selector
	// "key=value[,key=value]" over the relays (see relay.go).
	Upstream      string
	UpstreamRange hcl.Range // the upstream attribute, when set

	DeclRange hcl.Range
	// DomainRange points at a leaf's jetstream_domain attribute, when set.
	DomainRange hcl.Range
}

// Wasmcloud is one wasmCloud 1.x host's settings.
type Wasmcloud struct {
	Binary   string            // path of the wasmcloud binary on the host
	EnvFile  string            // path of the rendered environment file
	Labels   map[string]string // role labels merged with the host's labels
	NATSHost string            // bare host, no scheme; default 127.0.0.1
	NATSPort int               // default: the machine's nats-server client port
	HostSeed Secret            // SN… server nkey seed, from the secrets file
	// HostID is the public server nkey (N…) of HostSeed: the wasmCloud host ID that verify
	// looks for. Empty when the inventory was loaded with Options.SkipSecrets.
	HostID    string
	LogLevel  string // empty: the host's default
	Heartbeat int    // heartbeat_interval, seconds; 0 means the host's default
	// User is the system user (and group of the same name) the host runs as; "" runs it as
	// root (wasmcloud { user = "wasmcloud" }).
	User string
	// Install is the pinned release latticepush installs (wasmcloud { version, artifact });
	// nil when the binary is the operator's to provide.
	Install   *Install
	DeclRange hcl.Range
}

// Rollout is how a role's hosts are changed during apply.
type Rollout struct {
	// Batch is the number of hosts changed at once, or a percentage ("25%").
	Batch string
	// MaxFailures is how many hosts may fail their gate before the rollout stops (default 0).
	MaxFailures int
	// MaxUnreachable is how many hosts of the role a plan or apply may leave out because they
	// cannot be reached (reported, never silently).
	MaxUnreachable int
	// Settle is how long apply gives the fleet to settle after a change before a failing
	// check counts (settle = "30s"); 0 when the role does not set it (see Inventory.Settle).
	Settle time.Duration
	// GateTimeout is how long one gate of the role's units may take to pass before the unit
	// counts as failed and is rolled back (gate_timeout = "10m"); 0 when the role does not set
	// it (apply's default, DefaultGateTimeout).
	GateTimeout time.Duration
	// SpreadBy names a host label (spread_by = "rack"): the hosts sharing a value of it are
	// spread over the batches, at most ceil(their number / batches) in one batch.
	SpreadBy  string
	DeclRange hcl.Range
}

// BatchSize resolves Batch against n hosts: a number, or a percentage rounded down, at least 1:
// the most hosts one batch may hold. plan splits a wave into as few batches as that allows,
// of equal size within one.
func (r Rollout) BatchSize(n int) int {
	if n <= 0 {
		return 0
	}
	b := r.Batch
	size := 1
	if b != "" {
		if b[len(b)-1] == '%' {
			p := atoiSafe(b[:len(b)-1])
			size = n * p / 100
		} else {
			size = atoiSafe(b)
		}
	}
	if size < 1 {
		size = 1
	}
	if size > n {
		size = n
	}
	return size
}

func atoiSafe(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			return 1 << 20
		}
	}
	return n
}

// Role is a role block as written in the inventory, after defaults.
type Role struct {
	Name      string
	DeclRange hcl.Range
}

// Host returns the host with the given name, or nil.
func (inv *Inventory) Host(name string) *Host {
	i := sort.Search(len(inv.Hosts), func(i int) bool { return inv.Hosts[i].Name >= name })
	if i < len(inv.Hosts) && inv.Hosts[i].Name == name {
		return inv.Hosts[i]
	}
	return nil
}

// HostsWithRole returns the hosts carrying role, in name order.
func (inv *Inventory) HostsWithRole(role string) []*Host {
	var out []*Host
	for _, h := range inv.Hosts {
		if h.HasRole(role) {
			out = append(out, h)
		}
	}
	return out
}

// Hubs returns the hub nodes in name order.
func (inv *Inventory) Hubs() []*Host { return inv.HostsWithRole(RoleHub) }
