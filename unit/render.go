// Package unit knows the kinds of service latticepush deploys (kind.go: nats-server in
// natsserver.go, the wasmCloud host in wasmcloud.go) and renders the exact bytes each host
// holds: each kind's own files (nats-server configs, wasmCloud environment files) and the
// definitions its supervisor needs (systemd units or runit service directories, from package
// supervisor), plus a Graphviz picture of the topology.
//
// Rendering is a pure function of the inventory: no I/O, no clock, no randomness, and nothing
// inventory-wide inside a host's files (no digest, no list of unrelated hosts), so editing one
// host never changes another host's bytes. Secrets appear as their placeholders unless
// Options.RevealSecrets is set; files holding secrets are marked Secret and get mode 0600.
package unit

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/latticepush/latticepush/inventory"
)

// PIDFile is where every rendered nats-server writes its pid; `nats-server --signal
// reload=PIDFile` (or ldm=) addresses it without pgrep.
const PIDFile = "/run/nats-server.pid"

// NATSRuntimeDir is the directory under /run that a nats-server with a user (nats { user })
// owns; PIDFileUser, its pid file there (the user cannot write /run itself).
const (
	NATSRuntimeDir = "nats"
	PIDFileUser    = "/run/" + NATSRuntimeDir + "/nats-server.pid"
)

// pidFile is where n writes its pid.
func pidFile(n *inventory.NATS) string {
	if n.User != "" {
		return PIDFileUser
	}
	return PIDFile
}

// Kind says what a file is, and so what a change to it requires.
type FileKind string

const (
	// FileNATSConfig is a nats-server.conf: a change is applied by reload or restart, decided
	// from the changed keys and confirmed by /varz config_digest.
	FileNATSConfig FileKind = "nats-config"
	// FileEnv is the wasmCloud environment file: a change needs a restart of the host.
	FileEnv FileKind = "env"
	// FileConfig is a configuration file the service reads only at start: a change needs a
	// restart (the kind decides).
	FileConfig FileKind = "config"
	// FileUnit is a service definition file (a systemd unit): a change needs the
	// supervisor's reload of definitions, if it has one, then a restart.
	FileUnit FileKind = "unit"
	// FileScript is a service definition script (a runit service's run, check, control/t or
	// log/run): read at the next start of the service.
	FileScript FileKind = "runit"
)

// IsDefinition reports whether the file defines a service to its supervisor (a unit, a run
// script) rather than configuring it.
func (k FileKind) IsDefinition() bool { return k == FileUnit || k == FileScript }

// ReadAtStart reports whether the service reads the file only when it starts: every file but
// a nats-server config and its TLS files, which a reload applies.
func (k FileKind) ReadAtStart() bool { return k != FileNATSConfig && k != FileTLS }

// File is one rendered file of one host.
type File struct {
	// Path is absolute on the host.
	Path string
	// Mode is the permission bits to set: 0600 for Secret files, 0755 for scripts, else 0644;
	// 0640 for the files a service with a user reads itself (Group).
	Mode os.FileMode
	// Group, when set, is the group the file belongs to (its owner stays root): the service
	// that runs as that user reads it, and cannot change it. Empty: root's group.
	Group string
	// Content is the exact bytes; with Options.RevealSecrets false, secrets are placeholders.
	Content []byte
	// Secret is true when Content holds (or, unrevealed, stands for) a secret value.
	Secret bool
	// Service is the service that consumes the file: ServiceNATS or ServiceWasmcloud.
	Service string
	Kind    FileKind
}

// Options change how files are rendered.
type Options struct {
	// RevealSecrets writes secret values (what gets uploaded). When false every secret renders
	// as its Placeholder, "${secret:<name>}", for plans, diffs and `render -o`.
	RevealSecrets bool
	// LeafAlsoTo lists "host:port" leafnode listeners a leaf's remote connects to besides
	// the inventory's hubs: the bridge config of a leaves-first change (plan), which keeps
	// the hubs' current addresses while the hub wave moves them.
	LeafAlsoTo []string
	// DropRetiring lists the rotatable passwords ("leaf", "system", "check") whose recorded
	// retiring user (a password rotation) the hubs, and for "leaf" the relays' leafnode
	// listeners, leave out: a rotation's last step, which plan takes only once nothing logs in
	// with it. By default they accept both users.
	DropRetiring []string
	// RouteSteps are a route password rotation's step (plan), by cluster member's host name:
	// which login the member's cluster accepts and which peers it dials with the new one. A
	// member not in it, or any member while no rotation is recorded, renders the rotation's
	// end: it accepts and dials the current login only.
	RouteSteps map[string]RouteStep
	// CAStep is the step of a CA rotation (a retiring CA recorded) the servers render at:
	// CATrustBoth (the default) trusts both CAs and keeps the certificates of the retiring
	// one, CAReissue trusts both with certificates of the new one, CADropOld trusts the new
	// one only. Plan takes each step once the fleet is observed through the one before.
	CAStep int
}

// RouteStep is one cluster member's config during a route password rotation. A cluster
// accepts one route login (nats-server allows no second user there), but a route is one
// connection that either end may dial: a member that accepts the new login keeps its routes
// to members that do not as long as it dials them with the retiring one, and they dial it
// with the new one once it accepts that. See plan's route rotation for the order.
type RouteStep struct {
	AcceptNew bool     // the cluster's authorization is the new login, else the retiring one
	DialNew   []string // peers (host names) whose route URL carries the new login; the others the retiring one
}

// CA rotation steps (Options.CAStep).
const (
	CATrustBoth = iota
	CAReissue
	CADropOld
)

// All renders every host of inv, keyed by host name. Hosts render independently (rendering
// is pure), so they are spread over one worker per CPU. An error is the first failing host's
// in the inventory's order, whichever worker met it first.
func All(inv *inventory.Inventory, opts Options) (map[string][]File, error) {
	rendered := make([][]File, len(inv.Hosts))
	errs := make([]error, len(inv.Hosts))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(inv.Hosts)/64))
	hubs := inv.Hubs() // every leaf's remote lists them: found once, not once per leaf
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(inv.Hosts); i += workers {
				rendered[i], errs[i] = render(&Context{Inv: inv, Host: inv.Hosts[i], Opts: opts, hubs: hubs})
			}
		})
	}
	wg.Wait()
	out := make(map[string][]File, len(inv.Hosts))
	for i, h := range inv.Hosts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out[h.Name] = rendered[i]
	}
	return out, nil
}

// Host renders the files host h holds, sorted by path. h must belong to inv. Errors name
// the host and say which inventory setting to fix.
func Host(inv *inventory.Inventory, h *inventory.Host, opts Options) ([]File, error) {
	return render(&Context{Inv: inv, Host: h, Opts: opts})
}

// Hubs returns the inventory's hub nodes in name order.
func (r *Context) Hubs() []*inventory.Host {
	if r.hubs == nil {
		r.hubs = r.Inv.Hubs()
	}
	return r.hubs
}

func render(r *Context) ([]File, error) {
	files, err := r.host()
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", r.Host.Name, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// Context is what every file of one host is rendered from, and the helpers a unit kind
// renders with: secrets (revealed or as placeholders), the header line, the file wrapper that
// marks secret files.
type Context struct {
	Inv  *inventory.Inventory
	Host *inventory.Host
	Opts Options
	// usedSecret is set by Secret while one file renders.
	usedSecret bool
	// hubs is Inv.Hubs(), found once per rendering of the inventory (Hubs finds it
	// otherwise).
	hubs []*inventory.Host
}

// host renders every kind's own files, then the service definitions of the host's supervisor.
func (r *Context) host() ([]File, error) {
	var files []File
	for _, on := range On(r.Host) {
		own, err := on.Kind.Files(r)
		if err != nil {
			return nil, err
		}
		files = append(files, own...)
	}
	svc, err := r.serviceFiles()
	if err != nil {
		return nil, err
	}
	return append(files, svc...), nil
}

// Secret returns s's value or placeholder and records that the current file holds a secret.
// name is the secret's well-known name, used for the placeholder when s was never loaded
// (an inventory loaded without secrets).
func (r *Context) Secret(s inventory.Secret, name string) (string, error) {
	r.usedSecret = true
	if !r.Opts.RevealSecrets {
		if s.Name() == "" {
			s = inventory.NewSecret(name, "", "")
		}
		return s.Placeholder(), nil
	}
	if !s.IsSet() {
		return "", fmt.Errorf("secret %s has no value: load the inventory with its secrets "+
			"(`latticepush secrets` generates missing ones)", name)
	}
	return s.Reveal(), nil
}

// File wraps content rendered for service, resetting the secret tracking.
func (r *Context) File(path string, kind FileKind, service string, content []byte, mode os.FileMode) File {
	f := File{Path: path, Mode: mode, Content: content, Secret: r.usedSecret, Service: service, Kind: kind}
	if f.Secret {
		f.Mode = 0o600
	}
	r.usedSecret = false
	return f
}

// Header is the first comment line of every file: who wrote it for which host. It holds
// nothing that changes with other hosts.
func (r *Context) Header() string {
	return "# Generated by latticepush for " + r.Host.Name + ". Do not edit: changes are overwritten by the next apply.\n"
}
