package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/verify"
)

// session is what cmd/latticepush builds for plan and apply, over a lab inventory.
type session struct {
	t       *testing.T
	inv     *inventory.Inventory
	desired plan.Desired
	opts    plan.Options
	pool    *remote.Pool
	fleet   *fleet.Fleet
	probes  []plan.Probe
	events  []plan.Event
	// snapshotDir is apply's --snapshot: where a cutover saves the lattice buckets.
	snapshotDir string
}

func newSession(t *testing.T, env *labtest.Env, opts plan.Options) *session {
	t.Helper()
	inv := env.Inventory(t)
	d, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(remote.Options{AgentSocket: "none"})
	t.Cleanup(func() { pool.Close() })
	s := &session{t: t, inv: inv, desired: d, opts: opts, pool: pool, fleet: fleet.New(inv, pool, fleet.Options{})}
	s.probes = plan.Probes(inv, d, opts)
	return s
}

func (s *session) build(facts map[string]plan.Facts) (*plan.Plan, error) {
	return plan.Build(s.inv, s.desired, facts, s.opts)
}

func (s *session) plan(ctx context.Context) *plan.Plan {
	s.t.Helper()
	p, err := s.build(s.fleet.Observe(ctx, s.probes))
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *session) gates() *fleet.Gates {
	return fleet.NewGates(s.fleet, verify.Options{GateTimeout: 90 * time.Second})
}

func (s *session) apply(ctx context.Context, p *plan.Plan) (*plan.Result, error) {
	return plan.Apply(ctx, p, s.probes, s.build, s.fleet, s.gates(), plan.ApplyOptions{
		Owner:       plan.LockOwner{User: "test", Host: "lab", PID: 1, Command: s.t.Name()},
		SnapshotDir: s.snapshotDir,
		Events: func(e plan.Event) {
			s.events = append(s.events, e)
			s.t.Logf("%s %s %s %s %s", e.Type, e.Phase, e.Unit, e.Action, e.Message)
		},
	})
}

func (s *session) verify(ctx context.Context) verify.Report {
	return verify.Run(ctx, s.inv, s.fleet.Targets(ctx), verify.Options{})
}

func results(r *plan.Result) map[string]string {
	out := map[string]string{}
	if r == nil {
		return out
	}
	for _, u := range r.Units {
		out[u.Unit] = u.Result
	}
	return out
}

func actions(p *plan.Plan) map[string]plan.Action {
	out := map[string]plan.Action{}
	for _, u := range p.Units {
		out[u.ID()] = u.Action
	}
	return out
}
