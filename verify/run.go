package verify

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/inventory"
)

// Run runs every check against the live lattice described by inv, reaching hosts through
// targets (one per inventory host; a host without a target fails its checks). It never
// returns early: each check ends within a few Options.Timeout steps, and failures are results.
// The wasmCloud checks gather ping replies for the whole Options.PingWait, so hosts that are not
// in the inventory are named too.
func Run(ctx context.Context, inv *inventory.Inventory, targets []Target, opts Options) Report {
	r := newRound(inv, targets, opts)
	defer r.close()
	return Report{Results: r.run(ctx, r.allTasks())}
}

// task is a unit of checking run in parallel with others; it returns its results.
type task func(ctx context.Context) []Result

func (r *round) run(ctx context.Context, tasks []task) []Result {
	var (
		mu  sync.Mutex
		out []Result
	)
	var g errgroup.Group
	g.SetLimit(r.opts.Parallelism)
	for _, t := range tasks {
		g.Go(func() error {
			res := t(ctx)
			mu.Lock()
			out = append(out, res...)
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	sortResults(out)
	return out
}

func one(f func(ctx context.Context) Result) task {
	return func(ctx context.Context) []Result { return []Result{f(ctx)} }
}

func (r *round) allTasks() []task {
	var ts []task
	ts = append(ts, r.hubTasks(r.inv.Hubs())...)
	ts = append(ts, r.metaTask(true))
	ts = append(ts, r.upstreamTasks()...)
	if len(r.leaves()) > 0 {
		ts = append(ts, one(r.probeBucket))
	}
	for _, l := range r.leaves() {
		ts = append(ts, r.leafTasks(l)...)
		ts = append(ts, r.hygieneTasks(l)...)
	}
	if ws := r.inv.HostsWithRole(inventory.RoleWasmcloud); len(ws) > 0 {
		ts = append(ts, r.wasmcloudTasks(ws, nil, true)...)
	}
	ts = append(ts, r.previousTasks()...)
	return ts
}

// hubTasks are the per-node hub checks (meta leader and peers come from metaTask).
func (r *round) hubTasks(hubs []*inventory.Host) []task {
	var ts []task
	for _, h := range hubs {
		ts = append(ts,
			one(func(ctx context.Context) Result { return r.checkHealthz(ctx, h) }),
			one(func(ctx context.Context) Result { return r.checkDomain(ctx, h) }),
		)
		if len(hubs) > 1 {
			ts = append(ts, one(func(ctx context.Context) Result { return r.checkRoutes(ctx, h) }))
		}
		ts = append(ts, one(func(ctx context.Context) Result { return r.checkRouteAuth(ctx, h) }))
	}
	return ts
}

// metaTask checks the meta leader on every hub node and, with peers, the leader's peers.
func (r *round) metaTask(peers bool) task {
	return func(ctx context.Context) []Result {
		prefetch(ctx, r, r.inv.Hubs(), (*monitor).jsz)
		mv := r.metaView(ctx)
		var out []Result
		for _, h := range r.inv.Hubs() {
			out = append(out, r.checkMetaLeader(ctx, h, mv))
		}
		if peers {
			out = append(out, r.checkPeersCurrent(ctx, mv))
		}
		return out
	}
}

// leafTasks check the leaf's link, from both ends, and the hub's domain through it.
func (r *round) leafTasks(leaf *inventory.Host) []task {
	return append([]task{
		one(func(ctx context.Context) Result { return r.checkLeafRemote(ctx, leaf) }),
		r.seenTask(leaf),
		func(ctx context.Context) []Result {
			reach, proof := r.checkDomainReach(ctx, leaf)
			return append([]Result{reach, proof}, r.withPath(ctx, leaf, reach)...)
		},
	}, r.relayBelowTasks(leaf)...)
}

func (r *round) hygieneTasks(leaf *inventory.Host) []task {
	return []task{
		one(func(ctx context.Context) Result { return r.checkLeafDomain(ctx, leaf) }),
		one(func(ctx context.Context) Result { return r.checkStrayBucket(ctx, leaf) }),
	}
}

// wasmcloudTasks check hosts; with membership, the whole lattice's ping against the inventory.
// expect, when set, lets the ping stop as soon as those host ids answered.
func (r *round) wasmcloudTasks(hosts []*inventory.Host, expect []string, membership bool) []task {
	var ts []task
	for _, h := range hosts {
		ts = append(ts, one(func(ctx context.Context) Result { return r.checkHostGet(ctx, h) }))
	}
	ts = append(ts, func(ctx context.Context) []Result {
		pv := r.pingLattice(ctx, expect)
		var out []Result
		for _, h := range hosts {
			out = append(out, r.checkPing(ctx, h, pv))
		}
		if membership {
			want := map[string]string{}
			for _, h := range r.inv.HostsWithRole(inventory.RoleWasmcloud) {
				if id, err := hostID(h); err == nil {
					want[id] = h.Name
				}
			}
			out = append(out, r.checkMembership(pv, want))
		}
		return out
	})
	return ts
}

// leaves are the hosts running a leaf-node nats-server, relays included.
func (r *round) leaves() []*inventory.Host {
	return r.inv.LeafServers()
}

// prefetch asks every host's monitor for one endpoint in parallel, so a check that reads
// several hosts in turn waits for the slowest host once, not for each one.
func prefetch[T any](ctx context.Context, r *round, hosts []*inventory.Host, endpoint func(*monitor, context.Context) (T, error)) {
	var wg sync.WaitGroup
	for _, h := range hosts {
		m, err := r.monitor(h)
		if err != nil {
			continue
		}
		wg.Go(func() { _, _ = endpoint(m, ctx) })
	}
	wg.Wait()
}
