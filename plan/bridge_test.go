package plan

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// moveLeafPort gives every hub node a new leafnode port and returns the desired files before
// and after (real rendering, same secrets).
func moveLeafPort(t *testing.T, inv *inventory.Inventory, port int) (before, after Desired) {
	t.Helper()
	before, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range inv.Hubs() {
		h.Hub.LeafnodePort = port
	}
	after, err = Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	return before, after
}

func waveNames(p *Plan) []string {
	var out []string
	for _, w := range p.Waves {
		out = append(out, w.Name)
	}
	return out
}

// TestBuild_LeavesFirstWhenTheHubListenersMove: a hub leafnode port change restarts the hub
// nodes; each leaf first reloads a bridge config listing the old and the new listeners, then
// the hubs move, then the leaves drop the old listeners. A rerun with the bridge in place, or
// with the hubs already moved, plans no bridge; a leaf that must restart is named instead.
func TestBuild_LeavesFirstWhenTheHubListenersMove(t *testing.T) {
	inv := loadExample(t, "lab", nil)
	before, after := moveLeafPort(t, inv, 7423)
	facts := converged(inv, before)

	p, err := Build(inv, after, facts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := waveNames(p), []string{"leaf-bridge", "hub", "leaf"}; !slices.Equal(got, want) {
		t.Fatalf("waves %v, want %v", got, want)
	}
	var bridged []string
	for _, u := range p.Units {
		if u.Step != StepBridge {
			continue
		}
		bridged = append(bridged, u.Host)
		if u.Action != Reload || u.ID() != u.Host+"/nats-server@bridge" || len(u.Files) != 1 {
			t.Errorf("%s: %s, %d files", u.ID(), u.Action, len(u.Files))
		}
		got, err := leafListeners(u.Files[0].Content())
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
	if final, _ := leafListeners(p.Unit("edge-1/nats-server").Files[0].Content()); !slices.Equal(final, []string{"198.18.0.11:7423", "198.18.0.12:7423", "198.18.0.13:7423"}) {
		t.Errorf("final leaf listeners %v", final)
	}
	if !strings.Contains(p.Summary(), "3 leaf bridge reloads first") {
		t.Errorf("summary: %s", p.Summary())
	}

	// The bridge is in place (a rerun after a stop during the hub wave): no second bridge.
	mid := converged(inv, before)
	for _, u := range p.Units {
		if u.Step == StepBridge {
			c := u.Files[0].Content()
			mid[u.Host].Files[u.ConfigPath] = FileFact{Exists: true, Mode: 0o600, SHA256: sha(c), Size: int64(len(c)), Content: c}
		}
	}
	p2, err := Build(inv, after, mid, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := waveNames(p2); !slices.Equal(got, []string{"hub", "leaf"}) {
		t.Errorf("rerun with the bridge in place: waves %v", got)
	}

	// The hubs moved already: the leaves just follow.
	moved := converged(inv, before)
	for _, h := range inv.Hubs() {
		moved[h.Name] = converged(inv, after)[h.Name]
	}
	p3, err := Build(inv, after, moved, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := waveNames(p3); !slices.Equal(got, []string{"leaf"}) {
		t.Errorf("hubs already moved: waves %v", got)
	}

	// A leaf on 2.12 cannot reload its remotes: no bridge, a warning naming it.
	old := converged(inv, before)
	old["edge-2"].NATS.Version = "2.12.4"
	p4, err := Build(inv, after, old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p4.Unit("edge-2/nats-server@bridge") != nil || p4.Unit("edge-1/nats-server@bridge") == nil {
		t.Errorf("bridges with edge-2 on 2.12: %v", waveNames(p4))
	}
	if w := strings.Join(p4.Warnings, "\n"); !strings.Contains(w, "edge-2") || !strings.Contains(w, "find none if they restart") {
		t.Errorf("warnings: %q", p4.Warnings)
	}
}

// TestApply_BridgeBeforeTheHubs: apply reloads every leaf's bridge, gated, before it touches a
// hub, and ends with the desired configs. A bridge whose reload fails is rolled back and
// stops the rollout before any hub.
func TestApply_BridgeBeforeTheHubs(t *testing.T) {
	inv := loadExample(t, "lab", nil)
	before, after := moveLeafPort(t, inv, 7423)
	configs := map[string]string{}
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil {
			configs[h.Name] = n.ConfigFile
		}
	}
	for _, failBridge := range []bool{false, true} {
		ff := newFakeFleet(converged(inv, before), configs)
		gates := &fakeGates{ff: ff, failGate: map[string]bool{}}
		probes := Probes(inv, after, Options{})
		p, err := Build(inv, after, ff.Observe(context.Background(), probes), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if failBridge {
			ff.failOn["edge-1 reload"] = errors.New("once: reload refused")
		}
		replan := func(facts map[string]Facts) (*Plan, error) { return Build(inv, after, facts, Options{}) }
		res, err := Apply(context.Background(), p, probes, replan, ff, gates, ApplyOptions{GateTimeout: 200 * time.Millisecond, ConfirmTimeout: 300 * time.Millisecond})
		firstHub, lastBridge := len(ff.log), -1
		for i, l := range ff.log {
			if strings.HasPrefix(l, "hub-") && (strings.HasSuffix(l, " swap") || strings.Contains(l, "nats-server ")) && i < firstHub {
				firstHub = i
			}
			if strings.HasPrefix(l, "edge-") && strings.HasSuffix(l, "nats-server reload") && firstHub == len(ff.log) {
				lastBridge = i
			}
		}
		if failBridge {
			if !errors.Is(err, ErrRolledBack) || firstHub != len(ff.log) {
				t.Fatalf("failed bridge: err %v, a hub was touched at %d: %v", err, firstHub, ff.log)
			}
			if r := results(res)["edge-1/nats-server@bridge"]; r != "rolled back" {
				t.Errorf("edge-1 bridge: %q", r)
			}
			if c := ff.hosts["edge-1"].files[configs["edge-1"]]; string(c) != string(contentOf(before, "edge-1", configs["edge-1"])) {
				t.Errorf("edge-1 config not restored after its failed bridge")
			}
			continue
		}
		if err != nil {
			t.Fatalf("apply: %v\n%v", err, ff.log)
		}
		if lastBridge < 0 || firstHub < lastBridge {
			t.Fatalf("bridge reloads (last at %d) not all before the first hub operation (%d): %v", lastBridge, firstHub, ff.log)
		}
		for _, h := range inv.Hosts {
			if n := h.NATS(); n != nil && string(ff.hosts[h.Name].files[n.ConfigFile]) != string(contentOf(after, h.Name, n.ConfigFile)) {
				t.Errorf("%s does not end with its desired config", h.Name)
			}
		}
		for id, r := range results(res) {
			if strings.HasPrefix(id, "edge-") && strings.Contains(id, "nats-server") && r != "applied" {
				t.Errorf("%s: %s", id, r)
			}
		}
	}
}

func contentOf(d Desired, host, path string) []byte {
	for _, f := range d[host] {
		if f.Path == path {
			return f.Content
		}
	}
	return nil
}
