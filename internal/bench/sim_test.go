package bench

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
)

// TestSim_PlanHasNoChanges checks that the simulated hosts answer what latticepush asks as a
// converged fleet does: every host reachable, every unit a noop. If latticepush starts
// running a command the simulation does not know, this fails (exit 127 makes the host's
// facts an error) before the scale benchmark could report a meaningless time. The 8 hosts
// are served by 3 processes, as a large fleet is.
func TestSim_PlanHasNoChanges(t *testing.T) {
	sf := startSimFleetSplit(t, 8, 3)
	if sf.procs != 3 {
		t.Fatalf("%d processes serve 8 hosts 3 at a time, want 3", sf.procs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	desired, err := plan.Render(sf.inv)
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer pool.Close()
	facts := fleet.New(sf.inv, pool, fleet.Options{}).Observe(ctx, plan.Probes(sf.inv, desired, plan.Options{}))
	for host, f := range facts {
		if f.Err != "" {
			t.Errorf("%s: %s", host, f.Err)
		}
		if f.NATS == nil || f.NATS.RunningDigest == "" || f.NATS.RunningDigest != f.NATS.DesiredDigest {
			t.Errorf("%s: nats facts %+v", host, f.NATS)
		}
	}
	p, err := plan.Build(sf.inv, desired, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range p.Units {
		if u.Changes() {
			t.Errorf("%s: %s %v", u.ID(), u.Action, u.Reasons)
		}
	}
	if len(p.Units) != 3+5*2 {
		t.Errorf("%d units, want 13 (3 hubs, 5 edges with a leaf and a wasmCloud host)", len(p.Units))
	}
}

func TestShellWords(t *testing.T) {
	line, err := remote.Command(remote.Script("echo \"$1\"", "it's", "", "a b", `$x\`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := shellWords(line)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sh", "-c", "echo \"$1\"", "latticepush", "it's", "", "a b", `$x\`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shellWords(%q) = %q, want %q", line, got, want)
	}
}
