package plan

import (
	"slices"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// buildWaves orders the changing units: the leaves' bridge configs first when the hub wave
// moves where leaves connect (bridge.go); the hub, one node at a time with the meta
// leader last (one leader election instead of several); then leaves in batches; then
// wasmCloud hosts in batches, each wave gated before the next starts. A cutover replaces the
// hub wave with one step holding every hub, and gates every leaf afterwards, changed or not.
func buildWaves(inv *inventory.Inventory, p *Plan, facts map[string]Facts) []Wave {
	var waves []Wave
	byRole := map[Role][]*Unit{}
	var bridges []*Unit
	for _, u := range p.Units {
		if u.Step == StepBridge {
			bridges = append(bridges, u)
			continue
		}
		byRole[u.Role] = append(byRole[u.Role], u)
	}
	if len(bridges) > 0 {
		waves = append(waves, bridgeWave(inv, bridges))
	}
	if p.Cutover != nil {
		var ids []string
		for _, u := range byRole[RoleHub] {
			ids = append(ids, u.ID())
		}
		waves = append(waves, Wave{Name: WaveCutover, Batches: [][]string{ids}})
	} else if hubs := changing(byRole[RoleHub]); len(hubs) > 0 {
		leader := metaLeader(inv, facts)
		w := Wave{Name: WaveHub}
		// The nodes that are down start first, together: without a running quorum a
		// JetStream cluster cannot become healthy one node at a time (a first deployment, or
		// a cluster that lost quorum), and with one, each running node's gate asks every
		// node of the inventory, a new one too (a node added or replacing a lost one). Only
		// then are running nodes changed one by one, the meta leader last.
		var down []string
		for _, u := range hubs {
			if !inQuorum(u, facts[u.Host]) {
				down = append(down, u.ID())
			}
		}
		if len(down) > 0 {
			w.Batches = append(w.Batches, down)
		}
		var last []string
		for _, u := range hubs {
			if len(down) > 0 && !inQuorum(u, facts[u.Host]) {
				continue
			}
			if u.Host == leader {
				last = []string{u.ID()}
				continue
			}
			w.Batches = append(w.Batches, []string{u.ID()})
		}
		if last != nil {
			w.Batches = append(w.Batches, last)
		}
		waves = append(waves, w)
	}
	if w := relayWave(inv, p, byRole[RoleRelay]); len(w.Batches) > 0 || len(w.GateOnly) > 0 {
		waves = append(waves, w)
	}
	steps := []waveStep{{WaveRelay, RoleRelay}, {WaveLeaf, RoleLeaf}, {WaveWasmcloud, RoleWasmcloud}}
	// The roles of other unit kinds roll out after the wasmCloud hosts, each in a wave of its
	// own, in the order the kinds were registered.
	for _, k := range unit.Kinds() {
		for _, u := range p.Units {
			if u.Service == k.Name() && u.Role != RoleHub && !slices.ContainsFunc(steps, func(s waveStep) bool { return s.role == u.Role }) {
				steps = append(steps, waveStep{WaveName(u.Role), u.Role})
			}
		}
	}
	for _, step := range steps[1:] {
		units := byRole[step.role]
		w := rolloutWave(inv, step.wave, step.role, changing(units))
		if p.Cutover != nil && step.role == RoleLeaf {
			for _, u := range units {
				if !u.Changes() {
					w.GateOnly = append(w.GateOnly, u.ID())
				}
			}
		}
		if len(w.Batches) > 0 || len(w.GateOnly) > 0 {
			waves = append(waves, w)
		}
	}
	return waves
}

// waveStep is a rolling wave and the role whose units it changes.
type waveStep struct {
	wave WaveName
	role Role
}

// rolloutWave puts units in batches of the role's rollout.batch, with its max_failures: as few
// batches as that size allows, of equal size within one, hosts in natural order (edge-2
// before edge-10). With spread_by, the hosts sharing that label's value are dealt over the
// batches in turn, so no batch holds more than ceil(their number / batches) of them.
func rolloutWave(inv *inventory.Inventory, name WaveName, role Role, units []*Unit) Wave {
	w := Wave{Name: name}
	if len(units) == 0 {
		return w
	}
	r := roleRollout(inv, string(role))
	w.MaxFailures = r.MaxFailures
	hosts := len(inv.HostsWithRole(string(role)))
	if hosts == 0 {
		hosts = len(units) // a unit kind's own role, not an inventory role
	}
	var labels map[string]string
	if r.SpreadBy != "" {
		labels = map[string]string{}
		for _, u := range units {
			if h := inv.Host(u.Host); h != nil {
				labels[u.Host] = h.Labels[r.SpreadBy]
			}
		}
	}
	// First starts have no client to protect: they go together, each still gated, in a batch
	// of their own before the units that run now (whose batches then find the config proven).
	var first, rest []*Unit
	for _, u := range units {
		if firstStart(u) {
			first = append(first, u)
		} else {
			rest = append(rest, u)
		}
	}
	if len(first) > 0 {
		var ids []string
		for _, i := range Batches(unitHosts(first), len(first), nil)[0] {
			ids = append(ids, first[i].ID())
		}
		w.Batches = append(w.Batches, ids)
	}
	for _, batch := range Batches(unitHosts(rest), r.BatchSize(hosts), labels) {
		var ids []string
		for _, i := range batch {
			ids = append(ids, rest[i].ID())
		}
		w.Batches = append(w.Batches, ids)
	}
	return w
}

// firstStart reports whether u starts a service that does not run, and takes over nothing.
func firstStart(u *Unit) bool {
	return u.Action == Start && !u.WasRunning && u.Adopt == nil
}

func unitHosts(units []*Unit) []string {
	out := make([]string, len(units))
	for i, u := range units {
		out[i] = u.Host
	}
	return out
}

// Batches splits hosts into ceil(len(hosts)/size) batches whose sizes differ by at most one,
// and returns each batch as indexes into hosts, in natural order of the host names. Without
// labels a batch is a run of consecutive hosts; with labels (host → value of the spread_by
// label) the hosts, grouped by value, are dealt over the batches in turn: a group of n hosts
// has at most ceil(n / batches) in any batch.
func Batches(hosts []string, size int, labels map[string]string) [][]int {
	n := len(hosts)
	if n == 0 {
		return nil
	}
	size = max(size, 1)
	count := (n + size - 1) / size
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := hosts[order[i]], hosts[order[j]]
		if labels != nil && labels[a] != labels[b] {
			return NaturalLess(labels[a], labels[b])
		}
		return NaturalLess(a, b)
	})
	out := make([][]int, count)
	if labels != nil {
		for k, i := range order {
			out[k%count] = append(out[k%count], i)
		}
		for _, b := range out {
			sort.SliceStable(b, func(i, j int) bool { return NaturalLess(hosts[b[i]], hosts[b[j]]) })
		}
		return out
	}
	// The first n%count batches take one host more.
	k := 0
	for b := range out {
		m := n / count
		if b < n%count {
			m++
		}
		out[b] = order[k : k+m]
		k += m
	}
	return out
}

// NaturalLess orders names with their runs of digits compared as numbers: h2 before h10.
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if da != db { // equal numbers: fewer leading zeros first
				return da < db
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func changing(units []*Unit) []*Unit {
	var out []*Unit
	for _, u := range units {
		if u.Changes() {
			out = append(out, u)
		}
	}
	return out
}

// gateTimeouts are the gate timeouts the inventory's roles set, in seconds.
func gateTimeouts(inv *inventory.Inventory) map[Role]float64 {
	var out map[Role]float64
	for _, h := range inv.Hosts {
		for role, r := range h.Rollout {
			if r.GateTimeout > 0 {
				if out == nil {
					out = map[Role]float64{}
				}
				out[Role(role)] = r.GateTimeout.Seconds()
			}
		}
	}
	return out
}

// roleRollout returns the role's rollout settings (the first host's; they come from the role).
func roleRollout(inv *inventory.Inventory, role string) inventory.Rollout {
	for _, h := range inv.HostsWithRole(role) {
		if r, ok := h.Rollout[role]; ok {
			return r
		}
	}
	return inventory.Rollout{Batch: "1"}
}

// metaLeader returns the host whose server is the JetStream meta leader, as most hubs see it.
func metaLeader(inv *inventory.Inventory, facts map[string]Facts) string {
	best := metaLeaderName(inv, facts)
	for _, h := range inv.Hubs() {
		if h.Hub.ServerName == best {
			return h.Name
		}
	}
	return ""
}

// metaLeaderName is the server_name of the JetStream meta leader, as most hubs see it: a
// server outside the inventory, too.
func metaLeaderName(inv *inventory.Inventory, facts map[string]Facts) string {
	votes := map[string]int{}
	for _, h := range inv.Hubs() {
		if f, ok := facts[h.Name]; ok && f.NATS != nil && f.NATS.MetaLeader != "" {
			votes[f.NATS.MetaLeader]++
		}
	}
	best, n := "", 0
	for name, v := range votes {
		if v > n || (v == n && name < best) {
			best, n = name, v
		}
	}
	return best
}

// inQuorum reports whether a hub unit's server counts towards the JetStream cluster's
// quorum before the change: it runs, and it is not a foreign server without JetStream that
// is being adopted (a hand-made server is no member of the cluster: the nodes adopted from
// such servers start together, like nodes that are down).
func inQuorum(u *Unit, f Facts) bool {
	if !u.WasRunning {
		return false
	}
	return u.Action != Adopt || (f.NATS != nil && f.NATS.JetStream)
}
