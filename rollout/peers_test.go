package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// A meta group member that no hub of the inventory is leaves the group before the hub wave
// touches a node, and every hub's audit record says so; a removal that fails stops the apply
// there, nothing restarted.
func TestApply_PeerRemovedBeforeTheHubWave(t *testing.T) {
	for _, fail := range []bool{false, true} {
		fx, p, probes := hubRollAndWasmcloudChange(t, 0)
		p.PeerRemovals = []plan.PeerRemoval{{Name: "hub-9", Peer: "Xy12", Why: "no hub of the inventory; offline on the meta leader hub-1"}}
		if fail {
			fx.gates.removeErr = errors.New("the meta leader refused")
		}
		replan := func(map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
		var events []Event
		_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, fx.fleet, fx.gates, Options{GateTimeout: time.Second,
			ConfirmTimeout: 300 * time.Millisecond, Events: func(e Event) { events = append(events, e) }})
		removed := slices.Index(fx.fleet.log, "remove peer hub-9 Xy12")
		changed := slices.IndexFunc(fx.fleet.log, func(l string) bool {
			return strings.HasSuffix(l, " swap") || strings.HasSuffix(l, " restart") || strings.HasSuffix(l, " stop")
		})
		if removed < 0 {
			t.Fatalf("fail=%v: hub-9 not removed: %v", fail, fx.fleet.log)
		}
		if !slices.ContainsFunc(events, func(e Event) bool {
			return e.Phase == PhasePeers && strings.Contains(e.Message, "removing hub-9 from the hub cluster's JetStream meta group")
		}) {
			t.Errorf("fail=%v: no peers phase event naming hub-9: %+v", fail, events)
		}
		if !fail {
			if err != nil || changed < removed {
				t.Fatalf("removed at %d, first change at %d, err %v: %v", removed, changed, err, fx.fleet.log)
			}
			// Every hub's audit record says so.
			for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
				if !slices.ContainsFunc(fx.fleet.log, func(l string) bool {
					return strings.HasPrefix(l, h+" audit ") && strings.Contains(l, "jetstream meta group: removed hub-9")
				}) {
					t.Errorf("%s's audit record does not name the removal: %v", h, fx.fleet.log)
				}
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "removing hub-9 from the JetStream meta group: the meta leader refused; nothing was restarted") {
			t.Fatalf("failed removal: err %v", err)
		}
		if changed >= 0 {
			t.Errorf("a failed removal went on to %q", fx.fleet.log[changed])
		}
		fx.assertUnlockedNoTemps(t)
	}
}

// A hub node renamed in place (-replace) leaves its old name in the meta group: its gate
// accepts the old name beside the inventory's hubs, and once it passed apply removes the name
// and every hub's audit record says so. A removal that fails is a warning: the node runs well
// under its new name. A gate that fails removes nothing (the rollback needs the old name
// in the group), and the gates after the rename accept it no longer.
func TestApply_RenamedHubLeavesTheMetaGroupAfterItsGate(t *testing.T) {
	for _, c := range []struct {
		name       string
		removeErr  error
		failGate   bool
		wantRemove bool
	}{{"removed", nil, false, true}, {"removal fails", errors.New("no answer from the meta leader"), false, true}, {"gate fails", nil, true, false}} {
		t.Run(c.name, func(t *testing.T) {
			fx, p, probes := hubRollAndWasmcloudChange(t, 0)
			u := p.Unit("hub-2/nats-server")
			u.LeavesMetaGroup = "old-2"
			fx.gates.removeErr = c.removeErr
			if c.failGate {
				fx.gates.failGate = map[string]bool{"hub-2": true}
			}
			var events []Event
			replan := func(map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
			res, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, fx.fleet, fx.gates, Options{GateTimeout: time.Second,
				ConfirmTimeout: 300 * time.Millisecond, Events: func(e Event) { events = append(events, e) }})
			removed := slices.Index(fx.fleet.log, "remove peer old-2 "+plan.PeerID("old-2"))
			if (removed >= 0) != c.wantRemove {
				t.Fatalf("removal asked: %v, want %v: %v", removed >= 0, c.wantRemove, fx.fleet.log)
			}
			var leaving []string
			for _, call := range fx.gates.calls {
				leaving = append(leaving, fmt.Sprintf("%s:%v", call.host, call.exp.Leaving))
			}
			if !slices.Contains(leaving, "hub-2:[old-2]") || slices.Contains(leaving, "hub-1:[old-2]") || slices.Contains(leaving, "hub-3:[old-2]") {
				t.Errorf("gates and the names they accept: %v, want old-2 in hub-2's only", leaving)
			}
			if c.failGate {
				if got := outcome(res, "hub-2/nats-server"); err == nil || (got != RolledBack && got != RollbackFailed) {
					t.Fatalf("failed gate: err %v, hub-2 %s", err, outcome(res, "hub-2/nats-server"))
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if got := outcome(res, "hub-2/nats-server"); got != Applied {
				t.Fatalf("hub-2: %s, want applied", got)
			}
			gated := slices.IndexFunc(fx.gates.calls, func(c gateCall) bool { return c.host == "hub-2" })
			if len(fx.gates.removedAfter) != 1 || gated < 0 || fx.gates.removedAfter[0] <= gated {
				t.Errorf("removed after %v gate calls, hub-2's gate is call %d: want the removal after it", fx.gates.removedAfter, gated)
			}
			audited := slices.ContainsFunc(fx.fleet.log, func(l string) bool {
				return strings.HasPrefix(l, "hub-3 audit ") && strings.Contains(l, "jetstream meta group: removed old-2")
			})
			warned := slices.ContainsFunc(events, func(e Event) bool {
				return e.Type == EventWarning && strings.Contains(e.Message, "hub-2 runs under its new name, but removing old-2 from the JetStream meta group failed: no answer from the meta leader; run plan and apply again, which removes it")
			})
			if c.removeErr == nil && (!audited || warned) {
				t.Errorf("removed: audited %v, warned %v: %v", audited, warned, fx.fleet.log)
			}
			if c.removeErr != nil && (audited || !warned) {
				t.Errorf("removal failed: audited %v, warned %v: %+v", audited, warned, events)
			}
		})
	}
}

// outcome is what the apply did to the unit named id.
func outcome(res *Result, id string) Outcome {
	if res == nil {
		return ""
	}
	for _, u := range res.Units {
		if u.Unit == id {
			return u.Result
		}
	}
	return ""
}
