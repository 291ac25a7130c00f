package fleet

import (
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/rollout"
)

// view is the inventory as the gates must see it under exp: the lattice on exp.Domain (when
// set) and each listed host's nats-server on the listeners it has now (client and monitoring
// host and port, cluster and leafnode port). The copy is shallow where nothing differs; inv
// itself is never changed.
func view(inv *inventory.Inventory, exp rollout.Expect) *inventory.Inventory {
	if exp.Domain == "" && len(exp.Ports) == 0 {
		return inv
	}
	out := *inv
	if exp.Domain != "" {
		out.Lattice.JSDomain = exp.Domain
	}
	out.Hosts = make([]*inventory.Host, len(inv.Hosts))
	for i, h := range inv.Hosts {
		out.Hosts[i] = h
		now, ok := exp.Ports[h.Name]
		n := h.NATS()
		if !ok || n == nil {
			continue
		}
		hc, nc := *h, *n
		if now.ClientHost != "" {
			nc.ClientHost = now.ClientHost
		}
		if now.Client != 0 {
			nc.ClientPort = now.Client
		}
		if now.HTTPHost != "" {
			nc.HTTPHost = now.HTTPHost
		}
		if now.HTTP != 0 {
			nc.HTTPPort = now.HTTP
		}
		if now.Cluster != 0 {
			nc.ClusterPort = now.Cluster
		}
		if now.Leafnode != 0 {
			nc.LeafnodePort = now.Leafnode
		}
		if h.Hub != nil {
			hc.Hub = &nc
		} else {
			hc.Leaf = &nc
		}
		out.Hosts[i] = &hc
	}
	return &out
}
