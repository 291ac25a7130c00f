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

// A fleet settles after a change: leaves reconnect to the hub node they were not on, a
// wasmCloud host reconnects to its leaf, a stream elects its leader. A check run right after
// the last gate may catch that in progress, and a healthy rollout would be reported as
// failed. So the final verify runs again while a check fails, until the settle deadline; only
// what still fails then is reported.

// settle runs the final verify until every check passes or Options.Settle has passed since
// it began, and records how long that took.
func (r *run) settle(ctx context.Context) (string, error) {
	start := time.Now()
	deadline := start.Add(r.opts.Settle)
	wait := 500 * time.Millisecond
	rounds := 0
	for {
		rounds++
		roundStart := time.Now()
		summary, err := r.gates.Verify(ctx, r.expect(""), r.changes())
		own := time.Since(roundStart)
		took := time.Since(start)
		if err == nil || ctx.Err() != nil || !time.Now().Before(deadline) {
			r.mu.Lock()
			r.settled, r.verifyTook = took.Seconds(), own.Seconds()
			r.mu.Unlock()
			msg := fmt.Sprintf("every check passed after %.1fs (%d verify round(s), the last %.2fs)", took.Seconds(), rounds, own.Seconds())
			if err != nil {
				msg = fmt.Sprintf("still failing after %.1fs (%d verify round(s), the last %.2fs, settle %s): %v", took.Seconds(), rounds, own.Seconds(), r.opts.Settle, err)
			}
			r.emit(Event{Type: EventSettled, Phase: PhaseVerify, Message: msg, Elapsed: took.Seconds()})
			return summary, err
		}
		if rounds == 1 {
			r.emit(Event{Type: EventWait, Phase: PhaseVerify, Message: fmt.Sprintf("waiting up to %s for the fleet to settle: %v",
				time.Until(deadline).Round(100*time.Millisecond), err)})
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(wait, time.Until(deadline))): // the last round runs at the deadline
		}
		wait = min(2*wait, 4*time.Second)
	}
}

// The final verify may take a gate's result instead of checking again, when nothing that
// could change it happened after the gate observed it: no service operation on that machine
// and none on any hub node (every check depends on the hubs it is seen from or answered by).
// Every service operation goes through changeRecorder, so the run knows when each machine
// last changed.

// changeRecorder is a locked Host that records when each service operation on it returned.
type changeRecorder struct {
	Host
	r    *run
	name string
}

func (h changeRecorder) Service(ctx context.Context, svc string, op ServiceOp) error {
	if op != OpSupervise && op != OpDaemonReload { // neither starts nor stops a process
		defer h.r.changedNow(h.name)
	}
	return h.Host.Service(ctx, svc, op)
}

func (h changeRecorder) Adopt(ctx context.Context, svc string, from plan.Foreign) error {
	defer h.r.changedNow(h.name)
	return h.Host.Adopt(ctx, svc, from)
}

func (h changeRecorder) GiveBack(ctx context.Context, svc string, from plan.Foreign) error {
	defer h.r.changedNow(h.name)
	return h.Host.GiveBack(ctx, svc, from)
}

// changedNow records that a service operation on host just returned.
func (r *run) changedNow(host string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed == nil {
		r.changed = map[string]time.Time{}
	}
	if r.hubs == nil {
		r.hubs = map[string]bool{}
		for _, u := range r.p.Units {
			if u.Role == plan.RoleHub {
				r.hubs[u.Host] = true
			}
		}
	}
	r.changed[host] = now
	if r.hubs[host] {
		r.hubChanged = now
	}
}

// hubChangedNow records that something on every hub node changed just now (the lattice
// buckets were made).
func (r *run) hubChangedNow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hubChanged = time.Now()
}

// changes returns a copy of what changed when, for the final verify.
func (r *run) changes() Changes {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := Changes{Hosts: make(map[string]time.Time, len(r.changed)), Hub: r.hubChanged}
	for h, t := range r.changed {
		c.Hosts[h] = t
	}
	return c
}

// awaitWasmcloud waits, after a batch restarted nats-servers, until the wasmCloud hosts that
// ran on those machines answer again, for up to Options.Settle: a host reconnects to its leaf
// (or to a restarted hub node) seconds after the server comes back, and the next batch or the
// final verify would otherwise find it missing. A host this apply changes later is left to its
// own gate. A host still silent at the deadline is a warning; the final verify judges it.
func (a *run) awaitWasmcloud(ctx context.Context, w plan.Wave, batch []string) {
	var hosts []string
	for _, id := range batch {
		u := a.p.Unit(id)
		if u == nil || u.Service != plan.ServiceNATS || !u.WasRunning || (u.Action != plan.Restart && u.Action != plan.Cutover) {
			continue
		}
		if wc := a.p.Unit(plan.UnitID{Host: u.Host, Service: plan.ServiceWasmcloud}.String()); wc != nil && wc.WasRunning && !wc.Changes() {
			hosts = append(hosts, u.Host)
		}
	}
	if len(hosts) == 0 {
		return
	}
	sort.Strings(hosts)
	a.emit(Event{Type: EventWait, Wave: w.Name, Message: "waiting for the wasmCloud hosts on " + strings.Join(hosts, ", ") + " to answer again"})
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, a.opts.Settle)
	defer cancel()
	var mu sync.Mutex
	var silent []string
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			if err := a.gates.WasmcloudAnswers(ctx, h, a.expect("")); err != nil {
				mu.Lock()
				silent = append(silent, fmt.Sprintf("%s: %v", h, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if errors.Is(ctx.Err(), context.Canceled) {
		return // interrupted: the wave stops before its next batch
	}
	if len(silent) > 0 {
		sort.Strings(silent)
		a.emit(Event{Type: EventWarning, Wave: w.Name, Elapsed: took.Seconds(), Message: fmt.Sprintf("after %.1fs (settle %s) not answering again: %s",
			took.Seconds(), a.opts.Settle, strings.Join(silent, "; "))})
		return
	}
	a.emit(Event{Type: EventWaited, Wave: w.Name, Elapsed: took.Seconds(), Message: fmt.Sprintf("wasmCloud hosts on %s answering again after %.1fs",
		strings.Join(hosts, ", "), took.Seconds())})
}
