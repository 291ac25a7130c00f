package plan

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// planTLSMove refuses to turn TLS on (or off) on the routes of a running hub cluster. Routes
// cannot move one node at a time (nats-server 2.15, tested in the lab): a node with cluster
// TLS requires it of every route and dials with it, a node without cannot speak it, so a
// restarted node is cut off from the others; a reload turns route TLS on but keeps the
// plaintext routes until they reconnect, and no reload turns on leafnode TLS. A fleet moves
// by stopping every hub first: the plan then starts them together with TLS (as on a first
// deployment), and the leaves restart onto TLS links.
func planTLSMove(inv *inventory.Inventory, facts map[string]Facts, p *Plan) error {
	if len(inv.Hubs()) < 2 {
		return nil
	}
	var running []string
	want := false
	for _, u := range p.Units {
		if u.Role != RoleHub || u.Service != ServiceNATS || !u.WasRunning {
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
		running = append(running, u.Host)
	}
	if len(running) == 0 {
		return nil
	}
	turn := "on"
	if !want {
		turn = "off"
	}
	return fmt.Errorf("the plan would turn route TLS %s on running hubs (%s), which cannot be done one node at a time: "+
		"a hub with route TLS and one without cannot route to each other, so the first to restart would be cut off from the cluster. "+
		"Stop nats-server on every hub (e.g. `systemctl stop nats-server` or `sv stop nats-server`: JetStream is unavailable until they are back), "+
		"then plan and apply again: the hubs start together with the new links and the leaves restart onto them. Nothing was changed",
		turn, strings.Join(running, ", "))
}
