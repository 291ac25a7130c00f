package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
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
	// The meta layer names every stream. Each one's info comes from its leader: asked one by
	// one (a few at a time), a stream whose leader does not answer is named, where a listing
	// of infos would leave it out, or page through it again and again.
	var names []string
	nl := js.StreamNames(sctx)
	for name := range nl.Name() {
		names = append(names, name)
	}
	if err := nl.Err(); err != nil {
		return fail(CheckHubStreams, hub, fmt.Sprintf("listing the streams of domain %q: %v", r.inv.Lattice.JSDomain, err),
			"the domain answers but JetStream is degraded (meta quorum?): see the hub checks")
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var (
		mu    sync.Mutex
		short []string
		g     errgroup.Group
	)
	g.SetLimit(8)
	for _, name := range names {
		g.Go(func() error {
			ictx, cancel := r.step(ctx)
			defer cancel()
			var problem string
			// A replica is behind for a moment after its server reloaded or restarted: it is
			// asked again for a while before it counts.
			for asked := 0; ; asked++ {
				st, err := js.Stream(ictx, name)
				behind := false
				switch {
				case errors.Is(err, jetstream.ErrStreamNotFound):
					return nil // deleted since it was listed
				case err != nil:
					problem = fmt.Sprintf("%s: no answer from its leader (%v)", name, timedOut(err, r.opts.Timeout))
				default:
					problem, behind = replicaProblem(st.CachedInfo())
				}
				if !behind || asked >= catchUpAsks {
					break
				}
				select {
				case <-time.After(catchUpEvery):
				case <-ictx.Done():
				}
				if ictx.Err() != nil {
					break
				}
			}
			if problem != "" {
				mu.Lock()
				short = append(short, problem)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	n := len(names)
	if len(short) > 0 {
		sort.Strings(short)
		return fail(CheckHubStreams, hub, strings.Join(short, "; "),
			"a replica catches up on its own once its hub runs (see the hub checks); nats-server places a missing one on a hub that holds none of "+
				"the stream's, once one runs: after a hub was replaced, wait for the new node; a stream cannot ask for more replicas than the cluster has hubs")
	}
	return pass(CheckHubStreams, hub, fmt.Sprintf("domain %q: every one of its %d streams has every replica it asks for placed and current", r.inv.Lattice.JSDomain, n))
}

// A stream with a replica behind is asked again catchUpAsks times, catchUpEvery apart (2 s in
// all), before the replica counts as not current.
const (
	catchUpAsks  = 8
	catchUpEvery = 250 * time.Millisecond
)

// replicaProblem says what is wrong with a stream's replicas, or "": fewer placed (leader and
// replicas) than it asks for, or one not current (behind).
func replicaProblem(si *jetstream.StreamInfo) (problem string, lagging bool) {
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
		return fmt.Sprintf("%s: %d of %d replicas placed (%s)", si.Config.Name, len(placed), want, strings.Join(placed, ", ")), false
	case len(behind) > 0:
		return fmt.Sprintf("%s: the replica on %s not current", si.Config.Name, strings.Join(behind, ", ")), true
	}
	return "", false
}
