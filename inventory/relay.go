package inventory

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Relay tiers. A relay is a nats-server that accepts leaf connections from the tier below it
// and is itself a leaf of the tier above: the hub cluster or another relay. Every leaf and
// relay names what it dials with `upstream` in its nats block:
//
//	""/"hub"        the hub cluster (the default)
//	"relay"         every relay
//	"relay-east-1"  one relay, by host name
//	"relay-east"    the relays a `hosts "relay-east"` block generates
//	"site=east"     the relays whose labels match (comma-separated pairs, all must match)
//
// The relays one upstream names back each other up: the leaves below list every one of them in
// their remotes and move to another when theirs stops, and apply changes relays one at a time.
// Relays that share a cluster_name are also routed to each other (a NATS cluster).
// The JetStream domain stays homed on the hubs: `$JS.<domain>.API.>` crosses every leaf hop,
// and the wasmCloud hosts of every tier get WASMCLOUD_JS_DOMAIN = js_domain.

// UpstreamHub is the upstream value naming the hub cluster (also the default, "").
const UpstreamHub = "hub"

// MaxLeafHops bounds the leaf links between any leaf and the hub cluster: a leaf below three
// tiers of relays is four hops away. Each hop adds a reconnect (a restart high in the chain
// cascades down it) and a round trip to every JetStream request.
const MaxLeafHops = 4

// IsRelay reports whether h is a relay: a leaf that also accepts leaf connections.
func (h *Host) IsRelay() bool { return h.Leaf != nil && h.HasRole(RoleRelay) }

// natsRole is the role whose nats block applies to h's nats-server.
func natsRole(h *Host) string {
	switch {
	case h.Hub != nil:
		return RoleHub
	case h.IsRelay():
		return RoleRelay
	}
	return RoleLeaf
}

// Relays returns the relays in name order.
func (inv *Inventory) Relays() []*Host {
	var out []*Host
	for _, h := range inv.Hosts {
		if h.IsRelay() {
			out = append(out, h)
		}
	}
	return out
}

// LeafServers returns every host running a leaf nats-server, relays included, in name order.
func (inv *Inventory) LeafServers() []*Host {
	var out []*Host
	for _, h := range inv.Hosts {
		if h.Leaf != nil {
			out = append(out, h)
		}
	}
	return out
}

// RelayCluster returns the relays sharing h's cluster_name, h included, in name order: they
// are routed to each other. Nil when h is no relay or in no relay cluster.
func (inv *Inventory) RelayCluster(h *Host) []*Host {
	if !h.IsRelay() || h.Leaf.ClusterName == "" {
		return nil
	}
	var out []*Host
	for _, r := range inv.Relays() {
		if r.Leaf.ClusterName == h.Leaf.ClusterName {
			out = append(out, r)
		}
	}
	return out
}

// Upstream is what a leaf or relay dials: the hub cluster, or a set of relays.
type Upstream struct {
	Hub    bool
	Relays []*Host // name order; empty when Hub
}

// Names are the host names of the upstream's servers.
func (u Upstream) Names(inv *Inventory) []string {
	hosts := u.Relays
	if u.Hub {
		hosts = inv.Hubs()
	}
	var out []string
	for _, h := range hosts {
		out = append(out, h.Name)
	}
	return out
}

// UpstreamOf resolves the upstream of leaf or relay h. An inventory that validated resolves
// every one.
func (inv *Inventory) UpstreamOf(h *Host) (Upstream, error) {
	if h.Leaf == nil {
		return Upstream{}, fmt.Errorf("%s runs no leaf nats-server", h.Name)
	}
	u, _, problem := inv.resolveUpstream(h.Leaf.Upstream)
	if problem != "" {
		return Upstream{}, fmt.Errorf("%s: upstream %q %s", h.Name, h.Leaf.Upstream, problem)
	}
	return u, nil
}

// Below returns the leaves and relays whose upstream includes relay, in name order.
func (inv *Inventory) Below(relay *Host) []*Host {
	var out []*Host
	for _, h := range inv.LeafServers() {
		if u, err := inv.UpstreamOf(h); err == nil && slices.Contains(u.Relays, relay) {
			out = append(out, h)
		}
	}
	return out
}

// Hops is the number of leaf links between h and the hub cluster along its longest chain: 1
// for a leaf of the hubs, 0 for a hub. -1 when the chain does not reach the hubs.
func (inv *Inventory) Hops(h *Host) int {
	return inv.hops(h, map[*Host]bool{})
}

func (inv *Inventory) hops(h *Host, onPath map[*Host]bool) int {
	if h.Hub != nil {
		return 0
	}
	u, err := inv.UpstreamOf(h)
	if err != nil || onPath[h] {
		return -1
	}
	if u.Hub {
		return 1
	}
	onPath[h] = true
	defer delete(onPath, h)
	most := 0
	for _, r := range u.Relays {
		n := inv.hops(r, onPath)
		if n < 0 {
			return -1
		}
		most = max(most, n)
	}
	return most + 1
}

// resolveUpstream resolves an upstream value. kind says what the value was taken as ("hub",
// "role", "host", "hosts block", "selector"); problem is non-empty when it names nothing usable.
func (inv *Inventory) resolveUpstream(s string) (u Upstream, kind, problem string) {
	if s == "" || s == UpstreamHub {
		// The common case, answered without scanning the hosts: validate resolves every
		// leaf's upstream, and a scan each time made 10,000 leaves a quadratic 2.5 s.
		return Upstream{Hub: true}, "hub", ""
	}
	relays := inv.Relays()
	switch {
	case s == RoleRelay:
		if len(relays) == 0 {
			return u, "role", "selects no relay: no host has the role \"relay\""
		}
		return Upstream{Relays: relays}, "role", ""
	case strings.Contains(s, "="):
		sel, err := parseSelector(s)
		if err != "" {
			return u, "selector", err
		}
		for _, r := range relays {
			if sel.matches(r.Labels) {
				u.Relays = append(u.Relays, r)
			}
		}
		if len(u.Relays) == 0 {
			return u, "selector", "selects no relay: no host with the role \"relay\" has the labels " + s
		}
		return u, "selector", ""
	}
	if h := inv.Host(s); h != nil {
		if !h.IsRelay() {
			return u, "host", fmt.Sprintf("is host %s, which is not a relay (roles %s)", s, strings.Join(h.Roles, ", "))
		}
		return Upstream{Relays: []*Host{h}}, "host", ""
	}
	for _, r := range relays {
		if r.Group == s {
			u.Relays = append(u.Relays, r)
		}
	}
	if len(u.Relays) > 0 {
		return u, "hosts block", ""
	}
	for _, h := range inv.Hosts {
		if h.Group == s {
			return u, "hosts block", fmt.Sprintf("is the hosts block %q, which generates no relay", s)
		}
	}
	return u, "", "names no relay, relay hosts block or role"
}

type selector [][2]string

func parseSelector(s string) (selector, string) {
	var sel selector
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" || v == "" || strings.ContainsFunc(k, isSpace) {
			return nil, fmt.Sprintf("is not a label selector: %q must be key=value (pairs separated by commas)", part)
		}
		sel = append(sel, [2]string{k, v})
	}
	return sel, ""
}

func (sel selector) matches(labels map[string]string) bool {
	for _, kv := range sel {
		if labels[kv[0]] != kv[1] {
			return false
		}
	}
	return true
}

// relayRoles checks the role combinations of a relay host.
func (v *validator) relayRoles(h *Host, hb *hostBlock) {
	if !h.HasRole(RoleRelay) {
		return
	}
	switch {
	case h.HasRole(RoleHub):
		v.errorf(hb.RolesRange, "Host is both hub and relay",
			"Host %s lists both \"hub\" and \"relay\". A hub already accepts leaf connections: remove \"relay\", or make this machine a relay only.", h.Name)
	case h.HasRole(RoleLeaf):
		v.errorf(hb.RolesRange, "Host is both relay and leaf",
			"Host %s lists both \"relay\" and \"leaf\". A relay is a leaf of its upstream that also accepts leaves, and serves local clients like a leaf: remove \"leaf\".", h.Name)
	}
}

// relays checks the leaf graph: every upstream names something that exists, the graph has
// no cycle and a bounded depth, and every leaf reaches the hub cluster through its chain.
func (v *validator) relays() {
	defer v.on(nil)
	if rb := v.d.roles[RoleHub]; rb != nil && rb.NATS != nil {
		if r, ok := attrRange(rb.NATS.Body, "upstream"); ok {
			v.errorf(r, "upstream on a hub",
				"The hub cluster is the top of the leaf graph: only leaves and relays name an upstream. Remove it here.")
		}
	}
	inv := v.inv
	broken := map[*Host]bool{} // its own upstream is reported
	for _, h := range inv.Hosts {
		hb := v.d.hosts[h]
		v.on(h)
		if h.Hub != nil && hb.NATS != nil {
			if r, ok := attrRange(hb.NATS.Body, "upstream"); ok {
				v.errorf(r, "upstream on a hub",
					"Host %s is a hub, the top of the leaf graph: only leaves and relays name an upstream. Remove it here.", h.Name)
			}
		}
		if h.Leaf == nil {
			continue
		}
		at := v.upstreamAttr(h)
		_, kind, problem := inv.resolveUpstream(h.Leaf.Upstream)
		if problem == "" {
			continue
		}
		broken[h] = true
		summary := "Unknown upstream"
		switch kind {
		case "host", "hosts block":
			summary = "Upstream is not a relay"
		case "selector", "role":
			summary = "Upstream selects no relay"
		}
		v.errorf(at, summary, "%s %s has upstream %q, which %s.%s An upstream is %q (the hub cluster, the default), %q (every relay), a relay's host name, the name of a hosts block of relays, or a label selector such as \"site=east\".",
			what(h), h.Name, h.Leaf.Upstream, problem, didYouMean(h.Leaf.Upstream, v.upstreamNames()), UpstreamHub, RoleRelay)
	}

	// Cycles among relays, each reported once, at the first relay of the cycle in name order.
	reported := map[string]bool{}
	inCycle := map[*Host]bool{}
	for _, r := range inv.Relays() {
		if broken[r] {
			continue
		}
		cycle := findCycle(inv, r, nil)
		if cycle == nil {
			continue
		}
		members := slices.Clone(cycle[:len(cycle)-1])
		for _, m := range members {
			inCycle[m] = true
		}
		key := cycleKey(members)
		if reported[key] {
			continue
		}
		reported[key] = true
		first := members[0]
		for _, m := range members {
			if m.Name < first.Name {
				first = m
			}
		}
		v.on(first)
		v.errorf(v.upstreamAttr(first), "Cycle in the leaf graph",
			"Relay %s is its own upstream through %s: no relay of the cycle reaches the hub cluster, and NATS would drop the links as a loop. Point one of them at a relay nearer the hubs, or at \"hub\".",
			first.Name, chainString(rotate(members, first)))
	}

	for _, h := range inv.LeafServers() {
		v.on(h)
		if broken[h] || inCycle[h] {
			continue
		}
		n := inv.Hops(h)
		if n < 0 {
			v.errorf(v.upstreamAttr(h), "Leaf does not reach the hub cluster",
				"%s %s dials %s, and its chain does not reach the hub cluster: %s. Fix the upstream reported there, or point %s at \"hub\" or at a relay that reaches it.",
				what(h), h.Name, quoteList(v.upstreamOfNames(h)), v.whereBroken(h, broken, inCycle), h.Name)
			continue
		}
		if n > MaxLeafHops && v.upstreamWithin(h) {
			v.errorf(v.upstreamAttr(h), "Leaf chain too deep",
				"%s %s is %d leaf hops from the hub cluster, more than %d (three tiers of relays): every hop adds a reconnect after a restart above it and a round trip to every JetStream request. Point it at a relay nearer the hubs.",
				what(h), h.Name, n, MaxLeafHops)
		}
	}
	v.relayClusters()
	for _, r := range inv.Relays() {
		if len(inv.Below(r)) == 0 && len(broken) == 0 {
			v.on(r)
			v.warnf(v.d.hosts[r].RolesRange, "Relay with nothing below it",
				"No leaf or relay names relay %s as its upstream (by host name, hosts block, \"relay\" or a label selector): it relays nothing. Point leaves at it with upstream, or remove the role.", r.Name)
		}
	}
}

// upstreamWithin reports whether every relay h dials is itself within MaxLeafHops: a chain too
// deep is reported once, at the first host beyond the bound.
func (v *validator) upstreamWithin(h *Host) bool {
	u, err := v.inv.UpstreamOf(h)
	if err != nil {
		return false
	}
	for _, r := range u.Relays {
		if v.inv.Hops(r) > MaxLeafHops {
			return false
		}
	}
	return true
}

// whereBroken says where h's chain stops, for the "does not reach" diagnostic.
func (v *validator) whereBroken(h *Host, broken, inCycle map[*Host]bool) string {
	seen := map[*Host]bool{}
	var walk func(*Host) string
	walk = func(x *Host) string {
		if seen[x] {
			return ""
		}
		seen[x] = true
		u, err := v.inv.UpstreamOf(x)
		if err != nil {
			return ""
		}
		for _, r := range u.Relays {
			switch {
			case inCycle[r]:
				return fmt.Sprintf("relay %s is in a cycle", r.Name)
			case broken[r]:
				return fmt.Sprintf("relay %s has an upstream that names nothing usable (%q)", r.Name, r.Leaf.Upstream)
			}
			if s := walk(r); s != "" {
				return s
			}
		}
		return ""
	}
	if s := walk(h); s != "" {
		return s
	}
	return "its chain loops"
}

func (v *validator) upstreamOfNames(h *Host) []string {
	u, err := v.inv.UpstreamOf(h)
	if err != nil {
		return nil
	}
	return u.Names(v.inv)
}

// upstreamAttr is where h's upstream is set: the host's nats block, its role's, else the
// host's name.
func (v *validator) upstreamAttr(h *Host) hcl.Range {
	if h.Leaf != nil && h.Leaf.UpstreamRange != (hcl.Range{}) {
		return h.Leaf.UpstreamRange
	}
	return v.natsAttr(h, "upstream")
}

// upstreamNames are the values an upstream may take, for "did you mean".
func (v *validator) upstreamNames() []string {
	names := []string{UpstreamHub, RoleRelay}
	for _, r := range v.inv.Relays() {
		names = append(names, r.Name)
		if r.Group != "" && !slices.Contains(names, r.Group) {
			names = append(names, r.Group)
		}
	}
	return names
}

// findCycle follows the relay graph from r depth-first and returns the first cycle found as
// a path whose last element repeats an earlier one (trimmed to start there), or nil.
func findCycle(inv *Inventory, r *Host, path []*Host) []*Host {
	if i := slices.Index(path, r); i >= 0 {
		return append(slices.Clone(path[i:]), r)
	}
	u, err := inv.UpstreamOf(r)
	if err != nil || u.Hub {
		return nil
	}
	path = append(path, r)
	for _, up := range u.Relays {
		if c := findCycle(inv, up, path); c != nil {
			return c
		}
	}
	return nil
}

func cycleKey(members []*Host) string {
	var names []string
	for _, m := range members {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// rotate returns the cycle members starting at first.
func rotate(members []*Host, first *Host) []*Host {
	i := slices.Index(members, first)
	return append(slices.Clone(members[i:]), members[:i]...)
}

func chainString(cycle []*Host) string {
	var names []string
	for _, h := range cycle {
		names = append(names, h.Name)
	}
	return strings.Join(append(names, cycle[0].Name), " → ")
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

func what(h *Host) string {
	if h.IsRelay() {
		return "Relay"
	}
	return "Leaf"
}

// relayClusters checks the relays that share a cluster_name: a name of their own, one
// upstream for all of them, and no JetStream.
func (v *validator) relayClusters() {
	defer v.on(nil)
	hubCluster := ""
	if hubs := v.inv.Hubs(); len(hubs) > 0 {
		hubCluster = hubs[0].Hub.ClusterName
	}
	first := map[string]*Host{}
	for _, r := range v.inv.Relays() {
		name := r.Leaf.ClusterName
		if name == "" {
			continue
		}
		v.on(r)
		at := v.natsAttr(r, "cluster_name")
		switch {
		case strings.ContainsFunc(name, isSpace):
			v.errorf(at, "Invalid cluster_name", "cluster_name %q must be without spaces.", name)
			continue
		case name == hubCluster:
			v.errorf(at, "Relay cluster named like the hub cluster",
				"Relay %s is in cluster %q, the hub cluster's name. Give the relay cluster a name of its own (e.g. \"relays\").", r.Name, name)
			continue
		case r.Leaf.JetStreamDomain != "":
			v.errorf(v.natsAttr(r, "jetstream_domain"), "JetStream on a relay cluster",
				"Relay %s is in relay cluster %q and has jetstream_domain %q. A relay cluster relays; it runs no JetStream (that would need a JetStream cluster of its own). Remove jetstream_domain, or cluster_name.", r.Name, name, r.Leaf.JetStreamDomain)
			continue
		}
		if f := first[name]; f == nil {
			first[name] = r
		} else if f.Leaf.Upstream != r.Leaf.Upstream {
			v.errorf(v.upstreamAttr(r), "Relay cluster with two upstreams",
				"Relays %s and %s are both in cluster %q but dial different upstreams (%q and %q). The relays of one cluster are one tier: give them the same upstream, or put them in different clusters.",
				f.Name, r.Name, name, f.Leaf.Upstream, r.Leaf.Upstream)
		}
	}
}
