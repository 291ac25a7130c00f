package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// planCutover detects a JetStream domain change on the hub and turns every hub unit into a
// cutover: a domain cannot be reloaded, and a node-by-node roll leaves a mixed-domain cluster
// that reports healthy (/healthz 200 on every node) while clients fail: routes only register
// peers of the same domain, so the cluster splits. So the planner never rolls a
// domain; it stops every hub and starts every hub.
func planCutover(inv *inventory.Inventory, facts map[string]Facts, p *Plan, opts Options) error {
	want := inv.Lattice.JSDomain
	from := DomainChange(inv, facts)
	if len(from) == 0 {
		return nil
	}
	split := len(from) > 1
	for _, h := range inv.Hubs() {
		if f, ok := facts[h.Name]; ok && f.NATS != nil && f.Services[ServiceNATS].Running && f.NATS.Domain == want {
			split = true // some nodes already run the new domain: a node-by-node change was begun
			from = append(from, want)
			sort.Strings(from)
			break
		}
	}
	// From lists every domain the running hubs serve when they disagree: the cluster is split
	// already (no quorum can be proven), and apply skips a preflight that cannot pass.
	info := &CutoverInfo{From: strings.Join(from, ","), To: want}
	info.Alias = inv.Lattice.AliasOldDomain && inv.Lattice.PreviousJSDomain != "" && !split &&
		inv.Lattice.PreviousJSDomain == from[0]
	info.Consequences = cutoverConsequences(inv, info, opts.DomainScan)
	if split {
		info.Consequences = append([]string{fmt.Sprintf("the hub is split across domains %s: it reports healthy "+
			"and is broken (a node-by-node change was begun); the cutover repairs it", info.From)}, info.Consequences...)
	}
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
			"table that NATS does not document (docs/domain-alias.md); remove it once no client uses %q "+
			"(alias_old_domain = false)", info.From, info.From))
	}
	for _, u := range p.Units {
		if u.Role == RoleHub && u.Service == ServiceNATS {
			u.Action = Cutover
			u.Reasons = append([]string{fmt.Sprintf("JetStream domain %s -> %s", info.From, want)}, u.Reasons...)
		}
	}
	return nil
}

// DomainChange returns the JetStream domains that running hub nodes serve other than the
// inventory's, sorted: empty when the domain does not change. Callers scan what those
// domains' users are (verify.ScanAPIPrefix) and hand it to Build as Options.DomainScan.
func DomainChange(inv *inventory.Inventory, facts map[string]Facts) []string {
	want := inv.Lattice.JSDomain
	var from []string
	for _, h := range inv.Hubs() {
		f, ok := facts[h.Name]
		if !ok || !f.Reachable() || f.NATS == nil || !f.Services[ServiceNATS].Running {
			continue
		}
		if d := f.NATS.Domain; d != "" && d != want && !slices.Contains(from, d) {
			from = append(from, d)
		}
	}
	sort.Strings(from)
	return from
}

// DomainScan is what a live scan found about the users of the domain the hubs run now.
type DomainScan struct {
	// Domain is the domain scanned for; the scan is used only when it is the one left.
	Domain string `json:"domain"`
	// Scanned names the JetStream domains that were listed, with the host they were listed
	// through: `"hub" via hub-1`.
	Scanned []string `json:"scanned,omitempty"`
	// Streams describe, one line each, streams whose mirror or sources store the API
	// prefix $JS.<Domain>.API: they stop silently after the change and must be recreated.
	Streams []string `json:"streams,omitempty"`
	// Unscanned names each JetStream that could not be listed, and why.
	Unscanned []string `json:"unscanned,omitempty"`
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// cutoverConsequences lists, from the inventory, what a domain change touches.
func cutoverConsequences(inv *inventory.Inventory, info *CutoverInfo, scan *DomainScan) []string {
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
	when := " at once"
	if info.Alias {
		when = " once the alias is removed"
	}
	out = append(out, fmt.Sprintf("clients that address domain %q fail%s; repoint them to %q", info.From, when, info.To))
	prefix := "$JS." + info.From + ".API"
	switch {
	case scan == nil || scan.Domain != info.From:
		out = append(out, fmt.Sprintf("mirrors and sources that store the API prefix %s stop silently and must be "+
			"deleted and created again (the server refuses to edit a mirror); they were not scanned for",
			prefix))
	default:
		for _, st := range scan.Streams {
			out = append(out, "recreate after the change (it stops silently, and its mirror cannot be edited): "+st)
		}
		for _, u := range scan.Unscanned {
			out = append(out, fmt.Sprintf("not scanned for %s, look there by hand: %s", prefix, u))
		}
		if len(scan.Streams) == 0 {
			out = append(out, fmt.Sprintf("no mirror or source stores %s in the JetStream domains scanned: %s", prefix, strings.Join(scan.Scanned, ", ")))
		}
	}
	return out
}
