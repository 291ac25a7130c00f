package rollout

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// linkHost is a fake leaf whose link is connection `id`; a reload makes a new connection when
// relinks is set, and keeps the old one otherwise (a remote whose login did not change).
type linkHost struct {
	*fakeHost
	mu      sync.Mutex
	id      uint64
	relinks bool
	reads   int
}

func (h *linkHost) LeafLinkIDs(context.Context, string) ([]uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	return []uint64{h.id}, nil
}

func (h *linkHost) Service(ctx context.Context, svc string, op ServiceOp) error {
	if op == OpReload && svc == plan.ServiceNATS {
		h.mu.Lock()
		if h.relinks {
			h.id++
		}
		h.mu.Unlock()
	}
	return h.fakeHost.Service(ctx, svc, op)
}

type linkFleet struct {
	*fakeFleet
	hosts map[string]*linkHost
}

func (f linkFleet) Host(ctx context.Context, name string) (Host, error) {
	if h, ok := f.hosts[name]; ok {
		if _, err := f.fakeFleet.Host(ctx, name); err != nil {
			return nil, err
		}
		return h, nil
	}
	return f.fakeFleet.Host(ctx, name)
}

// A leaf reload that switches its login (a password rotation's step 2) is confirmed by a link
// on a new connection; the old connection still there fails the unit, which is rolled back.
func TestApply_ReloginConfirmed(t *testing.T) {
	for _, c := range []struct {
		name    string
		relinks bool
	}{{"new link", true}, {"old link kept", false}} {
		t.Run(c.name, func(t *testing.T) {
			fx := newApplyFixture(t, "lab", plantest.Converged)
			const cfg = "/etc/nats/nats-server.conf"
			e := fx.fleet.hosts["edge-1"]
			e.files[cfg] = []byte("# old\n" + string(e.files[cfg]))
			e.digest = "sha256:" + plantest.SHA(e.files[cfg])
			p, probes := fx.plan(t)
			u := p.Unit("edge-1/nats-server")
			if u.Action != plan.Reload {
				t.Fatalf("action %s, want reload", u.Action)
			}
			u.Relogin = "leaf-a"
			lh := &linkHost{fakeHost: e, id: 7, relinks: c.relinks}
			replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
			_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan},
				linkFleet{fx.fleet, map[string]*linkHost{"edge-1": lh}}, fx.gates,
				Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
			if c.relinks {
				if err != nil {
					t.Fatal(err)
				}
				if lh.reads < 2 {
					t.Errorf("/leafz read %d times, want before and after the reload", lh.reads)
				}
				return
			}
			if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "not seen linked as leaf-a") || !strings.Contains(err.Error(), "plan and apply again") {
				t.Fatalf("err %v, want the unconfirmed switch rolled back", err)
			}
			fx.assertUnlockedNoTemps(t)
		})
	}
}

// A host that cannot read the leaf's links cannot switch its login: refused before the new
// config goes in.
func TestApply_ReloginNeedsLeafLinks(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	const cfg = "/etc/nats/nats-server.conf"
	e := fx.fleet.hosts["edge-1"]
	e.files[cfg] = []byte("# old\n" + string(e.files[cfg]))
	e.digest = "sha256:" + plantest.SHA(e.files[cfg])
	p, probes := fx.plan(t)
	p.Unit("edge-1/nats-server").Relogin = "leaf-a"
	replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
	_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, fx.fleet, fx.gates,
		Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "cannot read the leaf's links") {
		t.Fatalf("err %v, want a refusal", err)
	}
	for _, op := range fx.fleet.log {
		if op == "edge-1 swap" {
			t.Errorf("edge-1's new config was swapped in: %v", fx.fleet.log)
		}
	}
}
