package rollout

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// TestApply_RollbackGateWhereTheRestoredConfigListens: for each listener kind, a change whose
// start fails is rolled back, and the gate after the rollback is told the previous listener
// (where the restored config listens), not the new one that failed.
func TestApply_RollbackGateWhereTheRestoredConfigListens(t *testing.T) {
	cases := []struct {
		name, role, attr string
		host             string // the failing host; "" for the hub wave's first node
		got              func(plan.Ports) string
		want             string
	}{
		{"client host", "leaf", `client_host = "10.9.9.9"`, "edge-1", func(p plan.Ports) string { return p.ClientHost }, "127.0.0.1"},
		{"http host", "leaf", `http_host = "10.9.9.9"`, "edge-1", func(p plan.Ports) string { return p.HTTPHost }, "127.0.0.1"},
		{"http port", "leaf", `http_port = 8333`, "edge-1", func(p plan.Ports) string { return strconv.Itoa(p.HTTP) }, "8222"},
		{"leafnode listen", "hub", `leafnode_port = 7433`, "", func(p plan.Ports) string { return strconv.Itoa(p.Leafnode) }, "7422"},
		{"cluster listen", "hub", `cluster_port = 6333`, "", func(p plan.Ports) string { return strconv.Itoa(p.Cluster) }, "6222"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fx := newApplyFixture(t, "lab", observedListeners)
			moved := plantest.LoadExample(t, "lab", func(src string) string {
				anchor := "role \"" + tc.role + "\" {\n  nats {\n"
				if !strings.Contains(src, anchor) {
					t.Fatalf("the lab inventory has no %q: edit this test", anchor)
				}
				return strings.Replace(src, anchor, anchor+"    "+tc.attr+"\n", 1)
			})
			fx.inv, fx.d = moved, plantest.FakeDesired(moved, true)
			p, probes := fx.plan(t)
			host := tc.host
			var u *plan.Unit
			for _, w := range p.Waves {
				if (w.Name == plan.WaveHub && tc.role == "hub") || (w.Name == plan.WaveLeaf && tc.role == "leaf") {
					if host == "" {
						host = strings.TrimSuffix(w.Batches[0][0], "/nats-server")
					}
					u = p.Unit(host + "/nats-server")
				}
			}
			if u == nil {
				t.Fatalf("no %s wave changing %s: waves %+v", tc.role, host, p.Waves)
			}
			op := "restart"
			if u.Action == plan.Reload {
				op = "reload"
			}
			fx.fleet.failOn[host+" "+op] = errors.New("once: cannot bind the new listener")
			res, err := fx.apply(context.Background(), p, probes, nil)
			if !errors.Is(err, ErrRolledBack) {
				t.Fatalf("apply: %v, want rolled back", err)
			}
			if r := results(res)[host+"/nats-server"]; r != string(RolledBack) {
				t.Fatalf("%s: %s, want %s (%v)", host, r, RolledBack, res.Units)
			}
			var last *gateCall
			for i, c := range fx.gates.calls {
				if c.host == host {
					last = &fx.gates.calls[i]
				}
			}
			if last == nil {
				t.Fatalf("no gate ran on %s after the rollback", host)
			}
			now, ok := last.exp.Ports[host]
			if !ok {
				t.Fatalf("the gate after the rollback expects %s where the new config listens (no expectation given)", host)
			}
			if got := tc.got(now); got != tc.want {
				t.Errorf("the gate after the rollback expects %s's %s at %s, want the restored config's %s", host, tc.name, got, tc.want)
			}
		})
	}
}

// observedListeners is a converged fleet whose running servers report every listener, as
// /varz does.
func observedListeners(inv *inventory.Inventory, d plan.Desired) map[string]plan.Facts {
	facts := plantest.Converged(inv, d)
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil {
			nf := facts[h.Name].NATS
			nf.ClientHost, nf.HTTPHost = n.ClientHost, n.HTTPHost
			nf.ClusterPort, nf.LeafnodePort = n.ClusterPort, n.LeafnodePort
		}
	}
	return facts
}
