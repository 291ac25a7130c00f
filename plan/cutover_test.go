package plan_test

import (
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"

	"github.com/latticepush/latticepush/inventory"
)

// TestCutover_NeverARollingDomainChange: whatever state the hubs are in when the domain
// differs — all on the old domain, a naive roll half done (mixed domains), a node down, two
// old domains, the alias on or off, other reloadable changes pending — the planner either
// refuses or stops and starts every hub in one cutover step. It never plans a "hub" wave,
// which would restart nodes one at a time into a mixed-domain cluster: split, yet /healthz 200.
func TestCutover_NeverARollingDomainChange(t *testing.T) {
	type scenario struct {
		name    string
		edit    func(src string) string
		facts   func(inv *inventory.Inventory, f map[string]plan.Facts)
		refused string // substring of the refusal; "" = planned
		from    string // the cutover's From, when checked
	}
	oldDomain := func(hubs ...string) func(*inventory.Inventory, map[string]plan.Facts) {
		return func(inv *inventory.Inventory, f map[string]plan.Facts) {
			for _, h := range hubs {
				f[h].NATS.Domain = "hub"
				f[h].NATS.RunningDigest = "sha256:old"
			}
		}
	}
	all := oldDomain("hub-1", "hub-2", "hub-3")
	scenarios := []scenario{
		{name: "every hub on the old domain", facts: all, from: "hub"},
		{name: "a naive roll half done: hub-3 already on the new domain", facts: oldDomain("hub-1", "hub-2"), from: "central,hub"},
		{name: "only the meta leader left on the old domain", facts: oldDomain("hub-1"), from: "central,hub"},
		{name: "alias off", edit: func(s string) string {
			return strings.Replace(s, `previous_js_domain = "hub"`, "previous_js_domain = \"hub\"\n  alias_old_domain = false", 1)
		}, facts: all},
		{name: "no previous domain named", edit: func(s string) string {
			return strings.Replace(s, `previous_js_domain = "hub"`, "", 1)
		}, facts: all},
		{name: "two old domains", facts: func(inv *inventory.Inventory, f map[string]plan.Facts) {
			all(inv, f)
			f["hub-2"].NATS.Domain = "other"
		}},
		{name: "a hub stopped", facts: func(inv *inventory.Inventory, f map[string]plan.Facts) {
			all(inv, f)
			f["hub-3"].Services[plan.ServiceNATS] = plan.ServiceFact{Enabled: true}
			*f["hub-3"].NATS = plan.NATSFacts{Version: "2.15.2", DesiredDigest: f["hub-3"].NATS.DesiredDigest}
		}},
		{name: "a hub unreachable", facts: func(inv *inventory.Inventory, f map[string]plan.Facts) {
			all(inv, f)
			f["hub-2"] = plan.Facts{Host: "hub-2", Err: "ssh: connection refused"}
		}, refused: "hub-2"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			inv := plantest.LoadExample(t, "domain-change", sc.edit)
			d := plantest.FakeDesired(inv, true)
			facts := plantest.Converged(inv, d)
			sc.facts(inv, facts)
			if _, err := plan.Build(inv, d, facts, plan.Options{}); err == nil || !strings.Contains(err.Error(), "-allow-domain-change") {
				t.Fatalf("planned a domain change without -allow-domain-change (err %v)", err)
			}
			p, err := plan.Build(inv, d, facts, plan.Options{AllowDomainChange: true})
			if sc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), sc.refused) {
					t.Fatalf("err %v, want a refusal naming %q", err, sc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Cutover == nil {
				t.Fatalf("no cutover; waves %+v", p.Waves)
			}
			if sc.from != "" && p.Cutover.From != sc.from {
				t.Errorf("cutover from %q, want %q", p.Cutover.From, sc.from)
			}
			for _, w := range p.Waves {
				if w.Name == inventory.RoleHub {
					t.Fatalf("a domain change produced a node-by-node hub wave: %v", w.Batches)
				}
			}
			w := p.Waves[0]
			if w.Name != "cutover" || len(w.Batches) != 1 || len(w.Batches[0]) != len(inv.Hubs()) {
				t.Fatalf("first wave %+v, want one step holding every hub", w)
			}
			for _, id := range w.Batches[0] {
				if u := p.Unit(id); u.Role != inventory.RoleHub || u.Action != plan.Cutover {
					t.Errorf("%s in the cutover step: role %s, action %s", id, u.Role, u.Action)
				}
			}
		})
	}
}

// TestCutover_ListsWhatTheLiveScanFound: streams storing the old API prefix, and what could
// not be scanned, appear in the consequences and in the refusal; a scan of another domain
// (a stale one) is not taken for this change.
func TestCutover_ListsWhatTheLiveScanFound(t *testing.T) {
	inv := plantest.LoadExample(t, "domain-change", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	for _, h := range inv.Hubs() {
		facts[h.Name].NATS.Domain = "hub"
	}
	if got := plan.DomainChange(inv, facts); len(got) != 1 || got[0] != "hub" {
		t.Fatalf("DomainChange = %v, want [hub]", got)
	}
	scan := &plan.DomainScan{
		Domain:    "hub",
		Scanned:   []string{`"hub" via hub-1`, `"edge1" via edge-1`},
		Streams:   []string{`stream ORDERS_COPY in domain "edge1" (via edge-1) mirrors ORDERS through $JS.hub.API`},
		Unscanned: []string{`leaf edge-2 (domain "edge2"): unreachable`},
	}
	_, err := plan.Build(inv, d, facts, plan.Options{DomainScan: scan})
	if err == nil || !strings.Contains(err.Error(), "ORDERS_COPY") || !strings.Contains(err.Error(), "edge-2") {
		t.Fatalf("refusal does not name the scan's findings: %v", err)
	}
	p, err := plan.Build(inv, d, facts, plan.Options{AllowDomainChange: true, DomainScan: scan})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(p.Cutover.Consequences, "\n")
	for _, want := range []string{"ORDERS_COPY", "recreate", "edge-2", "not scanned", "WASMCLOUD_JS_DOMAIN=central", "edge-1, edge-2, edge-3"} {
		if !strings.Contains(text, want) {
			t.Errorf("consequences lack %q:\n%s", want, text)
		}
	}

	scan = &plan.DomainScan{Domain: "hub", Scanned: scan.Scanned}
	p, _ = plan.Build(inv, d, facts, plan.Options{AllowDomainChange: true, DomainScan: scan})
	if text := strings.Join(p.Cutover.Consequences, "\n"); !strings.Contains(text, `no mirror or source stores $JS.hub.API in the JetStream domains scanned: "hub" via hub-1, "edge1" via edge-1`) {
		t.Errorf("a clean scan is not reported:\n%s", text)
	}
	scan.Domain = "elsewhere"
	p, _ = plan.Build(inv, d, facts, plan.Options{AllowDomainChange: true, DomainScan: scan})
	if text := strings.Join(p.Cutover.Consequences, "\n"); !strings.Contains(text, "not scanned for") {
		t.Errorf("a scan of another domain was taken for this change:\n%s", text)
	}
}
