package fleet

import (
	"github.com/latticepush/latticepush/inventory"
)

// The gates must reach each nats-server where it listens now. Until apply swaps a host's
// config in, that is where the running server was observed: during a rollout that changes a
// monitoring or client port, the hosts not yet reached still listen on the old one, and a
// host that was rolled back listens there again. After a swap it is the inventory's.

// livePorts are a running nats-server's client and monitoring ports, as /varz reported them.
type livePorts struct{ client, http int }

// recordPorts remembers where host's running server was observed to listen.
func (f *Fleet) recordPorts(host string, client, http int) {
	if client == 0 && http == 0 {
		return
	}
	f.liveMu.Lock()
	defer f.liveMu.Unlock()
	if f.observed == nil {
		f.observed = map[string]livePorts{}
	}
	f.observed[host] = livePorts{client: client, http: http}
}

// setSwapped records whether host's nats-server config is the inventory's (swapped in) or
// the one it was observed running (before the swap, or after a restore).
func (f *Fleet) setSwapped(host string, swapped bool) {
	f.liveMu.Lock()
	defer f.liveMu.Unlock()
	if f.swapped == nil {
		f.swapped = map[string]bool{}
	}
	f.swapped[host] = swapped
}

// liveInventory is the inventory with each nats-server's ports where it listens now. Hosts
// whose ports agree with the inventory are shared, not copied.
func (f *Fleet) liveInventory() *inventory.Inventory {
	f.liveMu.Lock()
	defer f.liveMu.Unlock()
	inv := *f.inv
	inv.Hosts = make([]*inventory.Host, len(f.inv.Hosts))
	for i, h := range f.inv.Hosts {
		inv.Hosts[i] = h
		live, ok := f.observed[h.Name]
		n := h.NATS()
		if !ok || f.swapped[h.Name] || n == nil || (live.client == n.ClientPort && live.http == n.HTTPPort) {
			continue
		}
		hc, nc := *h, *n
		if live.client != 0 {
			nc.ClientPort = live.client
		}
		if live.http != 0 {
			nc.HTTPPort = live.http
		}
		if h.Hub != nil {
			hc.Hub = &nc
		} else {
			hc.Leaf = &nc
		}
		inv.Hosts[i] = &hc
	}
	return &inv
}
