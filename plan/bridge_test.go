package plan_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// TestBuild_LeavesFirstWhenTheHubListenersMove: a hub leafnode port change restarts the hub
// nodes; each leaf first reloads a bridge config listing the old and the new listeners, then
// the hubs move, then the leaves drop the old listeners. A rerun with the bridge in place, or
// with the hubs already moved, plans no bridge; a leaf that must restart is named instead.
func TestBuild_LeavesFirstWhenTheHubListenersMove(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	before, after := plantest.MoveLeafPort(t, inv, 7423)
	facts := plantest.Converged(inv, before)

	p, err := plan.Build(inv, after, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := plantest.WaveNames(p), []string{"leaf-bridge", "hub", "leaf"}; !slices.Equal(got, want) {
		t.Fatalf("waves %v, want %v", got, want)
	}
	var bridged []string
	for _, u := range p.Units {
		if u.Step != plan.StepBridge {
			continue
		}
		bridged = append(bridged, u.Host)
		if u.Action != plan.Reload || u.ID() != u.Host+"/nats-server@bridge" || len(u.Files) != 1 {
			t.Errorf("%s: %s, %d files", u.ID(), u.Action, len(u.Files))
		}
		got, err := plan.LeafListeners(u.Files[0].Content())
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"198.18.0.11:7422", "198.18.0.11:7423", "198.18.0.12:7422", "198.18.0.12:7423", "198.18.0.13:7422", "198.18.0.13:7423"}
		if !slices.Equal(got, want) {
			t.Errorf("%s bridge listeners %v, want %v", u.Host, got, want)
		}
		if strings.Contains(u.Files[0].Diff, inv.Auth.LeafPassword.Reveal()) || !strings.Contains(u.Files[0].Diff, "+") {
			t.Errorf("%s bridge diff (secret shown, or empty):\n%s", u.Host, u.Files[0].Diff)
		}
	}
	if !slices.Equal(bridged, []string{"edge-1", "edge-2", "edge-3"}) {
		t.Errorf("bridges for %v, want every leaf", bridged)
	}
	if final, _ := plan.LeafListeners(p.Unit("edge-1/nats-server").Files[0].Content()); !slices.Equal(final, []string{"198.18.0.11:7423", "198.18.0.12:7423", "198.18.0.13:7423"}) {
		t.Errorf("final leaf listeners %v", final)
	}
	if !strings.Contains(p.Summary(), "3 leaf bridge reloads first") {
		t.Errorf("summary: %s", p.Summary())
	}

	// The bridge is in place (a rerun after a stop during the hub wave): no second bridge.
	mid := plantest.Converged(inv, before)
	for _, u := range p.Units {
		if u.Step == plan.StepBridge {
			c := u.Files[0].Content()
			mid[u.Host].Files[u.ConfigPath] = plan.FileFact{Exists: true, Mode: 0o600, SHA256: plantest.SHA(c), Size: int64(len(c)), Content: c}
		}
	}
	p2, err := plan.Build(inv, after, mid, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := plantest.WaveNames(p2); !slices.Equal(got, []string{"hub", "leaf"}) {
		t.Errorf("rerun with the bridge in place: waves %v", got)
	}

	// The hubs moved already: the leaves just follow.
	moved := plantest.Converged(inv, before)
	for _, h := range inv.Hubs() {
		moved[h.Name] = plantest.Converged(inv, after)[h.Name]
	}
	p3, err := plan.Build(inv, after, moved, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := plantest.WaveNames(p3); !slices.Equal(got, []string{"leaf"}) {
		t.Errorf("hubs already moved: waves %v", got)
	}

	// A leaf on 2.12 cannot reload its remotes: no bridge, a warning naming it.
	old := plantest.Converged(inv, before)
	old["edge-2"].NATS.Version = "2.12.4"
	p4, err := plan.Build(inv, after, old, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p4.Unit("edge-2/nats-server@bridge") != nil || p4.Unit("edge-1/nats-server@bridge") == nil {
		t.Errorf("bridges with edge-2 on 2.12: %v", plantest.WaveNames(p4))
	}
	if w := strings.Join(p4.Warnings, "\n"); !strings.Contains(w, "edge-2") || !strings.Contains(w, "find none if they restart") {
		t.Errorf("warnings: %q", p4.Warnings)
	}
}
