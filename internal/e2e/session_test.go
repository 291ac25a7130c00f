package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
)

// session is what cmd/latticepush builds for plan and apply (fleet.Session), over a lab
// inventory, recording apply's events.
type session struct {
	*fleet.Session
	t      *testing.T
	events []rollout.Event
	// snapshotDir is apply's --snapshot: where a cutover saves the lattice buckets.
	snapshotDir string
	// replan, when set, is apply's re-plan instead of the session's Build.
	replan rollout.Replanner
}

func newSession(t *testing.T, env *labtest.Env, opts plan.Options) *session {
	t.Helper()
	fs, err := fleet.NewSession(env.Inventory(t), opts, remote.Options{AgentSocket: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	return &session{Session: fs, t: t}
}

// plan plans as `latticepush plan` does, failing the test on an error.
func (s *session) plan(ctx context.Context) *plan.Plan {
	s.t.Helper()
	p, err := s.Plan(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// gateTimeout bounds the lab's gates in the tests' applies (apply's default is 2m).
const gateTimeout = 90 * time.Second

func (s *session) gates() *fleet.Gates {
	return s.Gates(verify.Options{GateTimeout: gateTimeout})
}

func (s *session) apply(ctx context.Context, p *plan.Plan) (*rollout.Result, error) {
	return rollout.Apply(ctx, rollout.Target{Plan: p, Probes: s.Probes, Replan: s.Build}, s.Fleet, s.gates(), rollout.Options{
		Owner:       rollout.LockOwner{User: "test", Host: "lab", PID: 1, Command: s.t.Name()},
		SnapshotDir: s.snapshotDir,
		GateTimeout: gateTimeout,
		Events: func(e rollout.Event) {
			s.events = append(s.events, e)
			s.t.Logf("%s %s %s %s %s", e.Type, e.Phase, e.Unit, e.Action, e.Message)
		},
	})
}

func (s *session) verify(ctx context.Context) verify.Report {
	return verify.Run(ctx, s.Inv, s.Fleet.Targets(ctx), verify.Options{})
}

func results(r *rollout.Result) map[string]string {
	out := map[string]string{}
	if r == nil {
		return out
	}
	for _, u := range r.Units {
		out[u.Unit] = string(u.Result)
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
