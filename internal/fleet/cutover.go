package fleet

import (
	"context"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify"
)

var _ plan.CutoverGates = (*Gates)(nil)

// HubNodeOn is HubNode with the hub expected on domain instead of the inventory's: a domain
// cutover's preflight (and its rollback) checks the hub on the domain it still runs.
func (g *Gates) HubNodeOn(ctx context.Context, host, domain string) error {
	_, err := verify.HubNodeGate(ctx, g.onDomain(domain), g.f.Targets(ctx), host, g.opts)
	return err
}

// LeafOn is Leaf for domain: after a cutover with the alias on, the old domain must answer
// through the leaf, from the hub.
func (g *Gates) LeafOn(ctx context.Context, host, domain string) error {
	_, err := verify.LeafGate(ctx, g.onDomain(domain), g.f.Targets(ctx), host, g.opts)
	return err
}

// onDomain is the fleet's inventory with the lattice on domain. The copy is shallow: hosts are
// shared and never changed.
func (g *Gates) onDomain(domain string) *inventory.Inventory {
	inv := *g.f.liveInventory()
	inv.Lattice.JSDomain = domain
	return &inv
}

// DomainScan scans every reachable JetStream domain (the hub's through a hub node, each
// leaf's own through its client port) for streams whose mirror or sources store the API
// prefix of from, the domain the hubs run now (plan.DomainChange). It returns nil unless
// from names exactly one domain: the planner then says the scan was not done.
func (f *Fleet) DomainScan(ctx context.Context, from []string) *plan.DomainScan {
	if len(from) != 1 {
		return nil
	}
	vs := verify.ScanAPIPrefix(ctx, f.inv, f.Targets(ctx), from[0], verify.Options{})
	ps := &plan.DomainScan{Domain: from[0], Scanned: vs.Scanned, Unscanned: vs.Unscanned}
	for _, s := range vs.Streams {
		ps.Streams = append(ps.Streams, s.String())
	}
	return ps
}
