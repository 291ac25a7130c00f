package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/plan"
)

// A phase is one step of an apply. The runner runs the phases in order and stops at the
// first error; between two phases it stops when ctx is canceled. A phase that has nothing to
// do (every phase after a plan without changes) says so in Skip.
type phase interface {
	Title() PhaseName
	Skip(r *run) bool
	Run(ctx context.Context, r *run) error
}

// phases is apply, in order. Adding a phase is adding a type here; its events carry its title.
var phases = []phase{
	lockPhase{},     // connect to and lock every host, or none
	observePhase{},  // observe under the lock: plan and review, or refuse a stale plan
	releasePhase{},  // upload, check and unpack pinned nats-server releases (release.go)
	stagePhase{},    // upload every changed file next to its destination
	precheckPhase{}, // each host's nats-server -t on its staged config
	peersPhase{},    // meta group members that no inventory hub is leave the group (peers.go)
	wavesPhase{},    // the waves, gated; the lattice buckets once the hub runs
	verifyPhase{},   // every check of `latticepush verify`
}

// cleanup runs after the phases, whatever happened, with a context that is not canceled:
// staged files that were never swapped in are removed, and every lock is released, leaving
// on each changed host its audit record (one round trip per host).
var cleanup = []phase{discardPhase{}, unlockPhase{}}

// runPhases runs every phase, then the cleanup, and fills in the units no phase reached.
func (r *run) runPhases(ctx context.Context) error {
	var err error
	for _, ph := range phases {
		if r.done || ph.Skip(r) {
			continue
		}
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("interrupted before %s: %w", ph.Title(), cerr)
			break
		}
		if err = ph.Run(ctx, r); err != nil {
			break
		}
	}
	r.err = err
	cctx := context.WithoutCancel(ctx)
	for _, ph := range cleanup {
		if !ph.Skip(r) {
			_ = ph.Run(cctx, r) // cleanup problems are reported as warnings by the phase
		}
	}
	for _, u := range r.p.Units {
		if r.hasResult(u) {
			continue
		}
		if u.Changes() && !r.done {
			r.setResult(u, NotReached, nil, 0)
		} else {
			r.setResult(u, Unchanged, nil, 0)
		}
	}
	return err
}

// lockPhase connects to and locks every reachable host of the plan, or none: a failure
// releases the locks taken. Planning under the lock, it tries every host: one it cannot
// connect to is left to the plan (unreachable, within the role's max_unreachable), one held
// by another run stops the apply.
type lockPhase struct{}

func (lockPhase) Title() PhaseName { return PhaseLock }
func (lockPhase) Skip(*run) bool   { return false }

func (lockPhase) Run(ctx context.Context, r *run) error {
	unreachable := map[string]bool{}
	for _, u := range r.p.Unreachable {
		unreachable[u.Host] = true
	}
	var names []string
	for _, pr := range r.probes {
		if !unreachable[pr.Host] {
			names = append(names, pr.Host)
		}
	}
	r.phase(PhaseLock, fmt.Sprintf("connecting to and locking %d hosts", len(names)))
	owner := r.opts.Owner
	if owner.Time.IsZero() {
		owner.Time = time.Now().UTC()
	}
	var mu sync.Mutex
	var errs []error
	// lock connects to name, waits until first is closed, and takes name's lock unless the
	// first host's lock failed (abort).
	abort := false
	lock := func(ctx context.Context, name string, first <-chan struct{}) {
		h, err := r.fleet.Host(ctx, name)
		if first != nil {
			<-first
			mu.Lock()
			stop := abort
			mu.Unlock()
			if stop {
				return
			}
		}
		if err != nil && r.underLock && ctx.Err() == nil {
			r.emit(Event{Type: EventWarning, Phase: PhaseLock, Host: name, Message: "cannot connect: " + plan.WithoutHost(name, err).Error()})
			return // unreachable: observe says so, and the plan decides
		}
		switch q, quick := h.(QuickLockHost); {
		case err != nil:
		case first == nil && quick:
			err = q.LockQuick(ctx, owner) // the first lock: every other host waits for it
		default:
			err = h.Lock(ctx, owner)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, plan.OnHost(name, err))
			return
		}
		r.hosts[name] = changeRecorder{Host: h, r: r, name: name}
		if t, ok := h.(interface{ LockTakenOver() string }); ok && t.LockTakenOver() != "" {
			r.emit(Event{Type: EventWarning, Phase: PhaseLock, Host: name, Message: t.LockTakenOver()})
		}
		if lh, ok := h.(LeftoverHost); ok {
			if left := lh.Leftovers(); len(left) > 0 {
				r.emit(Event{Type: EventWarning, Phase: PhaseLock, Host: name, Message: fmt.Sprintf(
					"removed %d temporary files an earlier apply left (it stopped while staging): %s", len(left), strings.Join(left, ", "))})
			}
		}
	}
	// The first host (by name) is locked alone, before the others: of two applies started at
	// once on the same hosts, the one that gets it goes on and the other stops there. Locking
	// all at once, each could get some hosts and both would be refused. The others connect
	// meanwhile; they lock once the first lock is held.
	sort.Strings(names)
	if len(names) == 0 {
		return ctx.Err()
	}
	firstLocked := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Parallelism)
	others := make(chan struct{})
	go func() {
		defer close(others)
		for _, name := range names[1:] {
			g.Go(func() error {
				lock(gctx, name, firstLocked)
				return nil
			})
		}
	}()
	lock(ctx, names[0], nil)
	mu.Lock()
	abort = len(errs) > 0
	mu.Unlock()
	close(firstLocked)
	<-others
	_ = g.Wait()
	if abort {
		return fmt.Errorf("cannot lock every host; nothing was changed:\n%w", errs[0])
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return fmt.Errorf("cannot lock every host; nothing was changed:\n%w", errors.Join(errs...))
	}
	return ctx.Err()
}

// observePhase re-observes every host under the lock and refuses the plan when the fresh one
// decides anything differently. The fresh plan carries the file contents, which a saved plan
// holds only as hashes, so apply goes on with it.
type observePhase struct{}

func (observePhase) Title() PhaseName { return PhaseObserve }
func (observePhase) Skip(*run) bool   { return false }

func (observePhase) Run(ctx context.Context, r *run) error {
	if r.underLock {
		return r.planUnderLock(ctx)
	}
	r.phase(PhaseObserve, "re-observing every host")
	facts := r.fleet.Observe(ctx, r.probes)
	fresh, err := r.replan(facts)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStale, err)
	}
	if why := plan.StaleReasons(r.p, fresh); len(why) > 0 {
		return fmt.Errorf("%w:\n  %s\nrun plan again", ErrStale, strings.Join(why, "\n  "))
	}
	r.take(fresh)
	return nil
}

// planUnderLock observes every host once, under the lock, plans and has the plan reviewed.
func (r *run) planUnderLock(ctx context.Context) error {
	r.phase(PhaseObserve, "observing every host under the lock")
	facts := r.fleet.Observe(ctx, r.probes)
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := r.replan(facts)
	if err != nil {
		return err
	}
	r.p = p
	if err := r.review(p); err != nil {
		r.done = true // nothing was changed: the cleanup only unlocks
		return err
	}
	r.take(p)
	return nil
}

// take makes p the plan the rest of the apply carries out: it reports a wave an earlier apply
// left half done, notes where each server listens, and ends the apply when p changes nothing.
func (r *run) take(p *plan.Plan) {
	r.p = p
	r.reportUnfinished()
	r.initPorts()
	if !p.HasChanges() {
		r.phase(PhaseDone, "no changes")
		r.done = true
	}
}

// verifyPhase runs every check of `latticepush verify` once the waves passed, again while one
// fails, until the settle deadline (settle.go). A check that still fails then does not fail
// the apply: it is reported (and the CLI exits 3).
type verifyPhase struct{}

func (verifyPhase) Title() PhaseName { return PhaseVerify }
func (verifyPhase) Skip(*run) bool   { return false }

func (verifyPhase) Run(ctx context.Context, r *run) error {
	r.phase(PhaseVerify, fmt.Sprintf("verifying the lattice (settling for up to %s)", r.opts.Settle))
	summary, err := r.settle(ctx)
	r.verify = summary
	if err != nil {
		r.verifyErr = err.Error()
	}
	return nil
}

// unlockPhase releases every lock taken, leaving each host's Closing first.
type unlockPhase struct{}

func (unlockPhase) Title() PhaseName { return "unlock" }
func (unlockPhase) Skip(*run) bool   { return false }

func (unlockPhase) Run(ctx context.Context, r *run) error {
	closing := r.closing()
	g := new(errgroup.Group)
	g.SetLimit(r.opts.Parallelism)
	for name, h := range r.hosts {
		g.Go(func() error {
			uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := h.Unlock(uctx, closing[name]); err != nil {
				r.emit(Event{Type: EventWarning, Host: name, Message: "unlock failed: " + err.Error()})
			}
			return nil
		})
	}
	return g.Wait()
}
