package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/unit"
)

// DesiredFile is one file a host should hold, as rendered.
type DesiredFile struct {
	Path    string
	Mode    uint32
	Service string        // the service that reads it: ServiceNATS or ServiceWasmcloud
	Kind    unit.FileKind // what the file is, and so what a change to it requires
	Secret  bool          // holds a secret: shown redacted, written 0600
	Group   string        // the file's group (owner root); "" for root's
	Content []byte        // secrets revealed: what is uploaded and hashed
	Display []byte        // secrets replaced by placeholders: what diffs show
}

// Desired is every host's desired files, keyed by host name.
type Desired map[string][]DesiredFile

// Options select hosts and allow the changes plan refuses by default.
type Options struct {
	Targets  []string // only these hosts (all when empty)
	Excludes []string // never these hosts
	// AllowDomainChange permits a cutover of the hub's JetStream domain (every hub stops, then
	// every hub starts on the new domain).
	AllowDomainChange bool
	// DomainScan is what a live scan found about the domain the hubs run now (see
	// DomainChange); a cutover lists it among its consequences.
	DomainScan *DomainScan
	// Replace names hub hosts whose server_name or cluster name may change: an explicit
	// node replacement. Any other identity change is refused.
	Replace []string
	// AllowDowngrade permits moving a JetStream server to an older minor release.
	AllowDowngrade bool
	// Artifacts are the pinned releases' files on this machine, by source path (see
	// LocalFile); a file whose sha256 is not the inventory's is refused.
	Artifacts map[string]LocalFile
}

// OptionsOf returns the options a saved plan was made with, to rebuild it for comparison.
func OptionsOf(p *Plan) Options {
	return Options{Targets: p.Targets, Excludes: p.Excludes, Replace: p.Replace, AllowDomainChange: p.Cutover != nil,
		AllowDowngrade: p.AllowDowngrade}
}

// Selected reports whether host is in scope under Targets and Excludes.
func (o Options) Selected(host string) bool {
	for _, e := range o.Excludes {
		if e == host {
			return false
		}
	}
	if len(o.Targets) == 0 {
		return true
	}
	for _, t := range o.Targets {
		if t == host {
			return true
		}
	}
	return false
}

// Probes lists what to observe on every selected host.
func Probes(inv *inventory.Inventory, desired Desired, opts Options) []Probe {
	var out []Probe
	for _, h := range inv.Hosts {
		if !opts.Selected(h.Name) {
			continue
		}
		pr := Probe{Host: h.Name, Want: map[string]string{}}
		for _, f := range desired[h.Name] {
			pr.Files = append(pr.Files, f.Path)
			sum := sha256.Sum256(f.Content)
			pr.Want[f.Path] = hex.EncodeToString(sum[:])
		}
		extra := caRotationProbeFiles(inv, h, desired[h.Name])
		for _, p := range slices.Sorted(maps.Keys(extra)) {
			pr.Files = append(pr.Files, p)
			pr.Want[p] = extra[p]
		}
		for _, on := range unit.On(h) {
			pr.Services = append(pr.Services, on.Kind.Name())
		}
		if n := h.NATS(); n != nil {
			pr.NATS = &NATSProbe{Binary: n.Binary, MonitorAddr: MonitorAddr(n), Install: n.Install != nil}
			if h.Hub != nil {
				pr.NATS.StoreDir = n.StoreDir
			}
			for _, f := range desired[h.Name] {
				if f.Path == n.ConfigFile {
					pr.NATS.DesiredConfig = f.Content
				}
			}
		}
		if w := h.Wasmcloud; w != nil && w.Install != nil {
			pr.Wasmcloud = &WasmcloudProbe{Binary: w.Binary, HostID: w.HostID}
		}
		out = append(out, pr)
	}
	return out
}

// MonitorAddr is where a nats-server's monitoring listener is reached from the host itself.
func MonitorAddr(n *inventory.NATS) string {
	return n.LocalMonitorAddr()
}

// Build decides, from the desired files and what was observed, what apply will do.
// It returns an error (and no plan) when the change must not be made as asked: a hub
// identity change, a domain change without AllowDomainChange, too many unreachable hosts,
// or a desired config that the host's nats-server rejects.
func Build(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options) (*Plan, error) {
	p := &Plan{
		FormatVersion:   FormatVersion,
		Inventory:       inv.Filename,
		InventoryDigest: inv.Digest,
		VariablesDigest: inv.VariablesDigest,
		Lattice:         inv.Lattice.Name,
		Domain:          inv.Lattice.JSDomain,
		Targets:         opts.Targets,
		Excludes:        opts.Excludes,
		Replace:         opts.Replace,
		AllowDowngrade:  opts.AllowDowngrade,
		Fingerprints:    map[string]string{},
	}
	red := newRedactor(inv)
	desired, facts, caRot, err := planCARotation(inv, desired, facts, opts)
	if err != nil {
		return nil, err
	}
	desired, facts, rots, renderOpts, err := planRotation(inv, desired, facts, opts, caRot.renderStep())
	if err != nil {
		return nil, err
	}
	if caRot != nil {
		rots = append(rots, caRot)
	}
	var errs []error
	unreachableByRole := map[string][]string{}
	for _, h := range inv.Hosts {
		if !opts.Selected(h.Name) {
			continue
		}
		f, ok := facts[h.Name]
		if !ok {
			f = Facts{Host: h.Name, Err: "not observed"}
		}
		p.Fingerprints[h.Name] = f.fingerprint()
		if f.Refused {
			errs = append(errs, fmt.Errorf("%s: %s", h.Name, f.Err))
			continue
		}
		if !f.Reachable() {
			p.Unreachable = append(p.Unreachable, Unreachable{Host: h.Name, Roles: h.Roles, Error: f.Err})
			for _, r := range h.Roles {
				unreachableByRole[r] = append(unreachableByRole[r], h.Name+" ("+f.Err+")")
			}
			continue
		}
		if f.Lock != "" {
			p.Locked = append(p.Locked, LockedHost{Host: h.Name, Holder: f.Lock})
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s holds a latticepush lock taken by %s: another run may be under way. "+
				"apply takes the lock over if that run is gone from this machine (same boot), else refuses; "+
				"if no run is using %s, `latticepush force-unlock INVENTORY %s` removes it", h.Name, f.Lock, h.Name, h.Name))
		}
		units, err := hostUnits(inv, h, desired[h.Name], f, opts, red)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Units = append(p.Units, units...)
	}
	for _, role := range []string{inventory.RoleHub, inventory.RoleRelay, inventory.RoleLeaf, inventory.RoleWasmcloud} {
		down := unreachableByRole[role]
		n := len(down)
		if n == 0 {
			continue
		}
		max := maxUnreachable(inv, role)
		if n > max {
			errs = append(errs, fmt.Errorf("%d %s host%s unreachable, more than %s rollout.max_unreachable = %d; "+
				"bring them back, leave them out with -exclude, or raise max_unreachable:\n  %s",
				n, role, plural(n), role, max, strings.Join(down, "\n  ")))
		}
	}
	if err := planCutover(inv, facts, p, opts); err != nil {
		errs = append(errs, err)
	} else if err := upgradesWithCutover(p); err != nil {
		errs = append(errs, err)
	} else if err := renamesWithCutover(p); err != nil {
		errs = append(errs, err)
	}
	if err := planTLSMove(inv, facts, p); err != nil {
		errs = append(errs, err)
	}
	if p.PeerRemovals, err = planPeerRemovals(inv, facts, opts); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := planBridges(inv, p, facts, red, renderOpts); err != nil {
		return nil, err
	}
	tierMoveWarning(inv, p, facts)
	planRenew(inv, facts, p)
	planCASweep(inv, facts, p)
	annotateRotations(inv, p, rots)
	sort.Slice(p.Units, func(i, j int) bool { return p.Units[i].ID() < p.Units[j].ID() })
	p.Waves = buildWaves(inv, p, facts)
	p.GateTimeouts = gateTimeouts(inv)
	hubs := len(inv.Hubs())
	p.EnsureBuckets = true
	p.BucketReplicas = min(3, hubs)
	return p, nil
}

func maxUnreachable(inv *inventory.Inventory, role string) int {
	max := -1
	for _, h := range inv.HostsWithRole(role) {
		if r, ok := h.Rollout[role]; ok && (max < 0 || r.MaxUnreachable < max) {
			max = r.MaxUnreachable
		}
	}
	if max < 0 {
		return 0
	}
	return max
}

// hostUnits decides the action of every service on one reachable host: the rules every
// service shares (decideService), then its kind's classification of what changed, then, for a
// nats-server, what the running server says (decideNATS).
func hostUnits(inv *inventory.Inventory, h *inventory.Host, files []DesiredFile, f Facts, opts Options, red *redactor) ([]*Unit, error) {
	var units []*Unit
	for _, on := range unit.On(h) {
		u := &Unit{Host: h.Name, Service: on.Kind.Name(), Role: on.Role}
		decideService(h, u, files, f, red)
		n := h.NATS()
		isNATS := u.Service == ServiceNATS && n != nil
		if err := decideAdopt(h, u, f, n); err != nil {
			return nil, err
		}
		if isNATS {
			u.ConfigPath, u.Binary, u.MonitorAddr = n.ConfigFile, n.Binary, MonitorAddr(n)
			u.DesiredPorts = Ports{ClientHost: n.ClientHost, Client: n.ClientPort, HTTPHost: n.HTTPHost, HTTP: n.HTTPPort,
				Cluster: n.ClusterPort, Leafnode: n.LeafnodePort}
			if nf := f.NATS; nf != nil && u.WasRunning && (nf.ClientPort != 0 || nf.HTTPPort != 0) {
				u.RunningPorts = Ports{ClientHost: nf.ClientHost, Client: nf.ClientPort, HTTPHost: nf.HTTPHost, HTTP: nf.HTTPPort,
					Cluster: nf.ClusterPort, Leafnode: nf.LeafnodePort}
			}
			if err := checkNATS(h, n, u, f, opts); err != nil {
				return nil, err
			}
		}
		if u.Action == Noop {
			classify(on.Kind, u, files, f)
		}
		if isNATS && u.Action == Noop {
			decideNATS(inv, h, n, u, f)
		}
		if isNATS {
			decideProcess(u, f, n)
			if err := decideInstall(inv, h, n, u, f, files, opts); err != nil {
				return nil, err
			}
		}
		if u.Service == ServiceWasmcloud {
			if err := decideWasmcloudInstall(inv, h, u, f, opts); err != nil {
				return nil, err
			}
		}
		units = append(units, u)
	}
	return units, nil
}

// classify asks the unit's kind how its changed files are applied to the running service.
func classify(k unit.Kind, u *Unit, files []DesiredFile, f Facts) {
	ch := unit.Change{}
	if f.NATS != nil && u.Service == ServiceNATS {
		ch.Version = f.NATS.Version
	}
	for _, fc := range u.Files {
		cf := unit.ChangedFile{Path: fc.Path, Op: fc.Op, New: fc.content, Old: f.Files[fc.Path].Content}
		for _, d := range files {
			if d.Path == fc.Path {
				cf.Kind = d.Kind
			}
		}
		ch.Files = append(ch.Files, cf)
	}
	d := k.Classify(ch)
	switch d.Effect {
	case unit.Reload:
		u.Action = Reload
	case unit.Restart:
		u.Action = Restart
	}
	u.Reasons = append(u.Reasons, d.Reasons...)
}

// decideService fills the unit's file changes and the actions every service shares: start a
// service that does not run (action start), restart after a service definition change.
func decideService(h *inventory.Host, u *Unit, files []DesiredFile, f Facts, red *redactor) {
	sf := f.Services[u.Service]
	u.WasRunning = sf.Running
	newFiles := 0
	for _, d := range files {
		if d.Service != u.Service {
			continue
		}
		fc, changed := compareFile(d, f.Files[d.Path], red)
		if !changed {
			continue
		}
		if fc.Op == "create" {
			newFiles++
		}
		u.Files = append(u.Files, fc)
		if d.Kind.IsDefinition() && fc.Op != "mode" {
			if sup, err := supervisor.For(h.ServiceManager); err == nil && sup.ReloadsDefinitions() {
				u.DaemonReload = true
			}
			u.Action = Restart
			u.Reasons = append(u.Reasons, "service definition "+d.Path+" changes")
		}
	}
	if !sf.Enabled {
		u.Enable = true
	}
	// A file the service reads only at start (its environment, its run script or unit) that
	// changed after the running process started: an earlier apply swapped it in and stopped
	// before the restart. The restart is still due.
	if sf.Running && sf.Started > 0 && u.Action != Restart {
		for _, d := range files {
			ff := f.Files[d.Path]
			if d.Service != u.Service || !ff.Exists || ff.MTime <= sf.Started || !d.Kind.ReadAtStart() {
				continue
			}
			u.Action = Restart
			u.Reasons = append(u.Reasons, d.Path+" changed after "+u.Service+" started (an earlier apply did not finish)")
			break
		}
	}
	// A running service its supervisor will not start again once it exits: an earlier apply
	// began its restart (a lame-duck stop) and did not finish it. A reload would go to a
	// server on its way out; the restart is still due.
	if sf.Running && sf.Stopping && u.Action != Restart {
		u.Action = Restart
		u.Reasons = append(u.Reasons, u.Service+" is stopping and its supervisor will not start it again (an earlier apply did not finish its restart)")
	}
	u.User = serviceUser(h, u.Service)
	if want := cmp.Or(u.User, "root"); sf.Running && sf.User != "" && sf.User != want {
		// Only a restart changes the user a process runs as (its definition may be in place
		// already: an earlier apply stopped before the restart).
		u.Action = Restart
		u.Reasons = append(u.Reasons, fmt.Sprintf("runs as %s, the inventory says %s", sf.User, want))
	}
	if !sf.Running {
		u.Action = Start
		u.Reasons = nil // nothing runs that a change could concern
		u.Start = newFiles > 0 && newFiles == countService(files, u.Service)
		if u.Start {
			u.Reasons = append(u.Reasons, "first start")
		} else {
			u.Reasons = append(u.Reasons, u.Service+" is not running")
		}
	}
	if u.Action == "" {
		u.Action = Noop
	}
}

func countService(files []DesiredFile, svc string) int {
	n := 0
	for _, f := range files {
		if f.Service == svc {
			n++
		}
	}
	return n
}

// serviceUser is the user the inventory runs the service as; "" for root.
func serviceUser(h *inventory.Host, service string) string {
	switch {
	case service == ServiceNATS && h.NATS() != nil:
		return h.NATS().User
	case service == unit.ServiceWasmcloud && h.Wasmcloud != nil:
		return h.Wasmcloud.User
	}
	return ""
}

// compareFile compares a desired file with what the host holds.
func compareFile(d DesiredFile, have FileFact, red *redactor) (FileChange, bool) {
	sum := sha256.Sum256(d.Content)
	fc := FileChange{Path: d.Path, Mode: d.Mode, Group: d.Group, Secret: d.Secret, NewSHA256: hex.EncodeToString(sum[:]), content: d.Content}
	wantGroup := d.Group
	if wantGroup == "" {
		wantGroup = "root"
	}
	switch {
	case !have.Exists:
		fc.Op = "create"
		fc.InPlace = d.Kind == unit.FileTLS
		fc.Diff = unifiedDiff(d.Path, nil, d.Display)
		return fc, true
	case have.SHA256 != fc.NewSHA256:
		fc.Op = "update"
		fc.OldSHA256 = have.SHA256
		fc.OldMode = have.Mode
		if have.Content != nil {
			fc.Diff = unifiedDiff(d.Path, red.redact(have.Content), d.Display)
		}
		return fc, true
	case have.Mode != d.Mode, have.Group != "" && have.Group != wantGroup:
		// Permissions or group only: the file is staged again, with both.
		fc.Op = "mode"
		fc.OldSHA256 = have.SHA256
		fc.OldMode = have.Mode
		if have.Group != wantGroup {
			fc.OldGroup = have.Group
		}
		return fc, true
	}
	return fc, false
}
