package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// cutover changes the hub's JetStream domain, which nats-server cannot reload: preflight (every
// hub reachable, the cluster healthy on the domain it runs), swap every hub's config, stop
// every hub (lame duck), start every hub, wait for quorum and a meta leader on the new domain,
// then, with the alias, prove the old domain answers through every leaf. A failure before the
// stop changes nothing; a hub that does not come back healthy on the new domain puts every hub
// back on its previous config, again all together, gated on the old domain. Once the hub runs
// the new domain, later failures (a leaf or wasmCloud gate) leave it there, alias included: a
// rerun plans no cutover and converges the rest.
func (a *run) cutover(ctx context.Context, w plan.Wave) error {
	units := make([]*plan.Unit, 0, len(w.Batches[0]))
	for _, id := range w.Batches[0] {
		units = append(units, a.p.Unit(id))
	}
	a.emit(Event{Type: EventPhase, Phase: PhaseCutover, Wave: w.Name,
		Message: fmt.Sprintf("JetStream domain %s -> %s on %d hub nodes", a.p.Cutover.From, a.p.Cutover.To, len(units))})
	if err := a.cutoverPreflight(ctx, units); err != nil {
		return err
	}
	if err := a.snapshot(ctx); err != nil {
		return err
	}
	// From here on the cutover runs to its end: stopping halfway is the one state worse
	// than either side.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	staged := map[string][]Staged{}
	for _, u := range units {
		staged[u.ID()] = a.takeStaged(u)
	}
	err := a.allHubs(ctx, units, "swapping configs", func(u *plan.Unit) error {
		a.swapped(u, true)
		if len(staged[u.ID()]) == 0 {
			return nil
		}
		return a.hosts[u.Host].Swap(ctx, staged[u.ID()])
	})
	if err == nil {
		a.cutLeaves(w.Name)
		err = a.allHubs(ctx, units, "stopping every hub node (lame duck)", func(u *plan.Unit) error {
			return a.hosts[u.Host].Service(ctx, u.Service, OpStop)
		})
	}
	if err == nil {
		err = a.startAndGate(ctx, units, a.gate)
	}
	if err == nil {
		for _, u := range units {
			a.setResult(u, Applied, nil, time.Since(start))
		}
		a.emit(Event{Type: EventUnitDone, Wave: w.Name, Message: fmt.Sprintf("every hub runs domain %s", a.p.Cutover.To), Elapsed: time.Since(start).Seconds()})
		a.checkAlias(ctx)
		return nil
	}
	a.emit(Event{Type: EventUnitFailed, Wave: w.Name, Message: "cutover failed, putting every hub back: " + err.Error()})
	rerr := a.allHubs(ctx, units, "restoring previous configs", func(u *plan.Unit) error {
		a.swapped(u, false)
		if len(staged[u.ID()]) == 0 {
			return nil
		}
		return a.hosts[u.Host].Restore(ctx, staged[u.ID()])
	})
	if rerr == nil {
		rerr = a.allHubs(ctx, units, "stopping every hub node", func(u *plan.Unit) error {
			return a.hosts[u.Host].Service(ctx, u.Service, OpStop)
		})
	}
	if rerr == nil {
		for _, u := range units {
			u.DesiredDigest = "" // the previous config's digest is not known here; the gate decides
		}
		rerr = a.startAndGate(ctx, units, func(ctx context.Context, u *plan.Unit) error {
			return a.hubOn(ctx, u.Host, a.p.Cutover.From)
		})
	}
	result := RolledBack
	if rerr != nil {
		result = RollbackFailed
		err = fmt.Errorf("%v; rollback failed: %v", err, rerr)
	}
	for _, u := range units {
		a.setResult(u, result, err, time.Since(start))
	}
	return fmt.Errorf("%w: domain cutover: %v", ErrRolledBack, err)
}

// startAndGate starts every hub node, confirms each runs its config, and waits for quorum
// with gate.
func (a *run) startAndGate(ctx context.Context, units []*plan.Unit, gate func(context.Context, *plan.Unit) error) error {
	err := a.allHubs(ctx, units, "starting every hub node", func(u *plan.Unit) error {
		return a.hosts[u.Host].Service(ctx, u.Service, OpStart)
	})
	if err != nil {
		return err
	}
	err = a.allHubs(ctx, units, "confirming configs", func(u *plan.Unit) error {
		return a.confirmDigest(ctx, a.hosts[u.Host], u)
	})
	if err != nil {
		return err
	}
	return a.allHubs(ctx, units, "waiting for quorum and a meta leader", func(u *plan.Unit) error {
		return gate(ctx, u)
	})
}

// snapshot saves the lattice buckets before the cutover when ApplyOptions.SnapshotDir asks.
func (a *run) snapshot(ctx context.Context) error {
	dir := a.opts.SnapshotDir
	if dir == "" {
		return nil
	}
	a.phase(PhaseSnapshot, fmt.Sprintf("saving the lattice buckets (domain %s) to %s", a.p.Cutover.From, dir))
	files, err := a.gates.SnapshotBuckets(ctx, dir, a.expect(a.p.Cutover.From))
	if err != nil {
		return fmt.Errorf("cutover snapshot failed; nothing was changed: %w", err)
	}
	if len(files) == 0 {
		a.emit(Event{Type: EventWarning, Phase: PhaseSnapshot, Message: "no lattice bucket exists yet: nothing to save"})
	}
	for _, f := range files {
		a.emit(Event{Type: EventSnapshot, Phase: PhaseSnapshot, Message: "saved " + f})
	}
	return ctx.Err()
}

// preflightTimeout bounds the cutover's preflight: it proves a healthy hub, it does not wait
// for one.
const preflightTimeout = 30 * time.Second

// cutoverPreflight refuses the cutover unless the hub is healthy on the domain it runs now:
// every node answers, one meta leader, every peer current (one gate covers the cluster).
func (a *run) cutoverPreflight(ctx context.Context, units []*plan.Unit) error {
	from := a.p.Cutover.From
	if strings.Contains(from, ",") {
		// Split across domains, no quorum can be proven: the cutover is the repair.
		a.emit(Event{Type: EventWarning, Phase: PhasePreflight, Message: fmt.Sprintf("the hub nodes run several domains (%s): "+
			"the cluster is already split (routes only register peers of the same domain); "+
			"the cutover stops and starts every node to repair it", from)})
		return nil
	}
	a.phase(PhasePreflight, fmt.Sprintf("every hub node must be reachable and the cluster healthy on domain %s before the cutover", from))
	pctx, cancel := context.WithTimeout(ctx, min(preflightTimeout, a.gateTimeout(plan.RoleHub)))
	defer cancel()
	if err := a.hubOn(pctx, units[0].Host, from); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before the cutover; nothing was changed: %w", ctx.Err())
		}
		return fmt.Errorf("cutover preflight: the hub is not healthy on domain %s; nothing was changed: %w", from, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before the cutover; nothing was changed: %w", err)
	}
	return nil
}

// hubOn is the hub gate with the hub expected on domain.
func (a *run) hubOn(ctx context.Context, host, domain string) error {
	ctx, cancel := context.WithTimeout(ctx, a.gateTimeout(plan.RoleHub))
	defer cancel()
	return a.gates.HubNode(ctx, host, a.expect(domain))
}

// checkAlias proves, when the alias is on, that the old domain answers through every leaf:
// the leaves reconnected to the restarted hubs and learned the alias's subjects (interest in
// mappings crosses a leaf link only when the connection is set up). A failure is a
// warning, not a stop: clients on the old domain fail until they move, and the next waves
// move the wasmCloud hosts.
func (a *run) checkAlias(ctx context.Context) {
	if !a.p.Cutover.Alias {
		return
	}
	var leaves []*plan.Unit
	for _, u := range a.p.Units {
		if (u.Role == plan.RoleLeaf || u.Role == plan.RoleRelay) && u.Service == plan.ServiceNATS {
			leaves = append(leaves, u)
		}
	}
	if len(leaves) == 0 {
		return
	}
	from := a.p.Cutover.From
	err := a.allHubs(ctx, leaves, fmt.Sprintf("the old domain %s answers through every leaf (alias)", from), func(u *plan.Unit) error {
		gctx, cancel := context.WithTimeout(ctx, a.gateTimeout(u.Role))
		defer cancel()
		return a.gates.Leaf(gctx, u.Host, a.expect(from))
	})
	if err != nil {
		a.emit(Event{Type: EventWarning, Phase: PhaseCutover, Message: fmt.Sprintf("the alias for domain %s does not answer "+
			"everywhere; clients still on it fail until they move to %s: %v", from, a.p.Cutover.To, err)})
	}
}

// allHubs runs fn on every unit at once (hub nodes, or leaves) and joins the errors.
func (a *run) allHubs(ctx context.Context, units []*plan.Unit, what string, fn func(*plan.Unit) error) error {
	a.phase(PhaseCutover, what)
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for _, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(u); err != nil {
				mu.Lock()
				errs = append(errs, u.Host+": "+err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		return errors.New(what + ": " + strings.Join(errs, "; "))
	}
	return ctx.Err()
}
