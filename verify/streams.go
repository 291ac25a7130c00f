package verify

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// checkStreamReplicas: every stream of the lattice account on the hub's domain has as many
// replicas placed as it asks for, each current (as the stream's leader sees it). A stream whose
// replica was on a node removed from the meta group (a hub replaced) has one fewer until
// nats-server places it on another hub, the new node once it joins, and that replica then
// catches up: until both happened the stream survives one loss less than it should, and no
// other check says so before it (a node's /healthz counts only the replicas the node already
// holds).
func (r *round) checkStreamReplicas(ctx context.Context) Result {
	nc, hub, err := r.hubSide(ctx)
	if err != nil {
		return fail(CheckHubStreams, "", err.Error(), "bring the hub nodes up (see the hub checks)")
	}
	js, err := jetstream.NewWithDomain(nc, r.inv.Lattice.JSDomain, jetstream.WithDefaultTimeout(r.opts.Timeout))
	if err != nil {
		return fail(CheckHubStreams, hub, err.Error(), "")
	}
	sctx, cancel := r.step(ctx)
	defer cancel()
	// The meta layer names every stream; a stream whose leader does not answer is left out of
	// the list of infos without an error.
	var names []string
	nl := js.StreamNames(sctx)
	for name := range nl.Name() {
		names = append(names, name)
	}
	if err := nl.Err(); err != nil {
		return fail(CheckHubStreams, hub, fmt.Sprintf("listing the streams of domain %q: %v", r.inv.Lattice.JSDomain, err),
			"the domain answers but JetStream is degraded (meta quorum?): see the hub checks")
	}
	var short []string
	n := 0
	l := js.ListStreams(sctx)
	for si := range l.Info() {
		n++
		names = slices.DeleteFunc(names, func(s string) bool { return s == si.Config.Name })
		var placed, behind []string
		if c := si.Cluster; c != nil {
			if c.Leader != "" {
				placed = append(placed, c.Leader)
			}
			for _, p := range c.Replicas {
				placed = append(placed, p.Name)
				if !p.Current || p.Offline {
					behind = append(behind, p.Name)
				}
			}
		}
		switch want := si.Config.Replicas; {
		case len(placed) < want:
			short = append(short, fmt.Sprintf("%s: %d of %d replicas placed (%s)", si.Config.Name, len(placed), want, strings.Join(placed, ", ")))
		case len(behind) > 0:
			short = append(short, fmt.Sprintf("%s: the replica on %s not current", si.Config.Name, strings.Join(behind, ", ")))
		}
	}
	if err := l.Err(); err != nil {
		return fail(CheckHubStreams, hub, fmt.Sprintf("listing the streams of domain %q: %v", r.inv.Lattice.JSDomain, err),
			"the domain answers but JetStream is degraded (meta quorum?): see the hub checks")
	}
	for _, name := range names {
		short = append(short, name+": no answer from its leader")
	}
	if len(short) > 0 {
		sort.Strings(short)
		return fail(CheckHubStreams, hub, strings.Join(short, "; "),
			"a replica catches up on its own once its hub runs (see the hub checks); nats-server places a missing one on a hub that holds none of "+
				"the stream's, once one runs: after a hub was replaced, wait for the new node; a stream cannot ask for more replicas than the cluster has hubs")
	}
	return pass(CheckHubStreams, hub, fmt.Sprintf("domain %q: every one of its %d streams has every replica it asks for placed and current", r.inv.Lattice.JSDomain, n))
}
