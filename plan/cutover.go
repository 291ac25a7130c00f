package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// planCutover detects a JetStream domain change on the hub and turns every hub unit into a
// cutover: a domain cannot be reloaded, and a node-by-node roll leaves a mixed-domain cluster
// that reports healthy while clients fail (nats.md §0.12, §7). So the planner never rolls a
// domain; it stops every hub and starts every hub.
func planCutover(inv *inventory.Inventory, facts map[string]Facts, p *Plan, opts Options) error {
	want := inv.Lattice.JSDomain
	live := map[string][]string{} // domain -> hubs running it
	for _, h := range inv.Hubs() {
		f, ok := facts[h.Name]
		if !ok || !f.Reachable() || f.NATS == nil || !f.Services[ServiceNATS].Running {
			continue
		}
		if f.NATS.Domain != "" && f.NATS.Domain != want {
			live[f.NATS.Domain] = append(live[f.NATS.Domain], h.Name)
		}
	}
	if len(live) == 0 {
		return nil
	}
	var from []string
	for d := range live {
		from = append(from, d)
	}
	sort.Strings(from)
	info := &CutoverInfo{From: strings.Join(from, ","), To: want}
	info.Alias = inv.Lattice.AliasOldDomain && inv.Lattice.PreviousJSDomain != "" && len(from) == 1 &&
		inv.Lattice.PreviousJSDomain == from[0]
	info.Consequences = cutoverConsequences(inv, info)
	if !opts.AllowDomainChange {
		return fmt.Errorf("the hub's JetStream domain would change from %q to %q. A domain cannot be reloaded "+
			"or changed node by node (a mixed-domain cluster reports healthy and is broken), so this is a "+
			"cutover: every hub stops, then every hub starts on the new domain.\n  %s\nRe-run with "+
			"-allow-domain-change to plan it", info.From, want, strings.Join(info.Consequences, "\n  "))
	}
	var missing []string
	for _, h := range inv.Hubs() {
		f, ok := facts[h.Name]
		if !opts.Selected(h.Name) || !ok || !f.Reachable() {
			missing = append(missing, h.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("a domain cutover needs every hub node, but %s %s not in this plan (unreachable, "+
			"-target or -exclude); bring them in and plan again", strings.Join(missing, ", "), isAre(len(missing)))
	}
	p.Cutover = info
	if !info.Alias {
		p.Warnings = append(p.Warnings, fmt.Sprintf("no alias for the old domain: clients and wasmCloud hosts on "+
			"%q fail as soon as the hubs restart; set previous_js_domain = %q in the lattice block to keep it "+
			"answering on the hubs until they move", info.From, info.From))
	} else {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the hubs keep answering for domain %q through a mapping "+
			"table that NATS does not document (design §7); remove it once no client uses %q "+
			"(alias_old_domain = false)", info.From, info.From))
	}
	for _, u := range p.Units {
		if u.Role == inventory.RoleHub && u.Service == ServiceNATS {
			u.Action = Cutover
			u.Reasons = append([]string{fmt.Sprintf("JetStream domain %s -> %s", info.From, want)}, u.Reasons...)
		}
	}
	return nil
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// cutoverConsequences lists, from the inventory, what a domain change touches.
func cutoverConsequences(inv *inventory.Inventory, info *CutoverInfo) []string {
	var out []string
	var hubs, leaves, hosts []string
	for _, h := range inv.Hosts {
		switch {
		case h.Hub != nil:
			hubs = append(hubs, h.Name)
		case h.Leaf != nil:
			leaves = append(leaves, h.Name)
		}
		if h.Wasmcloud != nil {
			hosts = append(hosts, h.Name)
		}
	}
	out = append(out, fmt.Sprintf("hub nodes stop together and start on %q: %s (JetStream is unavailable "+
		"until quorum returns; KV data is kept)", info.To, strings.Join(hubs, ", ")))
	if len(leaves) > 0 {
		out = append(out, fmt.Sprintf("leaves reconnect and learn the new domain: %s", strings.Join(leaves, ", ")))
	}
	if len(hosts) > 0 {
		out = append(out, fmt.Sprintf("wasmCloud hosts restart with WASMCLOUD_JS_DOMAIN=%s: %s", info.To, strings.Join(hosts, ", ")))
	}
	out = append(out, fmt.Sprintf("clients that address domain %q fail%s; mirrors and sources that store the API "+
		"prefix $JS.%s.API stop silently and must be recreated (nats.md §7)", info.From,
		map[bool]string{true: " once the alias is removed", false: " at once"}[info.Alias], info.From))
	return out
}
