package plan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ApplyOptions tune an apply. Zero values take the defaults noted.
type ApplyOptions struct {
	Owner       LockOwner
	Parallelism int           // hosts worked on at once in connect, lock and stage (default 32)
	GateTimeout time.Duration // how long one gate may take to pass (default 2m)
	// ConfirmTimeout bounds waiting for /varz config_digest after a reload or start (default 30s).
	ConfirmTimeout time.Duration
	// Events receives progress; it is called from several goroutines, one event at a time.
	Events func(Event)
	// SnapshotDir, when set, is where a domain cutover saves the lattice buckets, after its
	// preflight and before any hub stops (Gates must implement Snapshotter). A failed snapshot
	// stops the cutover with nothing changed.
	SnapshotDir string
}

func (o *ApplyOptions) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 32
	}
	if o.GateTimeout <= 0 {
		o.GateTimeout = 2 * time.Minute
	}
	if o.ConfirmTimeout <= 0 {
		o.ConfirmTimeout = 30 * time.Second
	}
}

// Event is one line of apply's progress.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // phase, unit_start, unit_done, unit_failed, rolled_back, wait, warning, snapshot
	Phase   string    `json:"phase,omitempty"`
	Wave    string    `json:"wave,omitempty"`
	Unit    string    `json:"unit,omitempty"`
	Action  Action    `json:"action,omitempty"`
	Message string    `json:"message,omitempty"`
	Elapsed float64   `json:"elapsed_seconds,omitempty"`
}

// UnitResult is how one unit ended.
type UnitResult struct {
	Unit     string  `json:"unit"`
	Action   Action  `json:"action"`
	Result   string  `json:"result"` // applied, unchanged, rolled back, rollback failed, not reached
	Error    string  `json:"error,omitempty"`
	Duration float64 `json:"seconds"`
}

// Result is what an apply did.
type Result struct {
	Units []UnitResult `json:"units"`
	// Verify is the final verification's summary; VerifyError is set when a check failed.
	Verify      string `json:"verify,omitempty"`
	VerifyError string `json:"verify_error,omitempty"`
}

// Replanner rebuilds the plan from fresh facts; apply compares it with the plan it was given.
type Replanner func(facts map[string]Facts) (*Plan, error)

// ErrStale is returned when what apply observes no longer matches the plan.
var ErrStale = errors.New("the plan is stale")

// ErrRolledBack is returned when a gate failed and the failing hosts were rolled back.
var ErrRolledBack = errors.New("rolled back")

// Apply carries out p: lock every host, re-observe and refuse a stale plan, stage every
// file, pre-check configs with each host's nats-server, then run the waves with gates,
// rolling a host back when its gate fails, then verify, record and unlock.
//
// Nothing is swapped until every host staged successfully. A failure or Ctrl-C (ctx) stops
// at a safe point: the unit in progress finishes (or rolls back), staged files on hosts not
// reached are removed, and every lock is released.
func Apply(ctx context.Context, p *Plan, probes []Probe, replan Replanner, fleet Fleet, gates Gates, opts ApplyOptions) (*Result, error) {
	opts.defaults()
	a := &applier{p: p, fleet: fleet, gates: gates, opts: opts, hosts: map[string]Host{},
		staged: map[string][]Staged{}, result: map[string]*UnitResult{}}
	// Work that must finish even when the operator interrupts: unlocking, cleaning up.
	cleanupCtx := context.WithoutCancel(ctx)
	defer a.unlockAll(cleanupCtx)

	if err := a.lock(ctx, probes); err != nil {
		return a.report(), err
	}
	a.phase("observe", "re-observing every host")
	facts := fleet.Observe(ctx, probes)
	fresh, err := replan(facts)
	if err != nil {
		return a.report(), fmt.Errorf("%w: %v", ErrStale, err)
	}
	if why := StaleReasons(p, fresh); len(why) > 0 {
		return a.report(), fmt.Errorf("%w:\n  %s\nrun plan again", ErrStale, strings.Join(why, "\n  "))
	}
	// The fresh plan makes the same decisions (checked above) and carries the file contents,
	// which a saved plan holds only as hashes.
	a.p, p = fresh, fresh
	if !p.HasChanges() {
		a.phase("done", "no changes")
		for _, u := range p.Units {
			a.setResult(u, "unchanged", nil, 0)
		}
		return a.report(), nil
	}
	if err := a.stage(ctx); err != nil {
		a.discardAll(cleanupCtx)
		return a.report(), err
	}
	if err := a.precheck(ctx); err != nil {
		a.discardAll(cleanupCtx)
		return a.report(), err
	}
	runErr := a.runWaves(ctx)
	a.discardAll(cleanupCtx)
	if runErr == nil {
		a.phase("verify", "verifying the lattice")
		summary, verr := gates.Verify(ctx)
		a.verify = summary
		if verr != nil {
			a.verifyErr = verr.Error()
		}
	}
	a.audit(cleanupCtx, runErr)
	for _, u := range p.Units {
		if _, ok := a.result[u.ID()]; !ok {
			if u.Changes() {
				a.setResult(u, "not reached", nil, 0)
			} else {
				a.setResult(u, "unchanged", nil, 0)
			}
		}
	}
	return a.report(), runErr
}

// applier holds one apply's state.
type applier struct {
	p     *Plan
	fleet Fleet
	gates Gates
	opts  ApplyOptions

	mu        sync.Mutex
	hosts     map[string]Host     // locked hosts
	staged    map[string][]Staged // unit ID -> staged files not yet swapped
	result    map[string]*UnitResult
	verify    string
	verifyErr string
	evMu      sync.Mutex
}

func (a *applier) emit(e Event) {
	if a.opts.Events == nil {
		return
	}
	e.Time = time.Now()
	a.evMu.Lock()
	defer a.evMu.Unlock()
	a.opts.Events(e)
}

func (a *applier) phase(name, msg string) { a.emit(Event{Type: "phase", Phase: name, Message: msg}) }

func (a *applier) setResult(u *Unit, result string, err error, d time.Duration) {
	r := &UnitResult{Unit: u.ID(), Action: u.Action, Result: result, Duration: d.Seconds()}
	if err != nil {
		r.Error = err.Error()
	}
	a.mu.Lock()
	a.result[u.ID()] = r
	a.mu.Unlock()
}

func (a *applier) report() *Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	res := &Result{Verify: a.verify, VerifyError: a.verifyErr}
	for _, r := range a.result {
		res.Units = append(res.Units, *r)
	}
	sort.Slice(res.Units, func(i, j int) bool { return res.Units[i].Unit < res.Units[j].Unit })
	return res
}

// hostNames lists the hosts apply works on: every reachable host in the plan.
func (a *applier) hostNames(probes []Probe) []string {
	unreachable := map[string]bool{}
	for _, u := range a.p.Unreachable {
		unreachable[u.Host] = true
	}
	var names []string
	for _, pr := range probes {
		if !unreachable[pr.Host] {
			names = append(names, pr.Host)
		}
	}
	return names
}

// lock connects to and locks every host, or none: a failure releases the locks taken.
func (a *applier) lock(ctx context.Context, probes []Probe) error {
	names := a.hostNames(probes)
	a.phase("lock", fmt.Sprintf("connecting to and locking %d hosts", len(names)))
	owner := a.opts.Owner
	if owner.Time.IsZero() {
		owner.Time = time.Now().UTC()
	}
	var mu sync.Mutex
	var errs []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Parallelism)
	for _, name := range names {
		g.Go(func() error {
			h, err := a.fleet.Host(gctx, name)
			if err == nil {
				err = h.Lock(gctx, owner)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, OnHost(name, err))
				return nil
			}
			a.hosts[name] = h
			return nil
		})
	}
	_ = g.Wait()
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return fmt.Errorf("cannot lock every host; nothing was changed:\n%w", errors.Join(errs...))
	}
	return ctx.Err()
}

func (a *applier) unlockAll(ctx context.Context) {
	var wg sync.WaitGroup
	for name, h := range a.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := h.Unlock(uctx); err != nil {
				a.emit(Event{Type: "warning", Unit: name, Message: "unlock failed: " + err.Error()})
			}
		}()
	}
	wg.Wait()
}
