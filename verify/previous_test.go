package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestPrevious_UsersOfTheOldDomainNamed: after a cutover from "old" to the hub's domain, a
// leaf's mirror through $JS.old.API and a wasmCloud host (not in the inventory) still on
// "old" are each named. With the alias on they are warnings (the report stays OK); without it
// they fail. With no previous_js_domain the checks do not run; with nothing left on the old
// domain they pass and say what was scanned.
func TestPrevious_UsersOfTheOldDomainNamed(t *testing.T) {
	lat := startHubs(t, 3)
	leaf := lat.startLeaf(leafSpec{name: "edge-1", domain: "edge1"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	inv := lat.inventory("edge-1")
	if rep := Run(ctx, inv, targets(inv), fast); len(pick(rep, "previous-domain")) != 0 {
		t.Fatalf("previous-domain checks ran without previous_js_domain: %+v", pick(rep, "previous-domain"))
	}
	inv.Lattice.PreviousJSDomain, inv.Lattice.AliasOldDomain = "old", true
	clean := Run(ctx, inv, targets(inv), fast)
	logReport(t, clean)
	for _, r := range pick(clean, "previous-domain") {
		if !r.OK || r.Warning {
			t.Errorf("nothing uses the old domain, yet: %+v", r)
		}
	}
	if r := find(t, clean, CheckPreviousStreams, ""); !strings.Contains(r.Evidence, `"edge1" via edge-1`) || !strings.Contains(r.Evidence, "via hub-1") {
		t.Errorf("the pass does not say what was scanned: %s", r.Evidence)
	}

	leafJS := jsOf(t, leaf.srv.ClientURL())
	mustStream(t, leafJS, jetstream.StreamConfig{Name: "ORDERS_COPY",
		Mirror: &jetstream.StreamSource{Name: "ORDERS", External: &jetstream.ExternalStream{APIPrefix: "$JS.old.API"}}})
	stranger := newHostID(t)
	fakeHost(t, lat, "edge-1", stranger, "old", nil)

	for _, alias := range []bool{true, false} {
		inv.Lattice.AliasOldDomain = alias
		rep := Run(ctx, inv, targets(inv), fast)
		logReport(t, rep)
		found := pick(rep, "previous-domain")
		if len(found) != 2 {
			t.Fatalf("alias %v: %d previous-domain results, want 2: %+v", alias, len(found), found)
		}
		for _, r := range found {
			if r.Warning != alias || r.OK != alias {
				t.Errorf("alias %v: %s ok=%v warning=%v, want both %v", alias, r.Check, r.OK, r.Warning, alias)
			}
		}
		s := find(t, rep, CheckPreviousStreams, "edge-1")
		if !strings.Contains(s.Evidence, "ORDERS_COPY") || !strings.Contains(s.Evidence, "$JS.old.API") || !strings.Contains(s.Fix, "$JS.hub.API") {
			t.Errorf("alias %v: stream finding: %s / fix %s", alias, s.Evidence, s.Fix)
		}
		h := find(t, rep, CheckPreviousHosts, "")
		if !strings.Contains(h.Evidence, short(stranger)) || !strings.Contains(h.Evidence, "not in the inventory") || !strings.Contains(h.Evidence, "cannot be seen") {
			t.Errorf("alias %v: host finding: %s", alias, h.Evidence)
		}
		if alias && len(rep.Warnings()) != 2 {
			t.Errorf("alias on: %d warnings, want 2", len(rep.Warnings()))
		}
	}
}

// pick returns the results of one check group.
func pick(rep Report, group string) []Result {
	var out []Result
	for _, r := range rep.Results {
		if r.Group == group {
			out = append(out, r)
		}
	}
	return out
}
