package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latticepush/latticepush/internal/poll"
	"github.com/latticepush/latticepush/inventory"
)

// GateError is a gate that did not pass before its deadline. Failed are the failing results
// of the last attempt.
type GateError struct {
	Unit   string // "hub node hub-2", "leaf edge-1", "wasmCloud host edge-1"
	Waited time.Duration
	Failed []Result
	// Cause is set when the gate could not be evaluated at all (unknown host, ctx canceled).
	Cause error
}

func (e *GateError) Error() string {
	if len(e.Failed) == 0 {
		return fmt.Sprintf("gate for %s: %v", e.Unit, e.Cause)
	}
	parts := make([]string, 0, len(e.Failed))
	for _, f := range e.Failed {
		p := f.Check
		if f.Host != "" {
			p += " on " + f.Host
		}
		parts = append(parts, p+": "+f.Evidence)
	}
	return fmt.Sprintf("gate for %s not passed after %s: %s", e.Unit, e.Waited.Round(time.Millisecond), strings.Join(parts, "; "))
}

func (e *GateError) Unwrap() error { return e.Cause }

// HubNodeGate waits after a change to hub node host until the hub cluster is healthy again
// (the hub wave's gate): /healthz 200 and the lattice's domain on every hub node, a route from
// every node to every other one (distinct remote_name in /routez), one meta leader known to
// every node, and every peer current as seen by that leader. The whole cluster is checked,
// since one node's restart or reload (of its routes or their authorization) can leave another
// behind.
//
// Like every gate it polls with backoff until the checks pass, ctx ends, or Options.GateTimeout
// has passed (unset: 60s, only when ctx has no deadline); it returns the last attempt's results, and a *GateError unless they all passed.
func HubNodeGate(ctx context.Context, inv *inventory.Inventory, targets []Target, host string, opts Options) ([]Result, error) {
	h, err := unit(inv, host, inventory.RoleHub)
	if err != nil {
		return nil, &GateError{Unit: "hub node " + host, Cause: err}
	}
	return gate(ctx, inv, targets, opts, "hub node "+h.Name, func(r *round) []task {
		var ts []task
		for _, n := range inv.Hubs() {
			ts = append(ts,
				one(CheckHubHealthz, n.Name, func(ctx context.Context) Result { return r.checkHealthz(ctx, n) }),
				one(CheckHubDomain, n.Name, func(ctx context.Context) Result { return r.checkDomain(ctx, n) }),
			)
			if len(inv.Hubs()) > 1 {
				ts = append(ts, one(CheckHubRoutes, n.Name, func(ctx context.Context) Result { return r.checkRoutes(ctx, n) }))
			}
		}
		return append(ts, r.metaTask(true))
	})
}

// LeafGate waits after a change to leaf host until its link is up, seen from both ends, and
// the hub's domain answers through it with the hub as the answerer (the leaf wave's gate).
// Leaves reconnect over 1-7 s after a hub restart, which the polling absorbs.
func LeafGate(ctx context.Context, inv *inventory.Inventory, targets []Target, host string, opts Options) ([]Result, error) {
	role := inventory.RoleLeaf
	if h := inv.Host(host); h != nil && h.IsRelay() {
		role = inventory.RoleRelay // a relay's gate adds the leaves below it linked again
	}
	h, err := unit(inv, host, role)
	if err == nil && h.Leaf == nil {
		err = fmt.Errorf("%s runs no leaf nats-server", host)
	}
	if err != nil {
		return nil, &GateError{Unit: "leaf " + host, Cause: err}
	}
	return gate(ctx, inv, targets, opts, "leaf "+h.Name, func(r *round) []task {
		return r.leafTasks(h)
	})
}

// WasmcloudGate waits after a change to wasmCloud host until it answers host.get from the hub
// side, its ping reply has the inventory's lattice, js_domain and labels, and, when the same
// machine runs a leaf, that leaf holds no stray lattice bucket (the wasmCloud wave's gate).
func WasmcloudGate(ctx context.Context, inv *inventory.Inventory, targets []Target, host string, opts Options) ([]Result, error) {
	h, err := unit(inv, host, inventory.RoleWasmcloud)
	var id string
	if err == nil && h.Wasmcloud == nil {
		err = fmt.Errorf("%s runs no wasmCloud host", host)
	}
	if err == nil {
		id, err = hostID(h)
	}
	if err != nil {
		return nil, &GateError{Unit: "wasmCloud host " + host, Cause: err}
	}
	return gate(ctx, inv, targets, opts, "wasmCloud host "+h.Name, func(r *round) []task {
		ts := r.wasmcloudTasks([]*inventory.Host{h}, []string{id}, false)
		if h.Leaf != nil {
			ts = append(ts, one(CheckHygieneStrayBucket, h.Name, func(ctx context.Context) Result { return r.checkStrayBucket(ctx, h) }))
		}
		return ts
	})
}

func unit(inv *inventory.Inventory, host, role string) (*inventory.Host, error) {
	h := inv.Host(host)
	switch {
	case h == nil:
		return nil, fmt.Errorf("no host %q in the inventory", host)
	case !h.HasRole(role):
		return nil, fmt.Errorf("host %s has no %s role", host, role)
	}
	return h, nil
}

// gate polls a fresh round of tasks until every result passes or the deadline passes.
func gate(ctx context.Context, inv *inventory.Inventory, targets []Target, opts Options, name string, tasks func(*round) []task) ([]Result, error) {
	// apply bounds each gate by its unit's role's gate_timeout and leaves Options.GateTimeout
	// unset, so the default does not cut that shorter; a bound the caller sets always holds.
	set := opts.GateTimeout > 0
	opts = opts.withDefaults()
	if _, ok := ctx.Deadline(); set || !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.GateTimeout)
		defer cancel()
	}
	start := time.Now()
	// A gate right after a reload or start often passes within tens of milliseconds: the
	// first retries come quickly, later ones back off to 2s.
	wait := poll.New(50*time.Millisecond, 2*time.Second)
	for {
		r := newRound(inv, targets, opts)
		res := r.run(ctx, tasks(r))
		r.close()
		if allOK(res) {
			return res, nil
		}
		if !wait.Wait(ctx) {
			gerr := &GateError{Unit: name, Waited: time.Since(start), Failed: Report{Results: res}.Failed()}
			if errors.Is(ctx.Err(), context.Canceled) {
				gerr.Cause = ctx.Err()
			}
			return res, gerr
		}
	}
}
