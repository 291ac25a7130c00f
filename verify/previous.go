package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// After a domain cutover the inventory names the domain the hubs left (previous_js_domain).
// These checks report who still uses it: streams whose mirror or sources store its API prefix
// (in every reachable JetStream), and wasmCloud hosts answering the lattice's ping with it,
// inventory hosts or not. While the hubs keep the old domain answering (alias_old_domain),
// such users work and are warnings: they say what to repoint before the alias goes. Without
// the alias they are broken, and fail. Clients that merely address $JS.<old>.API cannot be
// seen by any server; the checks say so.

// previousDomain returns the domain the hubs left and whether the alias keeps it answering;
// "" when the inventory names none.
func (r *round) previousDomain() (string, bool) {
	l := r.inv.Lattice
	if l.PreviousJSDomain == "" || l.PreviousJSDomain == l.JSDomain {
		return "", false
	}
	return l.PreviousJSDomain, l.AliasOldDomain
}

func (r *round) previousTasks() []task {
	if old, _ := r.previousDomain(); old == "" {
		return nil
	}
	return []task{{run: r.checkPreviousStreams}, {run: func(ctx context.Context) []Result { return []Result{r.checkPreviousHosts(ctx)} }}}
}

// finding is a warning while the alias answers for the old domain, a failure without it.
func (r *round) finding(check, host, evidence, fix string) Result {
	res := fail(check, host, evidence, fix)
	if _, alias := r.previousDomain(); alias {
		res.OK, res.Warning = true, true
	}
	return res
}

// checkPreviousStreams scans every reachable JetStream for mirrors and sources through
// $JS.<old>.API: one result per stream found, or one pass naming what was scanned.
func (r *round) checkPreviousStreams(ctx context.Context) []Result {
	old, alias := r.previousDomain()
	scan := r.scanAPIPrefix(ctx, old)
	var out []Result
	fix := fmt.Sprintf("delete the stream and create it again with the API prefix $JS.%s.API (a mirror cannot be edited, err 10055)", r.inv.Lattice.JSDomain)
	for _, s := range scan.Streams {
		ev := s.String()
		if alias {
			ev += ": it copies through the alias until alias_old_domain = false"
		} else {
			ev += ": it stopped copying when the hubs left " + quoteDomain(old)
		}
		out = append(out, r.finding(CheckPreviousStreams, s.Via, ev, fix))
	}
	for _, u := range scan.Unscanned {
		out = append(out, r.finding(CheckPreviousStreams, "", "not scanned: "+u, "look for mirrors and sources through $JS."+old+".API there by hand"))
	}
	if len(out) == 0 {
		out = append(out, pass(CheckPreviousStreams, "", fmt.Sprintf("no stream stores $JS.%s.API (scanned %s)", old, strings.Join(scan.Scanned, ", "))))
	}
	return out
}

// checkPreviousHosts lists wasmCloud hosts answering the ping with the old domain.
func (r *round) checkPreviousHosts(ctx context.Context) Result {
	old, alias := r.previousDomain()
	pv := r.pingLattice(ctx, nil)
	if pv.err != nil {
		return fail(CheckPreviousHosts, "", pv.err.Error(), "bring the hub nodes up (see the hub checks)")
	}
	names := map[string]string{}
	for _, h := range r.inv.HostsWithRole(inventory.RoleWasmcloud) {
		if id, err := hostID(h); err == nil {
			names[id] = h.Name
		}
	}
	var on []string
	for id, h := range pv.hosts {
		if h.JSDomain != old {
			continue
		}
		who := names[id]
		if who == "" {
			who = fmt.Sprintf("%s (%s, not in the inventory)", short(id), h.FriendlyName)
		}
		on = append(on, who)
	}
	slices.Sort(on)
	note := fmt.Sprintf("clients that address $JS.%s.API directly cannot be seen by the servers", old)
	if alias {
		note += "; they fail once alias_old_domain = false"
	}
	if len(on) > 0 {
		return r.finding(CheckPreviousHosts, "", fmt.Sprintf("%d wasmCloud host(s) answer the ping with js_domain %q: %s; %s",
			len(on), old, strings.Join(on, ", "), note),
			fmt.Sprintf("restart them with WASMCLOUD_JS_DOMAIN=%s (inventory hosts: apply)", r.inv.Lattice.JSDomain))
	}
	return pass(CheckPreviousHosts, "", fmt.Sprintf("none of the %d wasmCloud host(s) answering the ping uses js_domain %q; %s",
		len(pv.hosts), old, note))
}

func quoteDomain(d string) string { return fmt.Sprintf("domain %q", d) }
