package rollout

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan/plantest"
)

// withUsers runs every nats-server as nats and every wasmCloud host as wasmcloud.
func withUsers(inv *inventory.Inventory) {
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil {
			n.User = "nats"
		}
		if h.Wasmcloud != nil {
			h.Wasmcloud.User = "wasmcloud"
		}
	}
}

// TestApply_UsersBeforeStage: a host's service users are made, once per host, before any of
// its files is staged.
func TestApply_UsersBeforeStage(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	withUsers(fx.inv)
	p, probes := fx.plan(t)
	if _, err := fx.apply(context.Background(), p, probes, nil); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"hub-1", "edge-1"} {
		want := map[string]string{"hub-1": "hub-1 users nats", "edge-1": "edge-1 users nats,wasmcloud"}[host]
		users := slices.Index(fx.fleet.log, want)
		stage := slices.IndexFunc(fx.fleet.log, func(l string) bool { return strings.HasPrefix(l, host+" stage") })
		if users < 0 || stage < 0 || users > stage {
			t.Errorf("%s: %q at %d, first stage at %d, want the users first: %v", host, want, users, stage, fx.fleet.log)
		}
		if n := len(slices.DeleteFunc(slices.Clone(fx.fleet.log), func(l string) bool { return !strings.HasPrefix(l, host+" users") })); n != 1 {
			t.Errorf("%s: users made %d times", host, n)
		}
	}
}

// TestApply_UsersFailureChangesNothing: a host that cannot make its users fails the stage
// phase: nothing is swapped in or restarted anywhere. (A hub: in a first deployment an edge
// stages while the hubs' first starts run, TestApply_LaterStageFailureKeepsFirstStarts.)
func TestApply_UsersFailureChangesNothing(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	withUsers(fx.inv)
	p, probes := fx.plan(t)
	fx.fleet.failOn["hub-2 users"] = errors.New("useradd: cannot lock /etc/passwd")
	_, err := fx.apply(context.Background(), p, probes, nil)
	if err == nil || !strings.Contains(err.Error(), "nothing was swapped in or restarted") || !strings.Contains(err.Error(), "hub-2: users: useradd: cannot lock /etc/passwd") {
		t.Fatalf("err %v", err)
	}
	for _, l := range fx.fleet.log {
		if strings.Contains(l, " swap") || strings.Contains(l, " start") || strings.HasPrefix(l, "hub-2 stage") {
			t.Errorf("changed after a failed users step: %s", l)
		}
	}
	fx.assertUnlockedNoTemps(t)
}
