package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// Checks of the relay tiers: a leaf below relays is seen by one of them, the chain from it to
// the hubs is linked hop by hop (the path the domain probe takes), and a relay has every
// running leaf below it linked again (its gate after a restart).
const (
	CheckLeafSeenByRelay = "leaf.seen-by-relay" // a relay of the leaf's upstream lists it in its /leafz
	CheckLeafRelayBelow  = "leaf.relay-below"   // every running leaf below the relay is linked to its upstream
	CheckDomainPath      = "domain.path"        // the chain of leaf links from the leaf to a hub
	CheckHubUpstream     = "hub.upstream"       // the hub's remote to the NATS system above the hubs is up
	CheckLeafRelayRoutes = "leaf.relay-routes"  // a clustered relay routes to every other relay of its cluster
)

// upstreamTasks check, with an upstream system above the hubs, every hub's link to it.
func (r *round) upstreamTasks() []task {
	if r.inv.UpstreamSystem == nil {
		return nil
	}
	var ts []task
	for _, h := range r.inv.Hubs() {
		ts = append(ts, one(CheckHubUpstream, h.Name, func(ctx context.Context) Result { return r.checkHubUpstream(ctx, h) }))
	}
	return ts
}

// checkHubUpstream: the hub's own /leafz shows its remote to the upstream system connected.
func (r *round) checkHubUpstream(ctx context.Context, hub *inventory.Host) Result {
	m, err := r.monitor(hub)
	if err != nil {
		return fail(CheckHubUpstream, hub.Name, err.Error(), fixUnreachable(hub))
	}
	lz, err := m.leafz(ctx)
	if err != nil {
		return fail(CheckHubUpstream, hub.Name, err.Error(), fixMonitor(hub))
	}
	for _, l := range lz.Leafs {
		if l.IsSpoke {
			return pass(CheckHubUpstream, hub.Name, fmt.Sprintf("connected to %s (%s:%d, account %s, rtt %s)", l.Name, l.IP, l.Port, l.Account, l.RTT))
		}
	}
	return fail(CheckHubUpstream, hub.Name, "no remote to the upstream system connected ("+strings.Join(r.inv.UpstreamSystem.URLs, ", ")+")",
		fmt.Sprintf("check that %s reaches the upstream URLs and that its credentials_file %q is there and valid; the hub's nats-server log says why the remote fails",
			hub.Name, r.inv.UpstreamSystem.CredentialsFile))
}

// behindRelays reports whether leaf dials relays rather than the hubs, with its upstream.
func (r *round) behindRelays(leaf *inventory.Host) (inventory.Upstream, bool) {
	u, err := r.inv.UpstreamOf(leaf)
	return u, err == nil && !u.Hub
}

// seenTask checks the leaf from the other end of its link: its relays' /leafz when it dials
// relays, else the hubs'.
func (r *round) seenTask(leaf *inventory.Host) task {
	if u, ok := r.behindRelays(leaf); ok {
		return one(CheckLeafSeenByRelay, leaf.Name, func(ctx context.Context) Result {
			prefetch(ctx, r, u.Relays, (*monitor).leafz)
			return r.checkLeafSeenByRelay(ctx, leaf, u)
		})
	}
	return one(CheckLeafSeenByHub, leaf.Name, func(ctx context.Context) Result {
		prefetch(ctx, r, r.inv.Hubs(), (*monitor).leafz)
		return r.checkLeafSeenByHub(ctx, leaf)
	})
}

// relayBelowTasks: for a relay, the leaves below it linked, its routes in a relay cluster, and
// its TLS with a tls block.
func (r *round) relayBelowTasks(leaf *inventory.Host) []task {
	if !leaf.IsRelay() {
		return nil
	}
	ts := []task{one(CheckLeafRelayBelow, leaf.Name, func(ctx context.Context) Result { return r.checkRelayBelow(ctx, leaf) })}
	if len(r.inv.RelayCluster(leaf)) > 1 {
		ts = append(ts, one(CheckLeafRelayRoutes, leaf.Name, func(ctx context.Context) Result { return r.checkRelayRoutes(ctx, leaf) }))
	}
	if r.inv.Lattice.TLS != nil {
		ts = append(ts, one(CheckLeafRelayTLS, leaf.Name, func(ctx context.Context) Result { return r.checkRelayTLS(ctx, leaf) }))
	}
	return ts
}

// checkRelayRoutes: a relay in a relay cluster has a route to every other relay of it (by
// server_name in /routez), and to no server outside it.
func (r *round) checkRelayRoutes(ctx context.Context, relay *inventory.Host) Result {
	m, err := r.monitor(relay)
	if err != nil {
		return fail(CheckLeafRelayRoutes, relay.Name, err.Error(), fixUnreachable(relay))
	}
	rz, err := m.routez(ctx)
	if err != nil {
		return fail(CheckLeafRelayRoutes, relay.Name, err.Error(), fixMonitor(relay))
	}
	var have, want, missing, extra []string
	for _, rt := range rz.Routes {
		if rt.RemoteName != "" && !slices.Contains(have, rt.RemoteName) {
			have = append(have, rt.RemoteName)
		}
	}
	slices.Sort(have)
	for _, p := range r.inv.RelayCluster(relay) {
		if p != relay {
			want = append(want, p.Leaf.ServerName)
			if !slices.Contains(have, p.Leaf.ServerName) {
				missing = append(missing, p.Leaf.ServerName)
			}
		}
	}
	for _, n := range have {
		if !slices.Contains(want, n) {
			extra = append(extra, n)
		}
	}
	ev := fmt.Sprintf("relay cluster %s: routes to %s", relay.Leaf.ClusterName, names(have))
	switch {
	case len(missing) > 0:
		return fail(CheckLeafRelayRoutes, relay.Name, ev+"; missing "+names(missing),
			"check that "+names(missing)+" run(s) and that the cluster port is reachable between the relays")
	case len(extra) > 0:
		return fail(CheckLeafRelayRoutes, relay.Name, ev+"; not in the inventory: "+names(extra),
			"a server outside the inventory joined the relay cluster: remove it, or add it to the inventory")
	}
	return pass(CheckLeafRelayRoutes, relay.Name, ev)
}

// withPath adds, for a leaf below relays, the path its domain probe took (the leaf links
// followed from the leaf to a hub) to the probe's evidence, and the path as a check of its
// own: a broken hop names the relay where the chain stops.
func (r *round) withPath(ctx context.Context, leaf *inventory.Host, reach Result) []Result {
	if _, ok := r.behindRelays(leaf); !ok {
		return nil
	}
	path, err := r.leafPath(ctx, leaf)
	chain := strings.Join(path, " → ")
	if err != nil {
		return []Result{fail(CheckDomainPath, leaf.Name, fmt.Sprintf("%s: %v", chain, err),
			"bring the relay named here back (its nats-server, its own leaf link): apply repairs a relay whose service or config is wrong")}
	}
	ev := chain
	if reach.OK {
		ev += fmt.Sprintf(": the domain %q answered through these %d leaf hops", r.inv.Lattice.JSDomain, len(path)-1)
	}
	return []Result{pass(CheckDomainPath, leaf.Name, ev)}
}

// leafPath follows the connected leaf remote of each server, from leaf up to a hub, by the
// server_name each /leafz names.
func (r *round) leafPath(ctx context.Context, leaf *inventory.Host) ([]string, error) {
	path := []string{leaf.Name}
	cur := leaf
	for range inventory.MaxLeafHops + 1 {
		if cur.Hub != nil {
			return path, nil
		}
		m, err := r.monitor(cur)
		if err != nil {
			return path, fmt.Errorf("%s not reachable: %v", cur.Name, err)
		}
		lz, err := m.leafz(ctx)
		if err != nil {
			return path, fmt.Errorf("%s's nats-server does not answer: %v", cur.Name, err)
		}
		up := ""
		for _, l := range lz.Leafs {
			if l.IsSpoke {
				up = l.Name
				break
			}
		}
		if up == "" {
			return path, fmt.Errorf("%s has no leaf remote connected", cur.Name)
		}
		next := r.serverNamed(up)
		if next == nil {
			return append(path, up), fmt.Errorf("%s is linked to server %q, which is not in the inventory", cur.Name, up)
		}
		path = append(path, next.Name)
		cur = next
	}
	return path, fmt.Errorf("no hub within %d leaf hops", inventory.MaxLeafHops)
}

func (r *round) serverNamed(name string) *inventory.Host {
	for _, h := range r.inv.Hosts {
		if n := h.NATS(); n != nil && n.ServerName == name {
			return h
		}
	}
	return nil
}

// checkLeafSeenByRelay: one relay of the leaf's upstream lists the leaf's server_name in its
// /leafz (a leaf connects to one relay at a time).
func (r *round) checkLeafSeenByRelay(ctx context.Context, leaf *inventory.Host, u inventory.Upstream) Result {
	name := leaf.Leaf.ServerName
	var on, unreachable []string
	for _, rl := range u.Relays {
		m, err := r.monitor(rl)
		if err != nil {
			unreachable = append(unreachable, rl.Name)
			continue
		}
		lz, err := m.leafz(ctx)
		if err != nil {
			unreachable = append(unreachable, rl.Name)
			continue
		}
		for _, l := range lz.Leafs {
			if l.Name == name && !l.IsSpoke {
				on = append(on, rl.Name)
			}
		}
	}
	var note string
	if len(unreachable) > 0 {
		note = fmt.Sprintf("; /leafz of relay %s not readable", names(unreachable))
	}
	switch {
	case len(on) == 0:
		return fail(CheckLeafSeenByRelay, leaf.Name, fmt.Sprintf("leaf %s is in no /leafz of its relays %s%s", name, strings.Join(u.Names(r.inv), ", "), note),
			fmt.Sprintf("check %s's leaf remote and that a relay of its upstream runs and accepts the leaf password on its leafnode port", leaf.Name))
	case len(on) > 1:
		return fail(CheckLeafSeenByRelay, leaf.Name, fmt.Sprintf("leaf %s on relays %s: two servers share the server_name %s", name, names(on), name),
			"give every leaf a unique server_name (two leaves with one name evict each other)")
	}
	return pass(CheckLeafSeenByRelay, leaf.Name, fmt.Sprintf("leaf %s on relay %s%s", name, on[0], note))
}

// checkRelayBelow: every leaf below relay whose nats-server answers has its leaf link up.
// After a relay restarts, the leaves it served move to another relay of their upstream (or
// back to it): its gate waits for them. A leaf whose server does not answer (not started yet,
// or down) has no link to wait for, and one still linked elsewhere (to the hubs, before the
// leaf wave gives it its relays) has not lost its link; its own checks report both.
func (r *round) checkRelayBelow(ctx context.Context, relay *inventory.Host) Result {
	below := r.inv.Below(relay)
	if len(below) == 0 {
		return pass(CheckLeafRelayBelow, relay.Name, "no leaf below this relay")
	}
	prefetch(ctx, r, below, (*monitor).leafz)
	var linked, unlinked, silent []string
	for _, b := range below {
		m, err := r.monitor(b)
		if err != nil {
			silent = append(silent, b.Name)
			continue
		}
		lz, err := m.leafz(ctx)
		if err != nil {
			silent = append(silent, b.Name)
			continue
		}
		u, _ := r.inv.UpstreamOf(b)
		want := map[string]bool{}
		for _, h := range u.Relays {
			want[h.Leaf.ServerName] = true
		}
		to, elsewhere := "", ""
		for _, l := range lz.Leafs {
			switch {
			case l.IsSpoke && want[l.Name]:
				to = l.Name
			case l.IsSpoke:
				elsewhere = l.Name
			}
		}
		switch {
		case to != "":
			linked = append(linked, b.Name+" → "+to)
		case elsewhere != "":
			linked = append(linked, fmt.Sprintf("%s → %s (not one of its upstream's relays yet)", b.Name, elsewhere))
		default:
			unlinked = append(unlinked, b.Name)
		}
	}
	slices.Sort(linked)
	ev := fmt.Sprintf("linked: %s", names(linked))
	if len(silent) > 0 {
		ev += fmt.Sprintf("; not running or not reachable, not waited for: %s", names(silent))
	}
	if len(unlinked) > 0 {
		return fail(CheckLeafRelayBelow, relay.Name, fmt.Sprintf("%s; no link to a relay of their upstream: %s", ev, names(unlinked)),
			fmt.Sprintf("the leaves below %s reconnect within seconds of a relay restart; if they do not, check that the relays of their upstream run and accept the leaf password", relay.Name))
	}
	return pass(CheckLeafRelayBelow, relay.Name, ev)
}
