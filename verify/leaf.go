package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// checkLeafRemote: the leaf's own /leafz shows its remote connected (is_spoke). /healthz on
// either side ignores leaf links: it stays 200 while the link is down.
func (r *round) checkLeafRemote(ctx context.Context, leaf *inventory.Host) Result {
	m, err := r.monitor(leaf)
	if err != nil {
		return fail(CheckLeafRemote, leaf.Name, err.Error(), fixUnreachable(leaf))
	}
	lz, err := m.leafz(ctx)
	if err != nil {
		return fail(CheckLeafRemote, leaf.Name, err.Error(), fixMonitor(leaf))
	}
	var up []string
	for _, l := range lz.Leafs {
		if l.IsSpoke {
			up = append(up, fmt.Sprintf("%s (%s:%d, rtt %s)", l.Name, l.IP, l.Port, l.RTT))
		}
	}
	if len(up) == 0 {
		return fail(CheckLeafRemote, leaf.Name, "no leaf remote connected (/leafz lists no upstream server)", fixLeafLink(leaf))
	}
	return pass(CheckLeafRemote, leaf.Name, "connected to "+strings.Join(up, ", "))
}

// checkLeafSeenByHub: some hub node lists the leaf's server_name in its /leafz, bound to
// account LATTICE. A leaf connects to one hub node at a time, so every hub is asked
// (its /leafz name is the leaf's server_name); seen on two nodes means two servers share the
// server_name.
func (r *round) checkLeafSeenByHub(ctx context.Context, leaf *inventory.Host) Result {
	name := leaf.Leaf.ServerName
	var on, wrongAccount, unreachable []string
	for _, h := range r.inv.Hubs() {
		m, err := r.monitor(h)
		var lz *natsmon.Leafz
		if err == nil {
			lz, err = m.leafz(ctx)
		}
		if err != nil {
			unreachable = append(unreachable, h.Name)
			continue
		}
		for _, l := range lz.Leafs {
			if l.Name != name || l.IsSpoke {
				continue
			}
			if l.Account != hubAccount {
				wrongAccount = append(wrongAccount, fmt.Sprintf("%s (account %s)", h.Name, l.Account))
			} else {
				on = append(on, h.Name)
			}
		}
	}
	var note string
	if len(unreachable) > 0 {
		note = fmt.Sprintf("; /leafz of %s not readable", names(unreachable))
	}
	ev := fmt.Sprintf("leaf %s on hub node %s%s", name, names(on), note)
	switch {
	case len(wrongAccount) > 0:
		return fail(CheckLeafSeenByHub, leaf.Name, fmt.Sprintf("leaf %s bound to the wrong hub account on %s", name, names(wrongAccount)),
			"the leaf remote must authenticate as user leaf of account "+hubAccount+": run apply")
	case len(on) == 0:
		return fail(CheckLeafSeenByHub, leaf.Name, fmt.Sprintf("leaf %s is in no hub's /leafz%s", name, note), fixLeafLink(leaf))
	case len(on) > 1:
		return fail(CheckLeafSeenByHub, leaf.Name, ev+": two servers share the server_name "+name,
			"give every leaf a unique server_name (two leaves with one name evict each other)")
	}
	return pass(CheckLeafSeenByHub, leaf.Name, ev)
}

// checkLeafDomain: the leaf does not run JetStream under the hub's domain. If it does, its
// clients asking for the hub's domain silently reach the leaf: no server warns, and account
// info even reports the hub's domain.
func (r *round) checkLeafDomain(ctx context.Context, leaf *inventory.Host) Result {
	d := r.inv.Lattice.JSDomain
	v, err := r.varzOf(ctx, leaf)
	if err != nil {
		return fail(CheckHygieneDomain, leaf.Name, err.Error(), fixUnreachable(leaf))
	}
	got, js := v.Domain()
	switch {
	case !js:
		return pass(CheckHygieneDomain, leaf.Name, "the leaf runs no JetStream")
	case got == d:
		return fail(CheckHygieneDomain, leaf.Name,
			fmt.Sprintf("the leaf runs JetStream with domain %q, the hub's: its clients' requests for %q reach the leaf", got, d),
			fmt.Sprintf("give %s its own jetstream_domain (or none) in the inventory and apply; a domain change needs a restart", leaf.Name))
	case got == "":
		return pass(CheckHygieneDomain, leaf.Name, "the leaf runs JetStream without a domain")
	}
	return pass(CheckHygieneDomain, leaf.Name, fmt.Sprintf("the leaf runs JetStream with its own domain %q", got))
}

// checkStrayBucket: the leaf's own JetStream holds no wasmCloud lattice bucket. One appears
// when a wasmCloud host next to a JetStream leaf starts without WASMCLOUD_JS_DOMAIN and
// silently uses the leaf's JetStream: a split brain its ping reply does not show, since the
// reply's js_domain only echoes the host's configuration.
func (r *round) checkStrayBucket(ctx context.Context, leaf *inventory.Host) Result {
	m, err := r.monitor(leaf)
	if err != nil {
		return fail(CheckHygieneStrayBucket, leaf.Name, err.Error(), fixUnreachable(leaf))
	}
	j, err := m.jszStreams(ctx)
	if err != nil {
		return fail(CheckHygieneStrayBucket, leaf.Name, err.Error(), fixMonitor(leaf))
	}
	if j.Disabled {
		return pass(CheckHygieneStrayBucket, leaf.Name, "the leaf runs no JetStream")
	}
	var stray []string
	for _, a := range j.AccountDetails {
		for _, s := range a.Streams {
			if slices.Contains(r.latticeStreams(), s.Name) {
				stray = append(stray, fmt.Sprintf("%s (account %s)", s.Name, a.Name))
			}
		}
	}
	if len(stray) > 0 {
		return fail(CheckHygieneStrayBucket, leaf.Name,
			"lattice bucket in the leaf's own JetStream: "+strings.Join(stray, ", "),
			fmt.Sprintf("first delete the stray stream(s) from the leaf's own JetStream (asked without a domain on %s's client port; the lattice's buckets are on the hub), then apply: it sets WASMCLOUD_JS_DOMAIN=%s and restarts the hosts on this leaf, and its wasmCloud gate fails while a stray bucket remains",
				leaf.Name, r.inv.Lattice.JSDomain))
	}
	return pass(CheckHygieneStrayBucket, leaf.Name, fmt.Sprintf("no %s in the leaf's own JetStream", strings.Join(r.latticeStreams(), " or ")))
}

// latticeStreams are the streams behind the wasmCloud lattice buckets, which belong on the hub.
func (r *round) latticeStreams() []string {
	l := r.inv.Lattice.Name
	return []string{"KV_LATTICEDATA_" + l, "KV_CONFIGDATA_" + l}
}

func fixLeafLink(leaf *inventory.Host) string {
	if leaf.Leaf != nil && leaf.Leaf.Upstream != "" && leaf.Leaf.Upstream != inventory.UpstreamHub {
		return fmt.Sprintf("check %s's leaf remote (the URLs of its upstream %q, the leaf password) and its nats-server log; the leafnode port of a relay of that upstream must be reachable from %s, and the relay running (see its own checks)",
			leaf.Name, leaf.Leaf.Upstream, leaf.Name)
	}
	return fmt.Sprintf("check %s's leaf remote (hub URLs, the leaf password) and its nats-server log; the hubs' leafnode port must be reachable from %s", leaf.Name, leaf.Name)
}
