package plan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// cutover changes the hub's JetStream domain (design §7): preflight (every hub healthy), swap
// every hub's config, stop every hub (lame duck), start every hub, wait for quorum. A failure
// before the stop changes nothing; a hub that does not come back healthy on the new domain
// puts every hub back on its previous config, again all together.
func (a *applier) cutover(ctx context.Context, w Wave) error {
	units := make([]*Unit, 0, len(w.Batches[0]))
	for _, id := range w.Batches[0] {
		units = append(units, a.p.Unit(id))
	}
	a.emit(Event{Type: "phase", Phase: "cutover", Wave: w.Name,
		Message: fmt.Sprintf("JetStream domain %s -> %s on %d hub nodes", a.p.Cutover.From, a.p.Cutover.To, len(units))})
	a.phase("preflight", "every hub node must be healthy before the cutover")
	for _, u := range units {
		if err := a.gate(ctx, u); err != nil {
			return fmt.Errorf("cutover preflight: %s is not healthy, nothing was changed: %w", u.Host, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before the cutover; nothing was changed: %w", err)
	}
	// From here on the cutover runs to its end: stopping halfway is the one state worse
	// than either side.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	staged := map[string][]Staged{}
	for _, u := range units {
		staged[u.ID()] = a.takeStaged(u)
	}
	err := a.allHubs(ctx, units, "swapping configs", func(u *Unit) error {
		if len(staged[u.ID()]) == 0 {
			return nil
		}
		return a.hosts[u.Host].Swap(ctx, staged[u.ID()])
	})
	if err == nil {
		err = a.allHubs(ctx, units, "stopping every hub node (lame duck)", func(u *Unit) error {
			return a.hosts[u.Host].Service(ctx, u.Service, OpStop)
		})
	}
	if err == nil {
		err = a.startAndGate(ctx, units)
	}
	if err == nil {
		for _, u := range units {
			a.setResult(u, "applied", nil, time.Since(start))
		}
		a.emit(Event{Type: "unit_done", Wave: w.Name, Message: fmt.Sprintf("every hub runs domain %s", a.p.Cutover.To), Elapsed: time.Since(start).Seconds()})
		return nil
	}
	a.emit(Event{Type: "unit_failed", Wave: w.Name, Message: "cutover failed, putting every hub back: " + err.Error()})
	rerr := a.allHubs(ctx, units, "restoring previous configs", func(u *Unit) error {
		if len(staged[u.ID()]) == 0 {
			return nil
		}
		return a.hosts[u.Host].Restore(ctx, staged[u.ID()])
	})
	if rerr == nil {
		rerr = a.allHubs(ctx, units, "stopping every hub node", func(u *Unit) error {
			return a.hosts[u.Host].Service(ctx, u.Service, OpStop)
		})
	}
	if rerr == nil {
		for _, u := range units {
			u.DesiredDigest = "" // the previous config's digest is not known here; the gate decides
		}
		rerr = a.startAndGate(ctx, units)
	}
	result := "rolled back"
	if rerr != nil {
		result = "rollback failed"
		err = fmt.Errorf("%v; rollback failed: %v", err, rerr)
	}
	for _, u := range units {
		a.setResult(u, result, err, time.Since(start))
	}
	return fmt.Errorf("%w: domain cutover: %v", ErrRolledBack, err)
}

// startAndGate starts every hub node, confirms each runs its config, and waits for quorum.
func (a *applier) startAndGate(ctx context.Context, units []*Unit) error {
	err := a.allHubs(ctx, units, "starting every hub node", func(u *Unit) error {
		return a.hosts[u.Host].Service(ctx, u.Service, OpStart)
	})
	if err != nil {
		return err
	}
	err = a.allHubs(ctx, units, "confirming configs", func(u *Unit) error {
		return a.confirmDigest(ctx, a.hosts[u.Host], u)
	})
	if err != nil {
		return err
	}
	return a.allHubs(ctx, units, "waiting for quorum and a meta leader", func(u *Unit) error {
		return a.gate(ctx, u)
	})
}

// allHubs runs fn on every unit at once and joins the errors.
func (a *applier) allHubs(ctx context.Context, units []*Unit, what string, fn func(*Unit) error) error {
	a.phase("cutover", what)
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
