package rollout

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// Options tune an apply. Zero values take the defaults noted.
type Options struct {
	Owner       LockOwner
	Parallelism int           // hosts worked on at once in lock, release, stage and unlock (default 32; the CLI passes the inventory's)
	GateTimeout time.Duration // how long one gate may take to pass where the plan's role sets none (default 2m)
	// ConfirmTimeout bounds waiting for /varz config_digest after a reload or start (default 30s).
	ConfirmTimeout time.Duration
	// Settle is how long the fleet is given to settle after the waves (and after a nats-server
	// restart, for the wasmCloud hosts on its machine) before a check that still fails counts
	// (default 30s; the inventory's rollout settle).
	Settle time.Duration
	// Events receives progress; it is called from several goroutines, one event at a time.
	Events func(Event)
	// SnapshotDir, when set, is where a domain cutover saves the lattice buckets, after its
	// preflight and before any hub stops. A failed snapshot stops the cutover with nothing
	// changed.
	SnapshotDir string
}

func (o *Options) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 32
	}
	if o.GateTimeout <= 0 {
		o.GateTimeout = 2 * time.Minute
	}
	if o.ConfirmTimeout <= 0 {
		o.ConfirmTimeout = 30 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 30 * time.Second
	}
}

// Target is what an apply works on: the plan, the probes it was observed with, and how to
// plan again from fresh facts (apply refuses the plan if the fresh one decides otherwise).
//
// Without a Plan, apply plans under its lock: it locks every host it can reach, observes
// them once, plans with Replan and shows the plan to Review before anything changes. The plan
// then needs no staleness check (nothing can change it between observe and apply), and every
// host is observed once instead of twice.
type Target struct {
	Plan   *plan.Plan
	Probes []plan.Probe
	Replan Replanner
	// Review, when apply plans under its lock, gets the plan before anything changes: an
	// error stops the apply there (nothing was changed; every lock is released). It is
	// called for a plan without changes too.
	Review func(*plan.Plan) error
}

// Replanner builds the plan from fresh facts: apply compares it with the plan it was given,
// or, planning under its lock, applies it.
type Replanner func(facts map[string]plan.Facts) (*plan.Plan, error)

// ErrStale is returned when what apply observes no longer matches the plan.
var ErrStale = errors.New("the plan is stale")

// ErrRolledBack is returned when a gate failed and the failing hosts were rolled back.
var ErrRolledBack = errors.New("rolled back")

// Apply carries out t.Plan over fleet, waiting on gates: the phases of phases.go, in order.
//
// Nothing is swapped until every host staged successfully, but for a first wave of first
// starts only, which may begin while the other hosts stage (stagePhase). A failure or Ctrl-C (ctx) stops
// at a safe point: the unit in progress finishes (or rolls back), staged files on hosts not
// reached are removed, and every lock is released.
func Apply(ctx context.Context, t Target, fleet Fleet, gates Gates, opts Options) (*Result, error) {
	opts.defaults()
	r := &run{p: t.Plan, probes: t.Probes, replan: t.Replan, review: t.Review, fleet: fleet, gates: gates, opts: opts,
		hosts: map[string]Host{}, staged: map[plan.UnitID][]Staged{}, supervised: map[plan.UnitID]bool{}, result: map[plan.UnitID]*UnitResult{}, unlinked: map[string]plan.WaveName{}, accepted: map[string][]ConfigDigest{}}
	if r.p == nil {
		if r.review == nil {
			return nil, errors.New("apply: no plan, and no review for the plan made under the lock")
		}
		r.p, r.underLock = &plan.Plan{}, true
	}
	err := r.runPhases(ctx)
	return r.report(), err
}

// run holds one apply's state, shared by its phases.
type run struct {
	p      *plan.Plan
	probes []plan.Probe
	replan Replanner
	review func(*plan.Plan) error
	// underLock: apply plans under its lock (Target.Review); p is empty until observed.
	underLock bool
	fleet     Fleet
	gates     Gates
	opts      Options

	// done is set by a phase after which nothing is left to do (no changes).
	done bool
	// err is the error that stopped the phases, for the cleanup's audit record.
	err error

	mu     sync.Mutex
	hosts  map[string]Host          // locked hosts
	staged map[plan.UnitID][]Staged // staged files not yet swapped
	// supervised holds the first starts the supervisor knows, held down, that no wave has
	// reached yet (OpSupervise): the cleanup undoes them.
	supervised map[plan.UnitID]bool
	result     map[plan.UnitID]*UnitResult
	verify     string
	verifyErr  string
	settled    float64 // seconds the final verify took to pass, or until its settle deadline
	verifyTook float64 // seconds the final verify's last round took
	// changed and hubChanged are when a service operation on a machine, and on any hub node,
	// last returned (Changes; settle.go).
	changed    map[string]time.Time
	hubChanged time.Time
	hubs       map[string]bool
	// unlinked holds the leaves whose links a change may have cut (a hub node's restart, the
	// leaf's own reload or restart) and that no leaf gate has proven since: leaf host -> the
	// wave that cut them (links.go).
	unlinked map[string]plan.WaveName
	// ports and desired are, per host, where its nats-server listens now and where it will
	// once its new config is in (expect.go).
	ports, desired map[string]plan.Ports
	// accepted are, per host, the configs the pre-check took as checked at observe, for
	// the host's digest cache (Closing.Digests).
	accepted map[string][]ConfigDigest
	// removedPeers are the meta group members the peers phase removed, and the old names of
	// hub nodes renamed in place, for the hubs' audit records.
	removedPeers []string
	// leaving are the old names of hub nodes being renamed in place, which the gates accept
	// in the meta group until apply removes them (Expect.Leaving).
	leaving map[string]bool
	// later are the hosts that stage while the first wave runs (stagePhase): laterDone
	// reports their staging and pre-check, laterStop cancels them.
	later     map[string]bool
	laterDone chan error
	laterStop context.CancelFunc
	evMu      sync.Mutex
}

func (r *run) emit(e Event) {
	if r.opts.Events == nil {
		return
	}
	e.Time = time.Now()
	r.evMu.Lock()
	defer r.evMu.Unlock()
	r.opts.Events(e)
}

func (r *run) phase(name PhaseName, msg string) {
	r.emit(Event{Type: EventPhase, Phase: name, Message: msg})
}

func (r *run) setResult(u *plan.Unit, out Outcome, err error, d time.Duration) {
	res := &UnitResult{Unit: u.ID(), Action: u.Action, Result: out, Duration: d.Seconds()}
	if err != nil {
		res.Error = err.Error()
	}
	r.mu.Lock()
	r.result[u.Key()] = res
	r.mu.Unlock()
}

// hasResult reports whether u's outcome is recorded.
func (r *run) hasResult(u *plan.Unit) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.result[u.Key()]
	return ok
}

func (r *run) report() *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{Verify: r.verify, VerifyError: r.verifyErr, Settle: r.settled, VerifySeconds: r.verifyTook}
	for _, u := range r.result {
		res.Units = append(res.Units, *u)
	}
	sort.Slice(res.Units, func(i, j int) bool { return res.Units[i].Unit < res.Units[j].Unit })
	return res
}
