package rollout

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// lockWatch wraps the fake fleet to record the order hosts are locked in, and to report a
// lock takeover on the hosts named in tookOver.
type lockWatch struct {
	*fakeFleet
	mu       sync.Mutex
	order    []string
	quick    []string // the hosts locked with LockQuick
	tookOver map[string]string
	// connected counts the hosts connected to; beforeLock, when set, runs before a lock.
	connected  int
	beforeLock func(name string)
}

type watchedHost struct {
	Host
	w    *lockWatch
	name string
}

func (w *lockWatch) Host(ctx context.Context, name string) (Host, error) {
	h, err := w.fakeFleet.Host(ctx, name)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.connected++
	w.mu.Unlock()
	return &watchedHost{Host: h, w: w, name: name}, nil
}

func (h *watchedHost) Lock(ctx context.Context, owner LockOwner) error {
	if h.w.beforeLock != nil {
		h.w.beforeLock(h.name)
	}
	h.w.mu.Lock()
	h.w.order = append(h.w.order, h.name)
	h.w.mu.Unlock()
	return h.Host.Lock(ctx, owner)
}

// LockQuick is the lock without the work a host's Lock does in the same exec.
func (h *watchedHost) LockQuick(ctx context.Context, owner LockOwner) error {
	h.w.mu.Lock()
	h.w.quick = append(h.w.quick, h.name)
	h.w.mu.Unlock()
	return h.Lock(ctx, owner)
}

func (h *watchedHost) LockTakenOver() string { return h.w.tookOver[h.name] }

func (w *lockWatch) apply(fx *applyFixture, t *testing.T, events func(Event)) error {
	p, probes := fx.plan(t)
	replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return plan.Build(fx.inv, fx.d, facts, fx.opts) }
	_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, w, fx.gates, Options{Events: events, GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
	return err
}

// The first host by name is locked alone, before any other: of two applies started at once,
// the one refused there has locked nothing else.
func TestApply_FirstHostLockedAlone(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	w := &lockWatch{fakeFleet: fx.fleet}
	fx.fleet.hosts["edge-1"].locked = true // the first host by name, held by another apply
	err := w.apply(fx, t, nil)
	if err == nil || !strings.Contains(err.Error(), "edge-1: locked by another apply") {
		t.Fatalf("err %v, want refused at edge-1", err)
	}
	if len(w.order) != 1 || w.order[0] != "edge-1" {
		t.Fatalf("lock attempts %v, want only edge-1", w.order)
	}
	fx.fleet.hosts["edge-1"].locked = false
	fx.assertUnlockedNoTemps(t)

	w.order = nil
	if err := w.apply(fx, t, nil); err != nil {
		t.Fatal(err)
	}
	if len(w.order) != len(fx.fleet.hosts) || w.order[0] != "edge-1" {
		t.Fatalf("lock order %v: want edge-1 first, then every other host", w.order)
	}
	// Every other lock waits for the first: it is the quick one, the lock alone.
	if len(w.quick) != 2 || w.quick[0] != "edge-1" || w.quick[1] != "edge-1" {
		t.Fatalf("quick locks %v (both applies), want edge-1 alone each time", w.quick)
	}
}

// While the first host locks, the others connect: the first lock waits here until every host
// is connected, and still comes first.
func TestApply_OthersConnectWhileFirstHostLocks(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	w := &lockWatch{fakeFleet: fx.fleet}
	w.beforeLock = func(name string) {
		if name != "edge-1" {
			return
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			w.mu.Lock()
			n := w.connected
			w.mu.Unlock()
			if n == len(fx.fleet.hosts) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d of %d hosts connected while the first host locked, want all", n, len(fx.fleet.hosts))
				return
			}
		}
	}
	if err := w.apply(fx, t, nil); err != nil {
		t.Fatal(err)
	}
	if len(w.order) != len(fx.fleet.hosts) || w.order[0] != "edge-1" {
		t.Fatalf("lock order %v: want edge-1 first, then every other host", w.order)
	}
}

// A host whose lock was taken over from a dead run says so in a lock-phase warning.
func TestApply_LockTakeoverIsReported(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	w := &lockWatch{fakeFleet: fx.fleet, tookOver: map[string]string{"hub-2": "took over the lock left by ghost@ctl (pid 7)"}}
	var warned []Event
	if err := w.apply(fx, t, func(e Event) {
		if e.Type == EventWarning {
			warned = append(warned, e)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || warned[0].Phase != PhaseLock || warned[0].Host != "hub-2" || !strings.Contains(warned[0].Message, "ghost@ctl") {
		t.Fatalf("warnings %+v, want one lock-phase warning for hub-2's takeover", warned)
	}
}
