package plan

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/unit"
)

// FormatVersion is the version of the plan's JSON document and of plan files. A minor bump
// only adds fields or actions; a reader rejects a different major version. 1.1 added the
// actions start and adopt and a unit's "adopt"; 1.2 a unit's "upgrade" and the plan's
// "allow_downgrade"; 1.3 a unit's "cert" (a hub's new certificate, "renew" when the one it
// serves expires within the renewal window); 1.4 the plan's "rotations" and a leaf unit's
// "relogin" (a password rotation's steps); 1.5 a rotation's "old_ca" and "new_ca" (a CA
// rotation, secret "ca.key", whose steps are "trust-both", "reissue", "drop-old" and
// "complete"; it has no "old_user" or "new_user") and a unit's cert "serial" (apply confirms
// the certificate presented by it); 1.6 the plan's "locked" (hosts found holding a lock).
const FormatVersion = "1.6"

// Action is what happens to one unit (a service on a host).
type Action string

// The actions, from least to most disruptive.
const (
	// Noop: files match and the running server runs the desired config.
	Noop Action = "noop"
	// Reload: files differ (or the running config does) and every changed key is reloadable.
	Reload Action = "reload"
	// Start: the service does not run (a first start, or one that stopped); nothing is stopped.
	Start Action = "start"
	// Restart: a non-reloadable key changed, a service definition changed, or the running
	// process is not what the managed service runs (another binary or config file).
	Restart Action = "restart"
	// Adopt: a service definition latticepush did not write is in effect (or another service
	// runs the same server); apply stops it, puts it aside and starts the managed service.
	Adopt Action = "adopt"
	// Cutover: the hub's JetStream domain changes; every hub stops, then every hub starts.
	Cutover Action = "cutover"
)

// Symbol is the mark shown before a unit in the human plan, as Terraform marks its actions.
func (a Action) Symbol() string {
	switch a {
	case Reload:
		return "~"
	case Start:
		return "+"
	case Restart:
		return "-/+"
	case Adopt:
		return "<-"
	case Cutover:
		return "!!"
	default:
		return " "
	}
}

// Role is the part a unit plays in the lattice, and so the wave it changes in and the gate it
// waits for.
type Role = unit.Role

// The roles of the built-in unit kinds.
const (
	RoleHub       = unit.RoleHub
	RoleLeaf      = unit.RoleLeaf
	RoleRelay     = unit.RoleRelay
	RoleWasmcloud = unit.RoleWasmcloud
)

// WaveName names a step of the rollout.
type WaveName string

// The waves, in the order they run.
const (
	// WaveLeafBridge reloads each leaf with the hubs' current and new listeners before the
	// hubs move (bridge.go).
	WaveLeafBridge WaveName = "leaf-bridge"
	// WaveHub rolls the hub nodes one at a time, the meta leader last.
	WaveHub WaveName = "hub"
	// WaveCutover stops every hub node, then starts every one: a JetStream domain change.
	WaveCutover WaveName = "cutover"
	// WaveRelay rolls the relays one at a time, the tiers nearest the hubs first (relay.go).
	WaveRelay WaveName = "relay"
	// WaveLeaf rolls the leaf nodes in batches.
	WaveLeaf WaveName = "leaf"
	// WaveWasmcloud rolls the wasmCloud hosts in batches.
	WaveWasmcloud WaveName = "wasmcloud"
)

// ChangesHubs reports whether the wave restarts hub nodes: the leaves' links and the lattice
// buckets depend on them.
func (w WaveName) ChangesHubs() bool { return w == WaveHub || w == WaveCutover }

// GoesOnWhileBucketsAreMade reports whether the wave may run while apply makes the lattice
// buckets on the hub: it neither changes the hub nor runs what uses them (wasmCloud hosts).
func (w WaveName) GoesOnWhileBucketsAreMade() bool { return w == WaveRelay || w == WaveLeaf }

// Service names latticepush manages.
const (
	ServiceNATS      = unit.ServiceNATS
	ServiceWasmcloud = unit.ServiceWasmcloud
)

// Unit is one service on one host and what the plan does to it.
type Unit struct {
	Host    string `json:"host"`
	Service string `json:"service"`
	Role    Role   `json:"role"` // hub, leaf or wasmcloud: the wave it belongs to
	// Step is "bridge" for a leaf's intermediate config in a leaves-first change (bridge.go):
	// a second unit of the same service, run in the leaf-bridge wave before the hub wave.
	Step    string   `json:"step,omitempty"`
	Action  Action   `json:"action"`
	Reasons []string `json:"reasons,omitempty"`
	// User is the system user the service runs as (nats { user }, wasmcloud { user }):
	// apply creates it on the host, when missing, before it stages the unit's files.
	User string `json:"user,omitempty"`
	// Start is set when the service has never run under latticepush here (its files are new).
	Start bool `json:"start,omitempty"`
	// Adopt is what runs now in place of the managed service (action adopt).
	Adopt *Foreign `json:"adopt,omitempty"`
	// Enable is set when the service must be enabled (runit link, systemctl enable).
	Enable bool `json:"enable,omitempty"`
	// DaemonReload is set when a systemd unit file changes.
	DaemonReload bool         `json:"daemon_reload,omitempty"`
	Files        []FileChange `json:"files,omitempty"`
	// DesiredDigest is what the host's nats-server printed for the desired config
	// (nats-server units only); reload and restart are confirmed against /varz config_digest.
	DesiredDigest string `json:"desired_digest,omitempty"`
	// ConfigPath, Binary and MonitorAddr say where the unit's nats-server lives on the host.
	ConfigPath  string `json:"config_path,omitempty"`
	Binary      string `json:"binary,omitempty"`
	MonitorAddr string `json:"monitor_addr,omitempty"`
	// Upgrade is the nats-server release change when the inventory pins a release the host
	// does not run (install.go).
	Upgrade *Upgrade `json:"upgrade,omitempty"`
	// Cert is a hub's new certificate, loaded by reload (renew.go).
	Cert *CertChange `json:"cert,omitempty"`
	// CASweep is the CA files a server's change leaves unnamed, removed once its gate passed
	// (casweep.go).
	CASweep *CASweep `json:"ca_sweep,omitempty"`
	// Relogin is the user a leaf's reload switches its remote to (a password rotation's step
	// 2): apply confirms the leaf linked again on a new connection, which can only be the new
	// remote's, logged in as that user.
	Relogin string `json:"relogin,omitempty"`
	// LeavesMetaGroup is the server_name a hub node renamed in place (-replace) ran under as a
	// member of the hub cluster's JetStream meta group: apply removes that name from the group
	// once the node runs under its new one, before the node's gate, which waits for a group
	// of the inventory's hubs.
	LeavesMetaGroup string `json:"leaves_meta_group,omitempty"`
	// WasRunning records whether the service ran when observed (for an adopt, the service it
	// adopts): a rollback restores that.
	WasRunning bool `json:"was_running"`
	// Ports are where a nats-server unit's server listens: as observed running (zero when it
	// was not) and as desired. Apply's gates reach a server where it listens now: the
	// running ports until its new config is in, and again after a rollback. Not part of the
	// plan document: apply takes them from its fresh observation.
	RunningPorts Ports `json:"-"`
	DesiredPorts Ports `json:"-"`
}

// Ports are where a nats-server listens: its client and monitoring listeners (host and port)
// and, on a hub, its cluster and leafnode ports. An empty host is the inventory's.
type Ports struct {
	ClientHost string
	Client     int
	HTTPHost   string
	HTTP       int
	Cluster    int
	Leafnode   int
}

// UnitID identifies a unit. Its text form, "host/service" or "host/service@step", names the
// unit in plan documents, waves and results; code keeps the struct and never parses the text.
type UnitID struct {
	Host    string
	Service string
	Step    string
}

// String is the unit's name: "host/service", or "host/service@bridge" for a bridge step.
func (id UnitID) String() string {
	if id.Step != "" {
		return id.Host + "/" + id.Service + "@" + id.Step
	}
	return id.Host + "/" + id.Service
}

// Key returns the unit's identity.
func (u *Unit) Key() UnitID { return UnitID{Host: u.Host, Service: u.Service, Step: u.Step} }

// ID names the unit as "host/service", and a bridge step as "host/service@bridge".
func (u *Unit) ID() string { return u.Key().String() }

// Changes reports whether applying the unit touches the host.
func (u *Unit) Changes() bool { return u.Action != Noop || len(u.Files) > 0 || u.Enable }

// FileChange is one managed file that differs from what the host holds.
type FileChange struct {
	Path string `json:"path"`
	// Op is "create", "update" or "mode".
	Op      string `json:"op"`
	Mode    uint32 `json:"mode"`
	OldMode uint32 `json:"old_mode,omitempty"`
	// Group is the file's group (its owner is root), when not root's; OldGroup the group the
	// host's file has, when it differs.
	Group     string `json:"group,omitempty"`
	OldGroup  string `json:"old_group,omitempty"`
	Secret    bool   `json:"secret,omitempty"`
	OldSHA256 string `json:"old_sha256,omitempty"`
	NewSHA256 string `json:"new_sha256"`
	// Diff is a unified diff with every secret replaced by its placeholder; empty when the
	// current content is unknown or the file is new and holds secrets only.
	Diff string `json:"diff,omitempty"`
	// InPlace: a new file that no running config names yet (a TLS certificate, key or CA,
	// named by its serial), written straight to its path when staged, so the host's
	// nats-server -t can check the staged config that names it.
	InPlace bool `json:"in_place,omitempty"`
	// content is the desired bytes, secrets revealed. Never serialized.
	content []byte
}

// Content returns the desired bytes (secrets revealed), for upload.
func (f FileChange) Content() []byte { return f.content }

// Wave is one step of the rollout: its batches run in order, each gated before the next.
type Wave struct {
	Name        WaveName   `json:"name"`
	Batches     [][]string `json:"batches"`
	MaxFailures int        `json:"max_failures"`
	// GateOnly lists units that change nothing but whose gate must pass in this wave (the
	// leaves after a cutover, which reconnect on their own and learn the new mappings).
	GateOnly []string `json:"gate_only,omitempty"`
}

// Unreachable is a host the plan leaves out because it could not be reached.
type Unreachable struct {
	Host  string   `json:"host"`
	Roles []string `json:"roles"`
	Error string   `json:"error"`
}

// CutoverInfo describes a JetStream domain change: every hub stops, then every hub starts on
// the new domain (see planCutover).
type CutoverInfo struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Alias bool   `json:"alias"` // hubs keep answering for From through the mapping table
	// Consequences lists what breaks or must be repointed, found in the inventory and live.
	Consequences []string `json:"consequences"`
}

// Plan is what apply will do: units, waves, and the facts that drove each decision.
type Plan struct {
	FormatVersion   string `json:"format_version"`
	Inventory       string `json:"inventory"`
	InventoryDigest string `json:"inventory_digest"`
	// VariablesDigest is the inventory's variable values' digest (absent when it declares
	// none, and in plans made before inventories had variables): apply refuses a plan made
	// with other values.
	VariablesDigest string   `json:"variables_digest,omitempty"`
	Lattice         string   `json:"lattice"`
	Domain          string   `json:"js_domain"`
	Targets         []string `json:"targets,omitempty"`
	Excludes        []string `json:"excludes,omitempty"`
	// Replace names the hub nodes whose identity change was allowed (-replace).
	Replace []string `json:"replace,omitempty"`
	// AllowDowngrade records -allow-downgrade.
	AllowDowngrade bool         `json:"allow_downgrade,omitempty"`
	Units          []*Unit      `json:"units"`
	Waves          []Wave       `json:"waves"`
	Cutover        *CutoverInfo `json:"cutover,omitempty"`
	// EnsureBuckets says apply creates the lattice buckets on the hub (with the hub's replica
	// count) after the hub wave when they are missing. Replicas is that count.
	EnsureBuckets  bool          `json:"ensure_buckets"`
	BucketReplicas int           `json:"bucket_replicas"`
	Unreachable    []Unreachable `json:"unreachable,omitempty"`
	Warnings       []string      `json:"warnings,omitempty"`
	// Locked are the hosts found holding a latticepush lock, with its holder: a run still
	// going, or one that died and left it. apply locks them even when nothing changes, so a
	// lock left behind is taken over (a dead run of this controller) or refused, naming
	// force-unlock.
	Locked []LockedHost `json:"locked,omitempty"`
	// Rotations are the password rotations in progress, each with the step this plan takes.
	Rotations []*Rotation `json:"rotations,omitempty"`
	// PeerRemovals are the JetStream meta group members no hub of the inventory is, which
	// apply removes from the group before the hub wave (peers.go).
	PeerRemovals []PeerRemoval `json:"peer_removals,omitempty"`
	// GateTimeouts are the roles' rollout gate_timeout, in seconds: how long one gate of a
	// unit of the role may take to pass. A role without one gets apply's default.
	GateTimeouts map[Role]float64 `json:"gate_timeout_seconds,omitempty"`
	// Fingerprints holds, per host, a digest of the observations that drove its decisions.
	Fingerprints map[string]string `json:"fingerprints"`
}

// LockedHost is a host found holding a latticepush lock.
type LockedHost struct {
	Host   string `json:"host"`
	Holder string `json:"holder"`
}

// Unit returns the unit with the given ID, or nil.
func (p *Plan) Unit(id string) *Unit {
	for _, u := range p.Units {
		if u.ID() == id {
			return u
		}
	}
	return nil
}

// HasChanges reports whether applying the plan changes anything.
func (p *Plan) HasChanges() bool {
	if len(p.PeerRemovals) > 0 {
		return true
	}
	for _, u := range p.Units {
		if u.Changes() {
			return true
		}
	}
	return false
}

// Summary is a one-line count of the plan's actions, e.g.
// "Plan: 1 cutover, 1 adopt, 2 restart, 3 start, 2 reload (1 renew), 4 unchanged; 1 host
// unreachable."
func (p *Plan) Summary() string {
	counts := map[Action]int{}
	bridges, renews := 0, 0
	for _, u := range p.Units {
		if u.Step == StepBridge {
			bridges++
			continue
		}
		a := u.Action
		if a == Noop && u.Changes() {
			a = Reload // files only (mode change): applied without a service action
		}
		counts[a]++
		if a == Reload && u.Cert != nil && u.Cert.Renew {
			renews++
		}
	}
	var parts []string
	for _, a := range []Action{Cutover, Adopt, Restart, Start, Reload} {
		if counts[a] > 0 {
			part := fmt.Sprintf("%d %s", counts[a], a)
			if a == Reload && renews > 0 {
				part += fmt.Sprintf(" (%d %s)", renews, ReasonRenew)
			}
			parts = append(parts, part)
		}
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", counts[Noop]))
	s := "Plan: " + strings.Join(parts, ", ")
	if bridges > 0 {
		s += fmt.Sprintf("; %d leaf bridge reload%s first", bridges, plural(bridges))
	}
	if n := len(p.PeerRemovals); n > 0 {
		s += fmt.Sprintf("; %d JetStream peer%s removed (%s)", n, plural(n), strings.Join(removedPeers(p), ", "))
	}
	if n := len(p.Unreachable); n > 0 {
		s += fmt.Sprintf("; %d host%s unreachable", n, plural(n))
	}
	return s + "."
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Foreign is a service definition latticepush did not write, in effect where the managed
// service belongs, or another service running the same server: what an adopt replaces.
type Foreign struct {
	// Supervisor is the host's service manager; Service its name there (a runit directory
	// under the supervised directory, a systemd unit without ".service").
	Supervisor string `json:"supervisor"`
	Service    string `json:"service"`
	// Definition is what the supervisor runs: runit, the supervised path's target (the path
	// itself for a directory of its own); systemd, the unit file in effect.
	Definition string `json:"definition,omitempty"`
	// DropIns are systemd drop-ins that apply to the unit.
	DropIns []string `json:"drop_ins,omitempty"`
	Running bool     `json:"running"`
	Enabled bool     `json:"enabled"`
	// PID, Exe and Cmdline are its running process (/proc/PID/exe and cmdline).
	PID     int    `json:"pid,omitempty"`
	Exe     string `json:"exe,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	// ClearStore is the JetStream directory of the managed server's store, empty when
	// observed, that a give-back empties again: a managed server that failed to start may
	// have written its state there, which the service given back never had.
	ClearStore string `json:"clear_store,omitempty"`
}

// Supervised converts f for the supervisor's takeover and give-back.
func (f Foreign) Supervised() supervisor.Foreign {
	return supervisor.Foreign{Service: f.Service, Definition: f.Definition, DropIns: f.DropIns,
		Running: f.Running, Enabled: f.Enabled, PID: f.PID}
}
