package rollout

import (
	"context"
	"errors"
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
