package verify

import (
	"strings"
	"testing"
	"time"
)

// A certificate within 30 days of its end is a warning, an expired one a failure; the
// earliest of a hub's certificates decides.
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
