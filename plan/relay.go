package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// relayWave rolls the relays between the hub wave and the leaf wave, tier by tier from the
// hubs down: a relay's gate needs its own upstream up. Within a tier, first starts go together
// (no leaf below depends on them yet), then each running relay alone: a relay cluster never
// has two relays down at once, and a relay's gate (its own link up, the hub's domain answering
// through it, every running leaf below it linked again to a relay of its upstream) passes
// before the next relay restarts. A cutover gates every relay again, changed or not, before
// the leaves.
func relayWave(inv *inventory.Inventory, p *Plan, units []*Unit) Wave {
	w := Wave{Name: WaveRelay}
	if len(units) == 0 {
		return w
	}
	w.MaxFailures = roleRollout(inv, string(RoleRelay)).MaxFailures
	hops := func(u *Unit) int {
		if h := inv.Host(u.Host); h != nil {
			return inv.Hops(h)
		}
		return 0
	}
	ordered := append([]*Unit(nil), changing(units)...)
	sort.SliceStable(ordered, func(i, j int) bool {
		a, b := ordered[i], ordered[j]
		if ha, hb := hops(a), hops(b); ha != hb {
			return ha < hb
		}
		return NaturalLess(a.Host, b.Host)
	})
	for i := 0; i < len(ordered); {
		tier := hops(ordered[i])
		var first []string
		var rest [][]string
		for ; i < len(ordered) && hops(ordered[i]) == tier; i++ {
			if u := ordered[i]; firstStart(u) {
				first = append(first, u.ID())
			} else {
				rest = append(rest, []string{u.ID()})
			}
		}
		if len(first) > 0 {
			w.Batches = append(w.Batches, first)
		}
		w.Batches = append(w.Batches, rest...)
	}
	if p.Cutover != nil {
		for _, u := range units {
			if !u.Changes() {
				w.GateOnly = append(w.GateOnly, u.ID())
			}
		}
	}
	return w
}

// bridgeWave reloads the bridge configs: the relays' one at a time first (a relay's remote
// reconnects when it reloads, and the leaves below it then wait), then the leaves' in batches.
func bridgeWave(inv *inventory.Inventory, bridges []*Unit) Wave {
	var relays [][]string
	var leaves []*Unit
	for _, u := range bridges {
		if u.Role == RoleRelay {
			relays = append(relays, []string{u.ID()})
		} else {
			leaves = append(leaves, u)
		}
	}
	w := rolloutWave(inv, WaveLeafBridge, RoleLeaf, leaves)
	sort.SliceStable(relays, func(i, j int) bool { return NaturalLess(relays[i][0], relays[j][0]) })
	w.Batches = append(relays, w.Batches...)
	return w
}

// tierMoveWarning names the leaves that this plan moves onto relays from servers they dial now
// (the hubs, typically: a fleet getting its relay tier), by reloading their remotes. The
// reload closes the old link and opens the new one at once, and the relay can still see the
// leaf's loop-detection interest arriving from the hubs: nats-server then reports a loop and
// holds the new link for 30 s (in the lab, about one leaf in four). The leaf's gate waits for
// it; nothing is lost but time, and the operator should expect it.
func tierMoveWarning(inv *inventory.Inventory, p *Plan, facts map[string]Facts) {
	relays := map[string]bool{}
	for _, r := range inv.Relays() {
		relays[inventory.LocalAddr(r.Address, r.Leaf.LeafnodePort)] = true
	}
	if len(relays) == 0 {
		return
	}
	bridged := map[string]bool{} // a bridged leaf moves between listeners of the same servers
	for _, u := range p.Units {
		if u.Step == StepBridge {
			bridged[u.Host] = true
		}
	}
	var moving []string
	for _, u := range p.Units {
		if (u.Role != RoleLeaf && u.Role != RoleRelay) || u.Service != ServiceNATS || u.Step != "" || u.Action != Reload || bridged[u.Host] {
			continue
		}
		cfg := u.file(u.ConfigPath)
		old := facts[u.Host].Files[u.ConfigPath].Content
		if cfg == nil || old == nil {
			continue
		}
		have, err1 := leafListeners(old)
		want, err2 := leafListeners(cfg.content)
		if err1 != nil || err2 != nil || len(have) == 0 || len(want) == 0 {
			continue
		}
		onto := true
		for _, w := range want {
			onto = onto && relays[w] && !slices.Contains(have, w)
		}
		if onto {
			moving = append(moving, u.Host)
		}
	}
	if len(moving) == 0 {
		return
	}
	sort.SliceStable(moving, func(i, j int) bool { return NaturalLess(moving[i], moving[j]) })
	p.Warnings = append(p.Warnings, fmt.Sprintf("%s move their leaf link onto relays by reload: nats-server may "+
		"take the instant of the move for a loop and hold the new link for 30 s (\"Loop detected ... Delaying attempt to "+
		"reconnect for 30s\" in the leaf's log); the leaf's gate waits for it", strings.Join(moving, ", ")))
}
