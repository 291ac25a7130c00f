package plan

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// planTLSMove refuses to turn route TLS on (or off) on a running hub by a restart. Routes
// cannot move that way (nats-server 2.15, tested in the lab): a node with cluster TLS requires
// it of every route and dials with it, a node without cannot speak it, so a restarted node is
// cut off from the others. A reload can: it keeps the routes it has (plaintext until they
// reconnect) while the node starts requiring TLS of new ones; so turning route TLS on alone
// (`links = "routes"`, which leaves out leafnode TLS, which no reload turns on) reloads, and
// the later restarts re-make the routes over TLS with peers that all speak it.
func planTLSMove(inv *inventory.Inventory, facts map[string]Facts, p *Plan) error {
	if len(inv.Hubs()) < 2 {
		return nil
	}
	var restarted []string
	want := false
	for _, u := range p.Units {
		if u.Role != RoleHub || u.Service != ServiceNATS || !u.WasRunning || u.Action == Reload {
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
		restarted = append(restarted, u.Host)
	}
	if len(restarted) == 0 {
		return nil
	}
	if !want {
		return fmt.Errorf("the plan would restart running hubs (%s) with route TLS turned off, which cannot be done one node at a time: "+
			"a hub with route TLS and one without cannot route to each other. Stop nats-server on every hub, then plan and apply again. Nothing was changed",
			strings.Join(restarted, ", "))
	}
	return fmt.Errorf("the plan would restart running hubs (%s) with route TLS turned on, which cannot be done one node at a time: "+
		"a hub with route TLS and one without cannot route to each other, so the first to restart would be cut off from the cluster. Either "+
		"move in steps (README, TLS): set links = \"routes\" in the tls block and apply (each hub reloads with TLS on its routes and client port), "+
		"remove it and apply -target one hub, then apply -exclude the other hubs (the leaves reload onto TLS), then apply; "+
		"or stop nats-server on every hub (e.g. `systemctl stop nats-server` or `sv stop nats-server`: JetStream is unavailable until they are back) "+
		"and apply: the hubs start together with TLS. Nothing was changed", strings.Join(restarted, ", "))
}
