package plan

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// planTLSMove refuses to turn route TLS on (or off) by a restart on a running server of a
// cluster: the hub cluster, or a relay cluster of two relays or more (a relay's routes follow
// the hubs' rules). Routes cannot move that way (nats-server 2.15, tested in the lab): a node
// with cluster TLS requires it of every route and dials with it, a node without cannot speak
// it, so a restarted node is cut off from the others. A reload can: it keeps the routes it has
// (plaintext until they reconnect) while the node starts requiring TLS of new ones; so turning
// route TLS on alone (`links = "routes"`, which leaves out leafnode TLS, which no reload turns
// on) reloads, and the later restarts re-make the routes over TLS with peers that all speak it.
func planTLSMove(inv *inventory.Inventory, facts map[string]Facts, p *Plan) error {
	var restarted []string // "hubs (hub-1, hub-2)", `relays of cluster "relays" (relay-1)`
	byCluster := map[string][]string{}
	var clusters []string
	want := false
	for _, u := range p.Units {
		if u.Service != ServiceNATS || !u.WasRunning || u.Action == Reload {
			continue
		}
		h := inv.Host(u.Host)
		var cluster string
		switch {
		case h == nil:
			continue
		case u.Role == RoleHub && len(inv.Hubs()) > 1:
			cluster = "hubs"
		case u.Role == RoleRelay && len(inv.RelayCluster(h)) > 1:
			cluster = fmt.Sprintf("relays of relay cluster %q", h.Leaf.ClusterName)
		default:
			continue
		}
		var desired []byte
		for _, fc := range u.Files {
			if fc.Path == u.ConfigPath {
				desired = fc.Content()
			}
		}
		have := facts[u.Host].Files[u.ConfigPath].Content
		if desired == nil || have == nil {
			continue
		}
		hr, _, err1 := unit.LinkTLS(have)
		wr, _, err2 := unit.LinkTLS(desired)
		if err1 != nil || err2 != nil || hr == wr {
			continue
		}
		want = wr
		if byCluster[cluster] == nil {
			clusters = append(clusters, cluster)
		}
		byCluster[cluster] = append(byCluster[cluster], u.Host)
	}
	if len(clusters) == 0 {
		return nil
	}
	for _, c := range clusters {
		restarted = append(restarted, fmt.Sprintf("%s (%s)", c, strings.Join(byCluster[c], ", ")))
	}
	which := strings.Join(restarted, " and ")
	if !want {
		return fmt.Errorf("the plan would restart running %s with route TLS turned off, which cannot be done one node at a time: "+
			"a server with route TLS and one without cannot route to each other. Stop nats-server on every server of the cluster, then plan and apply again. Nothing was changed",
			which)
	}
	return fmt.Errorf("the plan would restart running %s with route TLS turned on, which cannot be done one node at a time: "+
		"a server with route TLS and one without cannot route to each other, so the first to restart would be cut off from its cluster. Either "+
		"move in steps (README, TLS): set links = \"routes\" in the tls block and apply (each hub, and each relay of a relay cluster, reloads with TLS on its routes), "+
		"remove it and apply -target one hub (and one relay of each upstream), then apply -exclude the other hubs (and relays; the leaves reload onto TLS), then apply; "+
		"or stop nats-server on every server of the cluster (e.g. `systemctl stop nats-server` or `sv stop nats-server`: JetStream is unavailable until the hubs are back) "+
		"and apply: the servers start together with TLS. Nothing was changed", which)
}
