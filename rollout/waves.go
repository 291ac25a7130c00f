package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/internal/poll"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/unit"
)

// wavesPhase runs every wave in order. It stops at the first wave whose failures exceed its
// max_failures, or at a batch boundary when ctx is canceled. The lattice buckets are ensured
// on the hub as soon as the hub runs its new config: after the hub (or cutover) wave, or
// before the first wave that needs them when the hub does not change. Leaves and relays do
// not use them, so those waves go on while the buckets are made; a wave that uses them
// (wasmCloud) or changes the hub again waits for them, and so does the end of the phase.
type wavesPhase struct{}

func (wavesPhase) Title() PhaseName { return PhaseWave }
func (wavesPhase) Skip(*run) bool   { return false }

func (wavesPhase) Run(ctx context.Context, a *run) error {
	var buckets chan error // the buckets being made; nil when none are
	stopBuckets := func() {}
	waitBuckets := func() error {
		if buckets == nil {
			return nil
		}
		err := <-buckets
		buckets = nil
		stopBuckets()
		return err
	}
	defer func() { stopBuckets() }()
	startBuckets := func(next *plan.Wave) {
		buckets = make(chan error, 1)
		msg := fmt.Sprintf("ensuring the lattice buckets on the hub (%d replicas)", a.p.BucketReplicas)
		if next != nil && next.Name.GoesOnWhileBucketsAreMade() {
			msg += fmt.Sprintf("; the %s wave goes on meanwhile", next.Name)
		}
		a.phase(PhaseBuckets, msg)
		bctx, cancel := context.WithCancel(ctx)
		stopBuckets = cancel
		go func() { buckets <- a.ensureBuckets(bctx) }()
	}
	bucketsStarted := !a.p.EnsureBuckets
	for i, w := range a.p.Waves {
		if i > 0 {
			// The hosts that staged while the first wave ran (stagePhase) must be done.
			if err := a.joinLaterStaging(ctx, false); err != nil {
				stopBuckets()
				_ = waitBuckets()
				if cerr := ctx.Err(); cerr != nil {
					return fmt.Errorf("interrupted before the %s wave: %w", w.Name, cerr)
				}
				return err
			}
		}
		if !bucketsStarted && !w.Name.ChangesHubs() && w.Name != plan.WaveLeafBridge {
			startBuckets(&a.p.Waves[i])
			bucketsStarted = true
		}
		if !w.Name.GoesOnWhileBucketsAreMade() {
			if err := waitBuckets(); err != nil {
				return err
			}
		}
		var err error
		if w.Name == plan.WaveCutover {
			err = a.cutover(ctx, w)
		} else {
			err = a.rollingWave(ctx, w)
		}
		if err != nil {
			stopBuckets() // the wave failed: the apply stops here
			_ = waitBuckets()
			return err
		}
		if w.Name.ChangesHubs() && a.p.EnsureBuckets {
			var next *plan.Wave
			if i+1 < len(a.p.Waves) {
				next = &a.p.Waves[i+1]
			}
			startBuckets(next)
			bucketsStarted = true
		}
	}
	return waitBuckets()
}

func (a *run) ensureBuckets(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, a.gateTimeout(plan.RoleHub))
	defer cancel()
	made, err := a.gates.EnsureBuckets(bctx, a.p.BucketReplicas, a.expect(""))
	if made {
		a.hubChangedNow() // new streams: what a gate saw of the hub before is not proof now
	}
	if err != nil {
		return fmt.Errorf("ensuring the lattice buckets on the hub: %w", err)
	}
	return nil
}

// rollingWave runs a wave batch by batch; every unit of a batch runs at once and is gated.
func (a *run) rollingWave(ctx context.Context, w plan.Wave) error {
	a.emit(Event{Type: EventPhase, Phase: PhaseWave, Wave: w.Name, Message: batchesText(w)})
	failures := 0
	var failed []string
	// Machines whose leaf link did not come back are not touched: they count as failures.
	down := a.awaitLinks(ctx, w)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before the %s wave: %w", w.Name, err)
	}
	for _, batch := range w.Batches {
		for _, id := range batch {
			u := a.p.Unit(id)
			if err, ok := down[u.Host]; ok {
				failures++
				failed = append(failed, fmt.Sprintf("%s: not changed: the leaf link on %s is not back: %v", id, u.Host, err))
				a.setResult(u, NotReached, fmt.Errorf("not changed: the leaf link on %s is not back: %w", u.Host, err), 0)
			}
		}
	}
	if failures > w.MaxFailures {
		return fmt.Errorf("the %s wave did not start: %d unit(s) are on machines whose leaf link did not come back within the gate timeout (max_failures = %d); "+
			"nothing in this wave was changed. Check those leaves (their log, `latticepush verify`), then plan and apply again:\n  %s",
			w.Name, failures, w.MaxFailures, strings.Join(failed, "\n  "))
	}
	for i, batch := range w.Batches {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted before %s batch %d: %w", w.Name, i+1, err)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var ran []string
		var hubLost error // a hub node lost during the batch stops the wave, whatever max_failures says
		// Every first start of the batch is registered before any unit runs: one that got to
		// its start before the next was registered would not wait for it.
		together := newStartTogether()
		readies := map[string]func(){}
		for _, id := range batch {
			u := a.p.Unit(id)
			if _, ok := down[u.Host]; ok {
				continue
			}
			ran = append(ran, id)
			readies[id] = together.add(firstStart(u) && u.Role == plan.RoleHub)
		}
		for _, id := range ran {
			u, ready := a.p.Unit(id), readies[id]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := a.applyUnit(ctx, w, u, ready); err != nil {
					mu.Lock()
					if errors.Is(err, ErrHubLost) && hubLost == nil {
						hubLost = err
					}
					failures++
					failed = append(failed, fmt.Sprintf("%s: %v", u.ID(), plan.WithoutHost(u.Host, err)))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if hubLost != nil {
			return fmt.Errorf("the %s wave stopped: %w", w.Name, hubLost)
		}
		if failures > w.MaxFailures {
			return fmt.Errorf("%w: the %s wave stopped after %d failure(s) (max_failures = %d); hosts not yet reached were left untouched:\n  %s",
				ErrRolledBack, w.Name, failures, w.MaxFailures, strings.Join(failed, "\n  "))
		}
		a.awaitWasmcloud(ctx, w, ran)
	}
	for _, id := range w.GateOnly {
		u := a.p.Unit(id)
		start := time.Now()
		a.emit(Event{Type: EventWait, Wave: w.Name, Unit: id, Message: "waiting for the gate"})
		if err := a.gate(context.WithoutCancel(ctx), u); err != nil {
			a.setResult(u, Failed, err, time.Since(start))
			return fmt.Errorf("%s: gate after the cutover: %w", id, plan.WithoutHost(u.Host, err))
		}
		a.setResult(u, Unchanged, nil, time.Since(start))
	}
	if failures > 0 {
		a.emit(Event{Type: EventWarning, Wave: w.Name, Message: fmt.Sprintf("%d unit(s) rolled back or left unchanged within max_failures = %d", failures, w.MaxFailures)})
	}
	return nil
}

// applyUnit swaps one unit's files in, reloads or restarts it, and waits for its gate. When
// any step fails it rolls the unit back and returns the error. It runs to completion even
// when ctx is canceled: a unit is never left between its old and its new state.
func (a *run) applyUnit(ctx context.Context, w plan.Wave, u *plan.Unit, ready func()) error {
	ctx = context.WithoutCancel(ctx)
	defer ready() // a unit that failed before its start lets the others of its batch go on
	start := time.Now()
	a.emit(Event{Type: EventUnitStart, Wave: w.Name, Unit: u.ID(), Action: u.Action})
	h := a.hosts[u.Host]
	staged := a.takeStaged(u)
	switch {
	case u.Role == plan.RoleLeaf || u.Role == plan.RoleRelay:
		a.cutLeaf(u.Host, w.Name)
	case u.Role == plan.RoleHub && u.Service == plan.ServiceNATS && u.WasRunning && (u.Action == plan.Restart || u.Action == plan.Cutover || u.Action == plan.Adopt):
		a.cutLeaves(w.Name)
	}
	if u.LeavesMetaGroup != "" {
		a.setLeaving(u.LeavesMetaGroup, true) // its gate accepts the old name in the group
	}
	err := a.change(ctx, h, u, staged, ready)
	gateFailed := false
	if err == nil {
		a.emit(Event{Type: EventWait, Wave: w.Name, Unit: u.ID(), Message: "waiting for the " + string(u.Role) + " gate"})
		err = a.gate(ctx, u)
		gateFailed = err != nil
	}
	if u.LeavesMetaGroup != "" {
		if err == nil {
			a.leaveMetaGroup(ctx, w, u)
		}
		a.setLeaving(u.LeavesMetaGroup, false)
	}
	if gateFailed && u.Role == plan.RoleHub && u.Service == plan.ServiceNATS {
		if lost := a.hubLost(ctx, h, u, w, err); lost != nil {
			a.setResult(u, Failed, lost, time.Since(start))
			a.emit(Event{Type: EventUnitFailed, Wave: w.Name, Unit: u.ID(), Action: u.Action, Message: lost.Error()})
			return lost
		}
	}
	if err == nil {
		if u.Upgrade != nil {
			a.pruneReleases(ctx, h, u)
		}
		a.removeOldCerts(ctx, h, u)
		a.removeOldCAs(ctx, h, u)
		a.setResult(u, Applied, nil, time.Since(start))
		a.emit(Event{Type: EventUnitDone, Wave: w.Name, Unit: u.ID(), Action: u.Action, Elapsed: time.Since(start).Seconds()})
		return nil
	}
	a.emit(Event{Type: EventUnitFailed, Wave: w.Name, Unit: u.ID(), Action: u.Action, Message: err.Error()})
	if rerr := a.rollback(ctx, h, u, staged); rerr != nil {
		a.setResult(u, RollbackFailed, fmt.Errorf("%v; rollback: %v", err, rerr), time.Since(start))
		a.emit(Event{Type: EventUnitFailed, Wave: w.Name, Unit: u.ID(), Message: "rollback failed: " + rerr.Error()})
		return fmt.Errorf("%v; rollback failed: %v", err, rerr)
	}
	a.setResult(u, RolledBack, err, time.Since(start))
	_, rollback := gatesOf(u)
	msg := "restored the previous files; " + rollback.Passed()
	if u.Upgrade != nil && u.Upgrade.Previous != "" {
		msg = "restored the previous files and " + u.Upgrade.Previous + "; " + rollback.Passed()
	}
	if u.Adopt != nil {
		msg = fmt.Sprintf("gave the service back: %s %s runs again as before", u.Adopt.Supervisor, u.Adopt.Service)
		if !u.Adopt.Running {
			msg = fmt.Sprintf("gave the service back: %s %s is in place again, stopped as before", u.Adopt.Supervisor, u.Adopt.Service)
		}
	}
	a.emit(Event{Type: EventRolledBack, Wave: w.Name, Unit: u.ID(), Message: msg})
	return err
}

// change swaps the files in and performs the unit's service action. A first start waits, once
// its service is enabled, until every first start of its batch is (ready).
func (a *run) change(ctx context.Context, h Host, u *plan.Unit, staged []Staged, ready func()) error {
	links, err := a.linksBefore(ctx, h, u) // before anything changes: a leaf switching its login
	if err != nil {
		return err
	}
	if len(staged) > 0 {
		if err := h.Swap(ctx, staged); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	if u.Upgrade != nil {
		if err := a.switchRelease(ctx, h, u); err != nil {
			return err
		}
	}
	a.swapped(u, true) // from its reload or restart on, the server listens where desired
	if u.DaemonReload {
		if err := h.Service(ctx, u.Service, OpDaemonReload); err != nil {
			return err
		}
	}
	if u.Adopt != nil {
		// The managed definition is in place (and its config checked in precheck): only
		// now is the foreign service stopped and put aside.
		if err := h.Adopt(ctx, u.Service, *u.Adopt); err != nil {
			return fmt.Errorf("taking over from %s %s: %w", u.Adopt.Supervisor, u.Adopt.Service, err)
		}
	}
	if u.Enable {
		if err := h.Service(ctx, u.Service, OpEnable); err != nil {
			return err
		}
	}
	ready()
	switch u.Action {
	case plan.Start, plan.Adopt:
		if err := h.Service(ctx, u.Service, OpStart); err != nil {
			return err
		}
		if err := a.confirmDigest(ctx, h, u); err != nil || u.Upgrade == nil {
			return err
		}
		return a.confirmVersion(ctx, h, u)
	case plan.Reload:
		if err := h.Service(ctx, u.Service, OpReload); err != nil {
			return err
		}
		if err := a.confirmDigest(ctx, h, u); err != nil {
			return err
		}
		if err := a.confirmRelogin(ctx, h, u, links); err != nil {
			return err
		}
		return a.confirmCert(ctx, h, u)
	case plan.Restart, plan.Cutover:
		op := OpRestart
		if !u.WasRunning {
			op = OpStart
		}
		if err := h.Service(ctx, u.Service, op); err != nil {
			return err
		}
		if err := a.confirmDigest(ctx, h, u); err != nil || u.Upgrade == nil {
			return err
		}
		return a.confirmVersion(ctx, h, u)
	}
	return nil
}

// confirmDigest waits until the running nats-server reports the desired config_digest: a
// `nats-server --signal reload` exits 0 even when the reload fails and only logs the error,
// so this is the only proof.
func (a *run) confirmDigest(ctx context.Context, h Host, u *plan.Unit) error {
	if u.DesiredDigest == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.ConfirmTimeout)
	defer cancel()
	var last string
	var lastErr error
	// A reload takes effect within milliseconds: the first looks come quickly.
	wait := poll.New(10*time.Millisecond, 200*time.Millisecond)
	for {
		d, err := h.RunningDigest(ctx, u.MonitorAddr)
		if err == nil && d == u.DesiredDigest {
			return nil
		}
		last, lastErr = d, err
		if !wait.Wait(ctx) {
			if lastErr != nil {
				return fmt.Errorf("the new config was not confirmed: /varz unreachable: %v", lastErr)
			}
			return fmt.Errorf("the new config was not confirmed: running config_digest %s, want %s (the server log says why)", last, u.DesiredDigest)
		}
	}
}

// gatesOf returns the checks a unit's kind waits for after a change and after a rollback.
func gatesOf(u *plan.Unit) (apply, rollback unit.Gate) {
	if k := unit.Named(u.Service); k != nil {
		return k.Gates(u.Role)
	}
	return unit.GateRunning, unit.GateRunning
}

// gate waits for the unit's health gate.
func (a *run) gate(ctx context.Context, u *plan.Unit) error {
	apply, _ := gatesOf(u)
	return a.check(ctx, u, apply)
}

// gateTimeout is how long one gate of a unit of role may take: the role's gate_timeout, else
// Options.GateTimeout.
func (a *run) gateTimeout(role plan.Role) time.Duration {
	if s := a.p.GateTimeouts[role]; s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	return a.opts.GateTimeout
}

// check waits for one gate on u's host, bounded by the gate timeout of u's role; a gate that
// ran out of it says so, and where to give it longer.
func (a *run) check(ctx context.Context, u *plan.Unit, g unit.Gate) error {
	limit := a.gateTimeout(u.Role)
	gctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := a.checkOnce(gctx, u, g)
	if err != nil && ctx.Err() == nil && errors.Is(gctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (the gate timeout is %s; a role's rollout { gate_timeout = \"10m\" } gives its units longer)", err, limit)
	}
	return err
}

func (a *run) checkOnce(ctx context.Context, u *plan.Unit, g unit.Gate) error {
	switch g {
	case unit.GateHubNode:
		return a.gates.HubNode(ctx, u.Host, a.expect(""))
	case unit.GateLeaf:
		err := a.gates.Leaf(ctx, u.Host, a.expect(""))
		if err == nil {
			a.linked(u.Host)
		}
		return err
	case unit.GateWasmcloud:
		return a.gates.Wasmcloud(ctx, u.Host, a.expect(""))
	case unit.GateWasmcloudAnswers:
		return a.gates.WasmcloudAnswers(ctx, u.Host, a.expect(""))
	case unit.GateRunning:
		return a.gates.Running(ctx, u.Host, u.Service)
	}
	return fmt.Errorf("%s: no check named %q", u.ID(), g)
}

// rollback restores a unit's previous files and state and confirms it is healthy again.
func (a *run) rollback(ctx context.Context, h Host, u *plan.Unit, staged []Staged) error {
	if u.Adopt != nil {
		return a.giveBack(ctx, h, u, staged)
	}
	errs := a.restoreFiles(ctx, h, u, staged)
	if !u.WasRunning {
		op := OpStop
		if u.Enable {
			op = OpDisable // a first start: no supervisor may keep trying to run it
		}
		if err := h.Service(ctx, u.Service, op); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	op := OpRestart
	if u.Action == plan.Reload {
		op = OpReload // the server still runs the old config, or takes it back by reload
	}
	if err := h.Service(ctx, u.Service, op); err != nil {
		errs = append(errs, err)
	} else if err := a.gateRestored(ctx, u); err != nil {
		errs = append(errs, fmt.Errorf("not healthy after rollback: %w", err))
	}
	return errors.Join(errs...)
}

// restoreFiles puts a unit's previous files back (new ones removed), its binary path back on
// the previous release, and has the supervisor read its restored definition.
func (a *run) restoreFiles(ctx context.Context, h Host, u *plan.Unit, staged []Staged) []error {
	var errs []error
	if len(staged) > 0 {
		if err := h.Restore(ctx, staged); err != nil {
			errs = append(errs, fmt.Errorf("restore: %w", err))
		}
	}
	if u.Upgrade != nil {
		if err := a.switchBack(ctx, h, u); err != nil {
			errs = append(errs, err)
		}
	}
	a.swapped(u, false)
	if u.DaemonReload {
		if err := h.Service(ctx, u.Service, OpDaemonReload); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// giveBack rolls an adoption back: the managed service stopped (gracefully) while its
// definition is still in place, its files restored (new ones removed), then the foreign
// service put back as it was and, when it ran, checked to keep running.
func (a *run) giveBack(ctx context.Context, h Host, u *plan.Unit, staged []Staged) error {
	var errs []error
	if err := h.Service(ctx, u.Service, OpStop); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, a.restoreFiles(ctx, h, u, staged)...)
	if err := h.GiveBack(ctx, u.Service, *u.Adopt); err != nil {
		return errors.Join(append(errs, fmt.Errorf("giving %s %s back: %w", u.Adopt.Supervisor, u.Adopt.Service, err))...)
	}
	if len(errs) == 0 && u.Adopt.Running {
		// The foreign server is back as it was, which need not be what the inventory's
		// checks expect (a hand-made server is no member of the hub cluster): it must run
		// and keep running, under its own service.
		gctx, cancel := context.WithTimeout(ctx, a.gateTimeout(u.Role))
		defer cancel()
		if err := a.gates.Running(gctx, u.Host, u.Adopt.Service); err != nil {
			errs = append(errs, fmt.Errorf("%s %s not running after rollback: %w", u.Adopt.Supervisor, u.Adopt.Service, err))
		}
	}
	return errors.Join(errs...)
}

// gateRestored checks a rolled-back unit with its kind's rollback gate: hub and leaf gates
// hold for the previous config too; a wasmCloud host back on its previous environment cannot
// pass the new settings' gate, so it only has to answer again.
func (a *run) gateRestored(ctx context.Context, u *plan.Unit) error {
	_, rollback := gatesOf(u)
	return a.check(ctx, u, rollback)
}

func batchesText(w plan.Wave) string {
	n := 0
	for _, b := range w.Batches {
		n += len(b)
	}
	s := fmt.Sprintf("%d unit(s) in %d batch(es)", n, len(w.Batches))
	if len(w.GateOnly) > 0 {
		s += fmt.Sprintf(", then %d gate(s)", len(w.GateOnly))
	}
	return s
}

// startTogether holds the first starts of a new hub cluster's nodes until each is enabled, so
// that they start at the same moment. A supervisor can take seconds to pick a newly enabled
// service up (runsvdir rescans its directory every five seconds), each host at its own
// moment; nodes started that far apart miss the early election a JetStream cluster without
// state holds at start, and wait for the next one (4 to 9 s later). A first start protects no
// client, so waiting for the slowest enable costs nothing else. Leaves and wasmCloud hosts
// elect nothing: each starts as soon as its supervisor knows it.
type startTogether struct {
	wg sync.WaitGroup
}

func newStartTogether() *startTogether { return &startTogether{} }

// add registers one unit of the batch and returns its ready: for a first start, ready marks
// it enabled and waits for the others; for any other unit it does nothing. Ready may be
// called more than once; only the first call counts.
func (t *startTogether) add(first bool) func() {
	if !first {
		return func() {}
	}
	t.wg.Add(1)
	var once sync.Once
	return func() {
		once.Do(t.wg.Done)
		t.wg.Wait()
	}
}
