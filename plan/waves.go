package plan

import (
	"slices"

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
		waves = append(waves, rolloutWave(inv, WaveLeafBridge, RoleLeaf, bridges))
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
		// Without a running quorum, a JetStream cluster cannot become healthy one node at a
		// time: the nodes that are down start together (a first deployment, or a cluster
		// that lost quorum), and only then are running nodes restarted one by one.
		var down []string
		if running := runningHubs(inv, facts, hubs); running < len(inv.Hubs())/2+1 {
			for _, u := range hubs {
				if !inQuorum(u, facts[u.Host]) {
					down = append(down, u.ID())
				}
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
	steps := []waveStep{{WaveLeaf, RoleLeaf}, {WaveWasmcloud, RoleWasmcloud}}
	// The roles of other unit kinds roll out after the wasmCloud hosts, each in a wave of its
	// own, in the order the kinds were registered.
	for _, k := range unit.Kinds() {
		for _, u := range p.Units {
			if u.Service == k.Name() && u.Role != RoleHub && !slices.ContainsFunc(steps, func(s waveStep) bool { return s.role == u.Role }) {
				steps = append(steps, waveStep{WaveName(u.Role), u.Role})
			}
		}
	}
	for _, step := range steps {
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

// rolloutWave puts units in batches of the role's rollout.batch, with its max_failures.
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
	size := r.BatchSize(hosts)
	for i := 0; i < len(units); i += size {
		var batch []string
		for _, u := range units[i:min(i+size, len(units))] {
			batch = append(batch, u.ID())
		}
		w.Batches = append(w.Batches, batch)
	}
	return w
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
	for _, h := range inv.Hubs() {
		if h.Hub.ServerName == best {
			return h.Name
		}
	}
	return ""
}

// runningHubs counts the hub nodes whose nats-server was observed running, less the foreign
// servers without JetStream about to be adopted.
func runningHubs(inv *inventory.Inventory, facts map[string]Facts, changing []*Unit) int {
	n := 0
	for _, h := range inv.Hubs() {
		if f, ok := facts[h.Name]; ok && f.Services[ServiceNATS].Running {
			n++
		}
	}
	for _, u := range changing {
		if u.WasRunning && !inQuorum(u, facts[u.Host]) {
			n--
		}
	}
	return n
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
