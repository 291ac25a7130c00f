package plan

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// PeerRemoval is a member of the hub cluster's JetStream meta group that no hub of the
// inventory is: a node that was lost and replaced, or taken out of the inventory. The group
// keeps such a peer for good, counting it in its size and its quorum: a cluster of three that
// lost a node and got a new one is a group of four, three of which must agree, and every hub
// gate (and verify) fails on its size. Apply removes it (JetStream's peer-remove, asked of the
// meta leader) before the hub wave; a stream that had a replica on it gets one on another hub
// (nats-server places it once one is free, the new node when it joins).
type PeerRemoval struct {
	Name string `json:"name"`    // its server_name
	Peer string `json:"peer_id"` // its peer id in the group
	// Why says what plan saw: not in the inventory, not running as far as the hubs can tell.
	Why string `json:"why"`
}

// planPeerRemovals finds the meta group's members that no inventory hub is, as the meta leader
// sees them. One that no running hub has a route to, and that the meta leader does not count
// as current (or marks offline), is removed. One that still runs is refused: routed to a hub,
// or current on the meta leader (a server lost a moment ago stays current for a few seconds).
// Removing a running member would only turn its own JetStream off (a removed server that is
// still running disables it) while its clients go on using it. The meta leader's offline flag
// alone is no sign of life or death: for a server that was killed, or whose machine was lost,
// nats-server sets it only once the server's heartbeats have been missing for minutes.
//
// A name an inventory hub runs under now (a node whose server_name changes in this plan,
// -replace) is no stranger: apply removes it once that node restarts under its new name
// (Unit.LeavesMetaGroup). Nothing is removed unless every hub is in the plan
// (-target, -exclude); without a meta leader, a stranger any hub sees is refused (only the
// leader removes a member).
func planPeerRemovals(inv *inventory.Inventory, facts map[string]Facts, opts Options) ([]PeerRemoval, error) {
	hubs := inv.Hubs()
	for _, h := range hubs {
		if !opts.Selected(h.Name) {
			return nil, nil
		}
	}
	// Known are the inventory hubs' names and the names they run under now, and their peer
	// ids: a meta leader that has not heard from a member since it started names it only by
	// its id ("Server name unknown at this time (peerID: …)"), and that member may well be a
	// hub of the inventory that is down.
	known, knownPeer := map[string]bool{}, map[string]bool{}
	routedFrom := map[string][]string{}
	var unread []string
	for _, h := range hubs {
		known[h.Hub.ServerName], knownPeer[PeerID(h.Hub.ServerName)] = true, true
		if f := facts[h.Name].NATS; f != nil && f.ServerName != "" {
			known[f.ServerName], knownPeer[PeerID(f.ServerName)] = true, true
			if !f.RoutesRead {
				unread = append(unread, h.Name)
			}
			for _, r := range f.Routes {
				routedFrom[r] = append(routedFrom[r], h.Name)
			}
		}
	}
	isKnown := func(mp MetaPeer) bool { return known[mp.Name] || knownPeer[mp.Peer] }
	name := metaLeaderName(inv, facts)
	if name != "" && !known[name] && len(routedFrom[name]) == 0 {
		name = "" // the hubs still name a leader that is gone: an election follows
	}
	if name == "" {
		// Only a meta leader removes a member: a stranger any hub sees waits for one.
		var seen []string
		if l := metaLeaderName(inv, facts); l != "" && !known[l] {
			seen = append(seen, l)
		}
		for _, h := range hubs {
			if f := facts[h.Name].NATS; f != nil {
				for _, mp := range f.MetaPeers {
					if !isKnown(mp) && !slices.Contains(seen, mp.Name) {
						seen = append(seen, mp.Name)
					}
				}
				// A follower may list no members at all (nats-server before 2.15 lists them
				// only on the leader), but it counts them.
				if f.MetaSize > len(hubs) {
					seen = append(seen, fmt.Sprintf("%d members, the inventory has %d hubs", f.MetaSize, len(hubs)))
				}
			}
		}
		if len(seen) > 0 {
			seen = slices.Compact(slices.Sorted(slices.Values(seen)))
			return nil, fmt.Errorf("the hub cluster's JetStream meta group has members that are no hub of the inventory (%s), and no meta leader, "+
				"which alone can remove them: wait for the election (a few seconds after a node is lost) and plan again, or bring a quorum of hubs up first (apply --target the hubs that are down)",
				strings.Join(seen, "; "))
		}
		return nil, nil
	}
	if !known[name] {
		// The leader itself is the stranger: it runs (routed to a hub), and leads.
		return nil, fmt.Errorf("the hub cluster's JetStream meta group has members that are no hub of the inventory and still run, "+
			"seen from the hubs: %s (the meta leader, routed to %s). Stop its nats-server (apply then removes it from the group), "+
			"or put it back in the inventory", name, strings.Join(routedFrom[name], ", "))
	}
	lf := facts[metaLeader(inv, facts)].NATS
	if lf == nil || lf.ServerName != name {
		return nil, nil // the leader runs under a name it is leaving (-replace): next plan
	}
	var out []PeerRemoval
	var running []string
	for _, mp := range lf.MetaPeers {
		switch routed := routedFrom[mp.Name]; {
		case isKnown(mp):
		case len(unread) > 0:
			running = append(running, fmt.Sprintf("%s (no telling: /routez of %s not read)", mp.Name, strings.Join(unread, ", ")))
		case len(routed) > 0:
			sort.Strings(routed)
			running = append(running, fmt.Sprintf("%s (routed to %s)", mp.Name, strings.Join(routed, ", ")))
		case mp.Current && !mp.Offline:
			running = append(running, fmt.Sprintf("%s (current on the meta leader; a server that stopped a moment ago stays so for a few seconds)", mp.Name))
		default:
			state := "not current"
			if mp.Offline {
				state = "offline"
			}
			out = append(out, PeerRemoval{Name: mp.Name, Peer: mp.Peer,
				Why: fmt.Sprintf("no hub of the inventory; no hub has a route to it, %s on the meta leader %s", state, lf.ServerName)})
		}
	}
	if len(running) > 0 {
		sort.Strings(running)
		return nil, fmt.Errorf("the hub cluster's JetStream meta group has members that are no hub of the inventory and still run, "+
			"seen from the meta leader %s: %s. Stop their nats-server (apply then removes them from the group), "+
			"or put them back in the inventory", lf.ServerName, strings.Join(running, "; "))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// PeerID is the id nats-server gives the server named name in a raft group: its name's
// SHA-256, the first 8 bytes each mapped onto 62 letters and digits.
func PeerID(name string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(name))
	id := make([]byte, 8)
	for i := range id {
		id[i] = digits[int(sum[i]%62)]
	}
	return string(id)
}

// removedPeers names the plan's peer removals, for messages.
func removedPeers(p *Plan) []string {
	var names []string
	for _, r := range p.PeerRemovals {
		names = append(names, r.Name)
	}
	return slices.Clip(names)
}

// renamesWithCutover refuses a hub renamed in place (-replace) in the plan of a domain change:
// the cutover starts every hub together and gates on the whole group, which would still hold
// the old name.
func renamesWithCutover(p *Plan) error {
	if p.Cutover == nil {
		return nil
	}
	var hosts []string
	for _, u := range p.Units {
		if u.LeavesMetaGroup != "" {
			hosts = append(hosts, u.Host)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	return fmt.Errorf("the JetStream domain changes (%s → %s) and %s change server_name (-replace): make one change at a time: rename the nodes first, then change the domain",
		p.Cutover.From, p.Cutover.To, strings.Join(hosts, ", "))
}
