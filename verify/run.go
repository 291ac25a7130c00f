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
	return RunReusing(ctx, inv, targets, opts, nil)
}

// RunReusing is Run that takes the passing results in reuse (a gate's, still valid: see
// Proven) instead of checking again: a group of checks runs only when one of its results is
// not in reuse. Reused results say so (Reused).
func RunReusing(ctx context.Context, inv *inventory.Inventory, targets []Target, opts Options, reuse []Result) Report {
	r := newRound(inv, targets, opts)
	defer r.close()
	r.take(reuse)
	return Report{Results: r.run(ctx, r.allTasks())}
}

// take adds the passing results of reuse to the round's reuse set, marked Reused.
func (r *round) take(reuse []Result) {
	for _, res := range reuse {
		if res.OK && !res.Warning {
			res.Reused = true
			r.reuse[keyOf(res)] = res
		}
	}
}

// task is a unit of checking run in parallel with others; it returns its results. keys name
// them ahead (check and host) when that is known: a task whose every key has a result to reuse
// is not run.
type task struct {
	keys []key
	run  func(ctx context.Context) []Result
}

// key names one result: a check on a host ("" for a lattice-wide check).
type key struct{ check, host string }

func keyOf(r Result) key {
	if r.Check == CheckHubPeersCurrent || r.Check == CheckHubStreams { // lattice-wide; its host names the hub asked
		return key{r.Check, ""}
	}
	return key{r.Check, r.Host}
}

func (r *round) run(ctx context.Context, tasks []task) []Result {
	var (
		mu  sync.Mutex
		out []Result
	)
	var g errgroup.Group
	g.SetLimit(r.opts.Parallelism)
	for _, t := range tasks {
		if res, ok := r.reused(t); ok {
			out = append(out, res...)
			continue
		}
		g.Go(func() error {
			res := t.run(ctx)
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

// reused returns t's results from the round's reuse set when it holds every one of them.
func (r *round) reused(t task) ([]Result, bool) {
	if len(t.keys) == 0 || len(r.reuse) == 0 {
		return nil, false
	}
	out := make([]Result, 0, len(t.keys))
	for _, k := range t.keys {
		res, ok := r.reuse[k]
		if !ok {
			return nil, false
		}
		out = append(out, res)
	}
	return out, true
}

// one is a task of one check on host.
func one(check, host string, f func(ctx context.Context) Result) task {
	return task{keys: []key{{check, host}}, run: func(ctx context.Context) []Result { return []Result{f(ctx)} }}
}

func (r *round) allTasks() []task {
	var ts []task
	ws := r.inv.HostsWithRole(inventory.RoleWasmcloud)
	if len(ws) > 0 {
		// The wasmCloud census is the longest task (it gathers answers for a while after the
		// last inventory host's): it starts first, and the other checks run meanwhile.
		ts = append(ts, r.pingTask(ws, nil, true))
	}
	ts = append(ts, r.hubTasks(r.inv.Hubs())...)
	ts = append(ts, r.metaTask(true))
	ts = append(ts, one(CheckHubStreams, "", r.checkStreamReplicas))
	ts = append(ts, r.upstreamTasks()...)
	if len(r.leaves()) > 0 {
		ts = append(ts, task{run: func(ctx context.Context) []Result { return []Result{r.probeBucket(ctx)} }})
	}
	for _, l := range r.leaves() {
		ts = append(ts, r.leafTasks(l)...)
		ts = append(ts, r.hygieneTasks(l)...)
	}
	for _, h := range ws {
		ts = append(ts, r.hostGetTask(h))
	}
	ts = append(ts, r.previousTasks()...)
	return append(ts, r.userTasks()...)
}

// hubTasks are the per-node hub checks (meta leader and peers come from metaTask).
func (r *round) hubTasks(hubs []*inventory.Host) []task {
	var ts []task
	for _, h := range hubs {
		ts = append(ts,
			one(CheckHubHealthz, h.Name, func(ctx context.Context) Result { return r.checkHealthz(ctx, h) }),
			one(CheckHubDomain, h.Name, func(ctx context.Context) Result { return r.checkDomain(ctx, h) }),
		)
		if len(hubs) > 1 {
			ts = append(ts, one(CheckHubRoutes, h.Name, func(ctx context.Context) Result { return r.checkRoutes(ctx, h) }))
		}
		ts = append(ts, one(CheckHubRouteAuth, h.Name, func(ctx context.Context) Result { return r.checkRouteAuth(ctx, h) }))
		if r.inv.Lattice.TLS != nil {
			ts = append(ts, one(CheckHubTLS, h.Name, func(ctx context.Context) Result { return r.checkHubTLS(ctx, h) }))
		}
	}
	return ts
}

// metaTask checks the meta leader on every hub node and, with peers, the leader's peers.
func (r *round) metaTask(peers bool) task {
	var keys []key
	for _, h := range r.inv.Hubs() {
		keys = append(keys, key{CheckHubMetaLeader, h.Name})
	}
	if peers {
		keys = append(keys, key{CheckHubPeersCurrent, ""})
	}
	return task{keys: keys, run: func(ctx context.Context) []Result {
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
	}}
}

// leafTasks check the leaf's link, from both ends, and the hub's domain through it.
func (r *round) leafTasks(leaf *inventory.Host) []task {
	var ts []task
	if r.inv.Lattice.TLS != nil {
		ts = append(ts, one(CheckLeafTLS, leaf.Name, func(ctx context.Context) Result { return r.checkLeafTLS(ctx, leaf) }))
	}
	domain := []key{{CheckDomainReach, leaf.Name}, {CheckDomainHubAnswers, leaf.Name}}
	if _, ok := r.behindRelays(leaf); ok {
		domain = append(domain, key{CheckDomainPath, leaf.Name})
	}
	ts = append(ts,
		one(CheckLeafRemote, leaf.Name, func(ctx context.Context) Result { return r.checkLeafRemote(ctx, leaf) }),
		r.seenTask(leaf),
		task{keys: domain, run: func(ctx context.Context) []Result {
			reach, proof := r.checkDomainReach(ctx, leaf)
			return append([]Result{reach, proof}, r.withPath(ctx, leaf, reach)...)
		}},
	)
	return append(ts, r.relayBelowTasks(leaf)...)
}

func (r *round) hygieneTasks(leaf *inventory.Host) []task {
	return []task{
		one(CheckHygieneDomain, leaf.Name, func(ctx context.Context) Result { return r.checkLeafDomain(ctx, leaf) }),
		one(CheckHygieneStrayBucket, leaf.Name, func(ctx context.Context) Result { return r.checkStrayBucket(ctx, leaf) }),
	}
}

// wasmcloudTasks check hosts; with membership, the whole lattice's ping against the inventory.
// expect, when set, lets the ping stop as soon as those host ids answered.
func (r *round) wasmcloudTasks(hosts []*inventory.Host, expect []string, membership bool) []task {
	var ts []task
	for _, h := range hosts {
		ts = append(ts, r.hostGetTask(h))
	}
	return append(ts, r.pingTask(hosts, expect, membership))
}

// hostGetTask asks h's wasmCloud host for its inventory (host.get) from the hub side.
func (r *round) hostGetTask(h *inventory.Host) task {
	return one(CheckWasmcloudHostGet, h.Name, func(ctx context.Context) Result { return r.checkHostGet(ctx, h) })
}

// pingTask pings the lattice once and checks each host's answer and, with membership, who
// answered.
func (r *round) pingTask(hosts []*inventory.Host, expect []string, membership bool) task {
	var keys []key
	for _, h := range hosts {
		keys = append(keys, key{CheckWasmcloudPing, h.Name})
	}
	if membership {
		keys = append(keys, key{CheckWasmcloudMembership, ""})
	}
	return task{keys: keys, run: func(ctx context.Context) []Result {
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
	}}
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
