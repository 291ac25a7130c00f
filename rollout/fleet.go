package rollout

import (
	"context"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// Fleet is how apply reaches hosts. Package fleet implements it over remote/ (SSH); the unit
// tests use an in-memory fake. Implementations are safe for concurrent use.
type Fleet interface {
	// Observe gathers the facts of every probe, in parallel, one round trip per host. An
	// unreachable host is reported in its Facts (Err), not as an error.
	Observe(ctx context.Context, probes []plan.Probe) map[string]plan.Facts
	// Host returns the named host, connected.
	Host(ctx context.Context, name string) (Host, error)
}

// Host is one connected host.
type Host interface {
	// Lock takes the host's deploy lock; it fails with the holder's details when another
	// apply holds it.
	Lock(ctx context.Context, owner LockOwner) error
	// Unlock releases the lock, the last thing an apply does on the host, leaving what c
	// holds on the host first (in the same round trip).
	Unlock(ctx context.Context, c Closing) error
	// Stage uploads files to temporary names in their target directories, checked by size
	// and hash, with their final mode. Nothing that a service reads changes. Each call gets
	// new names: a path can be staged twice (a leaf's bridge config and its final one).
	Stage(ctx context.Context, files []StageFile) ([]Staged, error)
	// CheckNATS runs the host's own `nats-server -t -c` on a staged config and returns the
	// digest it prints.
	CheckNATS(ctx context.Context, binary, path string) (digest string, err error)
	// Swap moves staged files into place atomically, keeping each previous file as a backup.
	Swap(ctx context.Context, staged []Staged) error
	// Restore puts the backups of the given paths back (removing files that were new).
	Restore(ctx context.Context, staged []Staged) error
	// Discard removes staged temporary files that were never swapped.
	Discard(ctx context.Context, staged []Staged) error
	// Service runs a service-manager operation.
	Service(ctx context.Context, svc string, op ServiceOp) error
	// Adopt takes svc over from a foreign definition: it checks that the managed definition
	// is in place, stops the foreign service (lame duck, for a nats-server) and puts its
	// definition aside. Enabling and starting the managed service follow as usual.
	Adopt(ctx context.Context, svc string, from plan.Foreign) error
	// GiveBack undoes Adopt once the managed service is stopped and its files restored: the
	// foreign definition back in place, running as it was.
	GiveBack(ctx context.Context, svc string, from plan.Foreign) error
	// RunningDigest returns the running nats-server's /varz config_digest.
	RunningDigest(ctx context.Context, monitorAddr string) (string, error)
}

// Closing is what an apply leaves on a host as it unlocks it.
type Closing struct {
	// Audit records what the apply did on the host; nil when it changed nothing there.
	Audit *AuditRecord
	// Digests are configs the host's nats-server accepted when the plan observed it, which
	// the pre-check therefore did not check again: they go into the host's digest cache, as
	// the configs the pre-check checks do, so the next plan does not run nats-server -t.
	Digests []ConfigDigest
}

// ConfigDigest is what a nats-server binary printed for a config: the key and value of a
// host's digest cache.
type ConfigDigest struct {
	Binary string // the nats-server binary's path
	SHA256 string // the config's sha256, hex
	Digest string // what -t printed: "sha256:..."
}

// ManySupervised is a Host that makes several services known to their supervisor, held
// down, in one round trip (OpSupervise for each).
type ManySupervised interface {
	SuperviseAll(ctx context.Context, svcs []string) error
}

// QuickLockHost is a Host whose Lock does more under the lock in the same exec (fleet: the
// facts script observe is about to ask for). The first host is locked alone, before the
// others (lockPhase), so every apply waits for that one round trip: LockQuick takes the lock
// only, and the host does the rest right after, on its own, for observe to collect.
type QuickLockHost interface {
	LockQuick(ctx context.Context, owner LockOwner) error
}

// LeftoverHost is a Host that, on taking its lock, removes what an earlier run that did not
// finish left behind (its staged temporary files), and says what.
type LeftoverHost interface {
	Leftovers() []string
}

// Gates are the health checks apply waits on (implemented over verify/). Each takes what it
// must expect where that differs from the inventory (Expect).
type Gates interface {
	// HubNode passes when the node answers /healthz 200, the cluster has a meta leader, the
	// peers are current and every node runs the expected domain.
	HubNode(ctx context.Context, host string, exp Expect) error
	// Leaf passes when the leaf's link is up and the expected domain answers through it, from
	// the hub.
	Leaf(ctx context.Context, host string, exp Expect) error
	// Wasmcloud passes when the host answers host.get from the hub side with the right
	// lattice, domain and labels.
	Wasmcloud(ctx context.Context, host string, exp Expect) error
	// WasmcloudAnswers passes when the host answers host.get from the hub side, whatever its
	// settings: the check after a rollback, when the host runs its previous environment.
	WasmcloudAnswers(ctx context.Context, host string, exp Expect) error
	// Running passes when the service runs on the host and keeps running: the gate of a unit
	// kind without a check of its own.
	Running(ctx context.Context, host, service string) error
	// EnsureBuckets creates the lattice buckets on the hub with replicas when missing; made
	// says whether it created or changed any (new streams on the hub nodes: a change there).
	EnsureBuckets(ctx context.Context, replicas int, exp Expect) (made bool, err error)
	// RemovePeer removes a member from the hub cluster's JetStream meta group (JetStream's
	// peer-remove, asked of the meta leader), by server_name and peer id; one that is no
	// member any more is removed already.
	RemovePeer(ctx context.Context, r plan.PeerRemoval) error
	// SnapshotBuckets saves the lattice buckets, read on exp.Domain, into dir and returns the
	// files written: before a cutover stops the hubs, when apply is asked to.
	SnapshotBuckets(ctx context.Context, dir string, exp Expect) ([]string, error)
	// Verify runs every check of `latticepush verify`; it returns a one-line summary and an
	// error when a check fails. It may take a passing gate's result instead of checking again
	// when the gate observed it after every change in changed that could affect it: the last
	// change on the result's machine and the last change on any hub node.
	Verify(ctx context.Context, exp Expect, changed Changes) (summary string, err error)
}

// Changes say when this apply last started, stopped, restarted, reloaded, enabled, disabled,
// adopted or gave back a service (when the operation returned): per machine, and the latest
// of those on any hub node, or of the lattice buckets' creation (new streams on every hub
// node).
type Changes struct {
	Hosts map[string]time.Time
	Hub   time.Time
}

// Expect is what the gates must expect where it differs from the inventory. During an apply
// some servers still run (or, rolled back, run again) a config other than the inventory's,
// and a domain cutover's preflight and rollback check the hubs on the domain they run.
type Expect struct {
	// Domain is the JetStream domain the hubs run and answer for; "" is the inventory's.
	Domain string
	// Ports are, per host, where its nats-server listens now, for the hosts where that is not
	// the inventory's.
	Ports map[string]plan.Ports
	// Leaving are server_names the hub cluster's JetStream meta group may still hold beside
	// the inventory's hubs: the old name of a hub node renamed in place (-replace), which
	// apply removes from the group once the node's gate passed.
	Leaving []string
}

// StageFile is a file to upload.
type StageFile struct {
	Path    string
	Mode    uint32
	Group   string // the file's group (owner root); "" for root's
	Content []byte
}

// usersOf is h as Users, looking through the run's own wrapper (changeRecorder).
func usersOf(h Host) (Users, bool) {
	if c, ok := h.(changeRecorder); ok {
		h = c.Host
	}
	u, ok := h.(Users)
	return u, ok
}

// Users is what a Host does for services that run as their own users (plan.Unit.User).
// Package fleet's hosts implement it; a host without it cannot take such a unit.
type Users interface {
	// EnsureUsers creates each named system user, with its group of the same name, when
	// missing; existing ones are left as they are. On failure no user is half made.
	EnsureUsers(ctx context.Context, users []string) error
}

// Staged is an uploaded temporary file waiting to be swapped in.
type Staged struct {
	Path string // final path
	Temp string // temporary path in the same directory
	// HadPrevious is set when a file already existed at Path (a backup is kept on Swap).
	HadPrevious bool
}

// ServiceOp is a service-manager operation.
type ServiceOp string

// Service operations. Restart of a nats-server drains it with lame duck mode first.
// OpSupervise makes the supervisor know a service that is about to start for the first time,
// held down (runit: linked with a down file, so runsvdir's rescan happens while files are
// staged, not when the service starts); nothing where the supervisor needs no such step.
// OpEnable then lets it start with the host; OpDisable undoes both.
const (
	OpSupervise    ServiceOp = "supervise"
	OpEnable       ServiceOp = "enable"
	OpDisable      ServiceOp = "disable"
	OpStart        ServiceOp = "start"
	OpStop         ServiceOp = "stop"
	OpRestart      ServiceOp = "restart"
	OpReload       ServiceOp = "reload"
	OpDaemonReload ServiceOp = "daemon-reload"
)

// LockOwner identifies an apply in a host's lock.
type LockOwner struct {
	User    string    `json:"user"`
	Host    string    `json:"host"` // the machine latticepush runs on
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Time    time.Time `json:"time"`
}

// AuditRecord is what apply leaves on a changed host.
type AuditRecord struct {
	Time            time.Time `json:"time"`
	Owner           LockOwner `json:"owner"`
	InventoryDigest string    `json:"inventory_digest"`
	Units           []string  `json:"units"` // "nats-server: reload", ...
	Result          string    `json:"result"`
}
