package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// runWaves runs every wave in order. It stops at the first wave whose failures exceed its
// max_failures, or at a batch boundary when ctx is canceled.
func (a *applier) runWaves(ctx context.Context) error {
	bucketsDone := false
	for _, w := range a.p.Waves {
		if w.Name != "hub" && w.Name != "cutover" && w.Name != "leaf-bridge" && !bucketsDone && a.p.EnsureBuckets {
			if err := a.ensureBuckets(ctx); err != nil {
				return err
			}
			bucketsDone = true
		}
		var err error
		if w.Name == "cutover" {
			err = a.cutover(ctx, w)
		} else {
			err = a.rollingWave(ctx, w)
		}
		if err != nil {
			return err
		}
		if w.Name == "hub" || w.Name == "cutover" {
			if err := a.ensureBuckets(ctx); err != nil {
				return err
			}
			bucketsDone = true
		}
	}
	return nil
}

func (a *applier) ensureBuckets(ctx context.Context) error {
	a.phase("buckets", fmt.Sprintf("ensuring the lattice buckets on the hub (%d replicas)", a.p.BucketReplicas))
	bctx, cancel := context.WithTimeout(ctx, a.opts.GateTimeout)
	defer cancel()
	if err := a.gates.EnsureBuckets(bctx, a.p.BucketReplicas); err != nil {
		return fmt.Errorf("ensuring the lattice buckets on the hub: %w", err)
	}
	return nil
}

// rollingWave runs a wave batch by batch; every unit of a batch runs at once and is gated.
func (a *applier) rollingWave(ctx context.Context, w Wave) error {
	a.emit(Event{Type: "phase", Phase: "wave", Wave: w.Name, Message: batchesText(w)})
	failures := 0
	var failed []string
	for i, batch := range w.Batches {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted before %s batch %d: %w", w.Name, i+1, err)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, id := range batch {
			u := a.p.Unit(id)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := a.applyUnit(ctx, w, u); err != nil {
					mu.Lock()
					failures++
					failed = append(failed, fmt.Sprintf("%s: %v", u.ID(), WithoutHost(u.Host, err)))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if failures > w.MaxFailures {
			return fmt.Errorf("%w: the %s wave stopped after %d failure(s) (max_failures = %d); hosts not yet reached were left untouched:\n  %s",
				ErrRolledBack, w.Name, failures, w.MaxFailures, strings.Join(failed, "\n  "))
		}
	}
	for _, id := range w.GateOnly {
		u := a.p.Unit(id)
		start := time.Now()
		a.emit(Event{Type: "wait", Wave: w.Name, Unit: id, Message: "waiting for the gate"})
		if err := a.gate(context.WithoutCancel(ctx), u); err != nil {
			a.setResult(u, "failed", err, time.Since(start))
			return fmt.Errorf("%s: gate after the cutover: %w", id, WithoutHost(u.Host, err))
		}
		a.setResult(u, "unchanged", nil, time.Since(start))
	}
	if failures > 0 {
		a.emit(Event{Type: "warning", Wave: w.Name, Message: fmt.Sprintf("%d unit(s) rolled back within max_failures = %d", failures, w.MaxFailures)})
	}
	return nil
}

// applyUnit swaps one unit's files in, reloads or restarts it, and waits for its gate. When
// any step fails it rolls the unit back and returns the error. It runs to completion even
// when ctx is canceled: a unit is never left between its old and its new state.
func (a *applier) applyUnit(ctx context.Context, w Wave, u *Unit) error {
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	a.emit(Event{Type: "unit_start", Wave: w.Name, Unit: u.ID(), Action: u.Action})
	h := a.hosts[u.Host]
	staged := a.takeStaged(u)
	err := a.change(ctx, h, u, staged)
	if err == nil {
		a.emit(Event{Type: "wait", Wave: w.Name, Unit: u.ID(), Message: "waiting for the " + u.Role + " gate"})
		err = a.gate(ctx, u)
	}
	if err == nil {
		a.setResult(u, "applied", nil, time.Since(start))
		a.emit(Event{Type: "unit_done", Wave: w.Name, Unit: u.ID(), Action: u.Action, Elapsed: time.Since(start).Seconds()})
		return nil
	}
	a.emit(Event{Type: "unit_failed", Wave: w.Name, Unit: u.ID(), Action: u.Action, Message: err.Error()})
	if rerr := a.rollback(ctx, h, u, staged); rerr != nil {
		a.setResult(u, "rollback failed", fmt.Errorf("%v; rollback: %v", err, rerr), time.Since(start))
		a.emit(Event{Type: "unit_failed", Wave: w.Name, Unit: u.ID(), Message: "rollback failed: " + rerr.Error()})
		return fmt.Errorf("%v; rollback failed: %v", err, rerr)
	}
	a.setResult(u, "rolled back", err, time.Since(start))
	msg := "restored the previous files; healthy again"
	if u.Role == "wasmcloud" {
		msg = "restored the previous files; the host answers again"
	}
	a.emit(Event{Type: "rolled_back", Wave: w.Name, Unit: u.ID(), Message: msg})
	return err
}

// change swaps the files in and performs the unit's service action.
func (a *applier) change(ctx context.Context, h Host, u *Unit, staged []Staged) error {
	if len(staged) > 0 {
		if err := h.Swap(ctx, staged); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	if u.DaemonReload {
		if err := h.Service(ctx, u.Service, OpDaemonReload); err != nil {
			return err
		}
	}
	if u.Enable {
		if err := h.Service(ctx, u.Service, OpEnable); err != nil {
			return err
		}
	}
	switch u.Action {
	case Reload:
		if err := h.Service(ctx, u.Service, OpReload); err != nil {
			return err
		}
		return a.confirmDigest(ctx, h, u)
	case Restart, Cutover:
		op := OpRestart
		if !u.WasRunning {
			op = OpStart
		}
		if err := h.Service(ctx, u.Service, op); err != nil {
			return err
		}
		if u.Service == ServiceNATS {
			return a.confirmDigest(ctx, h, u)
		}
	}
	return nil
}

// confirmDigest waits until the running nats-server reports the desired config_digest: a
// failed reload exits 0 and only logs (nats.md §0.3), so this is the only proof.
func (a *applier) confirmDigest(ctx context.Context, h Host, u *Unit) error {
	if u.DesiredDigest == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.ConfirmTimeout)
	defer cancel()
	var last string
	var lastErr error
	for {
		d, err := h.RunningDigest(ctx, u.MonitorAddr)
		if err == nil && d == u.DesiredDigest {
			return nil
		}
		last, lastErr = d, err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("the new config was not confirmed: /varz unreachable: %v", lastErr)
			}
			return fmt.Errorf("the new config was not confirmed: running config_digest %s, want %s (the server log says why)", last, u.DesiredDigest)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// gate waits for the unit's health gate.
func (a *applier) gate(ctx context.Context, u *Unit) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.GateTimeout)
	defer cancel()
	switch u.Role {
	case "hub":
		return a.gates.HubNode(ctx, u.Host)
	case "leaf":
		return a.gates.Leaf(ctx, u.Host)
	case "wasmcloud":
		return a.gates.Wasmcloud(ctx, u.Host)
	}
	return fmt.Errorf("no gate for role %q", u.Role)
}

// rollback restores a unit's previous files and state and confirms it is healthy again.
func (a *applier) rollback(ctx context.Context, h Host, u *Unit, staged []Staged) error {
	var errs []error
	if len(staged) > 0 {
		if err := h.Restore(ctx, staged); err != nil {
			errs = append(errs, fmt.Errorf("restore: %w", err))
		}
	}
	if u.DaemonReload {
		if err := h.Service(ctx, u.Service, OpDaemonReload); err != nil {
			errs = append(errs, err)
		}
	}
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
	if u.Action == Reload {
		op = OpReload // the server still runs the old config, or takes it back by reload
	}
	if err := h.Service(ctx, u.Service, op); err != nil {
		errs = append(errs, err)
	} else if err := a.gateRestored(ctx, u); err != nil {
		errs = append(errs, fmt.Errorf("not healthy after rollback: %w", err))
	}
	return errors.Join(errs...)
}

// gateRestored checks a rolled-back unit. Hub and leaf gates hold for the previous config too;
// a wasmCloud host back on its previous environment cannot pass the new settings' gate, so it
// only has to answer again.
func (a *applier) gateRestored(ctx context.Context, u *Unit) error {
	if u.Role != "wasmcloud" {
		return a.gate(ctx, u)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.GateTimeout)
	defer cancel()
	return a.gates.WasmcloudAnswers(ctx, u.Host)
}

func batchesText(w Wave) string {
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
