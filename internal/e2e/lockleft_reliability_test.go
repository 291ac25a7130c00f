package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
)

// TestReliability_LockLeftOnConvergedFleet: a lock left behind on a fleet with nothing to
// change is not passed over. plan names it; apply, though it has nothing to do, takes the lock
// of a dead run of this controller over (and says so), and refuses one taken elsewhere, naming
// force-unlock.
func TestReliability_LockLeftOnConvergedFleet(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	home := t.TempDir()

	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	pool := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer pool.Close()
	inv := env.Inventory(t)
	connect := func(host string) *remote.Client {
		c, err := pool.Connect(ctx, fleet.Target(inv, inv.Host(host)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// A lock another machine's run holds: named by plan, refused by apply.
	other, err := connect("hub-1").Lock(ctx, remote.LockInfo{User: "alice", Host: "laptop", PID: 4242,
		Command: "latticepush apply inventory.hcl", MachineID: "another-machine", BootID: "another-boot"}, remote.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := newSession(t, env, plan.Options{}).plan(ctx)
	if p.HasChanges() || len(p.Locked) != 1 || p.Locked[0].Host != "hub-1" || !strings.Contains(p.Locked[0].Holder, "alice@laptop (pid 4242") {
		t.Fatalf("plan with hub-1 locked: %s, locked %+v", p.Summary(), p.Locked)
	}
	r := runCLI(ctx, bin, home, env.Path, false, nil)
	t.Logf("apply with nothing to change, hub-1 locked by another machine: exit %d", r.exit)
	if r.exit == 0 || !strings.Contains(r.out, "latticepush force-unlock INVENTORY hub-1") || !strings.Contains(r.out, "alice@laptop") {
		t.Fatalf("apply: exit %d, want a refusal naming alice@laptop and force-unlock for hub-1:\n%s", r.exit, r.out)
	}
	if err := other.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	// A lock left by a run of this controller whose process is gone: taken over, said so, and
	// released at the end.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	me, _ := os.Hostname()
	if _, err := connect("edge-1").Lock(ctx, remote.LockInfo{User: "root", Host: me, PID: dead.Process.Pid,
		Command: "latticepush apply inventory.hcl"}, remote.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	r = runCLI(ctx, bin, home, env.Path, false, nil)
	t.Logf("apply with nothing to change, edge-1 locked by a dead run of this controller: exit %d", r.exit)
	if r.exit != 0 || !strings.Contains(r.out, "took over the lock left by") {
		t.Fatalf("apply: exit %d, want a takeover said:\n%s", r.exit, r.out)
	}
	if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() || len(p.Locked) != 0 {
		t.Fatalf("after the takeover: %s, locked %+v; want nothing changed and no lock left", p.Summary(), p.Locked)
	}
}
