package fleet

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/verify"
)

// Session is what plan and apply run over: an inventory, its rendered files, one SSH pool
// and the Fleet on it. cmd/latticepush and the lab tests build it the same way, so the tests
// run the CLI's wiring.
type Session struct {
	Inv     *inventory.Inventory
	Desired plan.Desired
	Opts    plan.Options
	Pool    *remote.Pool
	Fleet   *Fleet
	Probes  []plan.Probe
}

// NewSession renders inv and opens a pool (nothing is dialed yet). The caller closes it.
func NewSession(inv *inventory.Inventory, opts plan.Options, ropts remote.Options) (*Session, error) {
	for _, name := range append(append([]string{}, opts.Targets...), opts.Excludes...) {
		if inv.Host(name) == nil {
			return nil, fmt.Errorf("no host %q in %s: -target and -exclude take host names", name, inv.Filename)
		}
	}
	desired, err := plan.Render(inv)
	if err != nil {
		return nil, err
	}
	opts.Artifacts = HashArtifacts(inv)
	pool := remote.NewPool(ropts)
	s := &Session{Inv: inv, Desired: desired, Opts: opts, Pool: pool, Fleet: New(inv, pool, Options{}),
		Probes: plan.Probes(inv, desired, opts)}
	s.Fleet.ObserveWhenLocking(s.Probes) // apply observes right after it locks
	return s, nil
}

// Close closes every connection of the session.
func (s *Session) Close() { s.Pool.Close() }

// Plan observes every selected host, scans the live users of the domain the hubs leave (only
// when they run another domain than the inventory's, so the plan can name them), and builds.
func (s *Session) Plan(ctx context.Context) (*plan.Plan, error) {
	facts := s.Fleet.Observe(ctx, s.Probes)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.PlanFrom(ctx, facts)
}

// PlanFrom is Plan from facts already observed (apply's plan under its lock).
func (s *Session) PlanFrom(ctx context.Context, facts map[string]plan.Facts) (*plan.Plan, error) {
	s.Opts.DomainScan = s.Fleet.DomainScan(ctx, plan.DomainChange(s.Inv, facts))
	return s.Build(facts)
}

// Build is plan.Build with the session's inventory, files and options (apply's re-plan); the
// plan names the inventory by its absolute path.
func (s *Session) Build(facts map[string]plan.Facts) (*plan.Plan, error) {
	p, err := plan.Build(s.Inv, s.Desired, facts, s.Opts)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(s.Inv.Filename); err == nil {
		p.Inventory = abs
	}
	return p, nil
}

// Gates returns apply's gates over the session's fleet.
func (s *Session) Gates(opts verify.Options) *Gates { return NewGates(s.Fleet, opts) }
