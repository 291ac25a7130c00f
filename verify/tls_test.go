package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// A certificate within the renewal window (30 days unless tls renew_before says otherwise) of
// its end is a warning, an expired one a failure; the earliest of a hub's certificates decides.
func TestExpiry(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	r := &round{opts: Options{Now: func() time.Time { return now }}}
	for _, c := range []struct {
		left        time.Duration
		ok, warning bool
		evidenceHas string
	}{
		{80 * 24 * time.Hour, true, false, "valid until 2027-02-24"},
		{10 * 24 * time.Hour, true, true, "expires in 10 days"},
		{-time.Hour, false, false, "has EXPIRED"},
	} {
		res := r.expiry(CheckHubTLS, "hub-1", "ports require TLS", map[string]time.Time{
			"client": now.Add(c.left), "cluster": now.Add(c.left + time.Hour), "leafnode": {},
		})
		if res.OK != c.ok || res.Warning != c.warning || !strings.Contains(res.Evidence, c.evidenceHas) {
			t.Errorf("%s left: ok %v warning %v %q, want ok %v warning %v and %q", c.left, res.OK, res.Warning, res.Evidence, c.ok, c.warning, c.evidenceHas)
		}
		if !c.ok || c.warning {
			if res.Fix == "" {
				t.Errorf("%s left: no fix", c.left)
			}
		}
	}
}

// With renew_before = 45d, a certificate 40 days from its end is due: a warning.
func TestExpiry_RenewBefore(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	inv := &inventory.Inventory{}
	inv.Lattice.TLS = &inventory.TLS{RenewBefore: 45 * 24 * time.Hour}
	r := &round{inv: inv, opts: Options{Now: func() time.Time { return now }}}
	res := r.expiry(CheckHubTLS, "hub-1", "ports require TLS", map[string]time.Time{"client": now.Add(40 * 24 * time.Hour)})
	if !res.OK || !res.Warning || !strings.Contains(res.Evidence, "expires in 40 days") {
		t.Errorf("40 days left, renew_before 45d: ok %v warning %v %q, want a warning", res.OK, res.Warning, res.Evidence)
	}
	inv.Lattice.TLS.RenewBefore = 0
	if res := r.expiry(CheckHubTLS, "hub-1", "ports require TLS", map[string]time.Time{"client": now.Add(40 * 24 * time.Hour)}); res.Warning {
		t.Errorf("40 days left, default window: a warning %q", res.Evidence)
	}
}
