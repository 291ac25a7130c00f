package inventory

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultGateTimeout is how long one gate may take to pass when the unit's role does not set
// gate_timeout: a hub node whose JetStream catches up on a large store can need minutes.
const DefaultGateTimeout = 2 * time.Minute

// DefaultSettle is how long apply gives the fleet to settle when no role's rollout block sets
// settle: leaves reconnect to the hub and wasmCloud hosts to their leaf within seconds of a
// restart, longer with many of them.
const DefaultSettle = 30 * time.Second

// The bounds of a rollout block's settle and gate_timeout.
const (
	minSettle = time.Second
	maxSettle = time.Hour
)

// parseSettle returns the duration a rollout block's settle or gate_timeout names, 0 when
// unset or invalid (validate reports it).
func parseSettle(s *string) time.Duration {
	if s == nil {
		return 0
	}
	d, err := time.ParseDuration(*s)
	if err != nil || d < minSettle || d > maxSettle {
		return 0
	}
	return d
}

// rolloutDurations checks role name's rollout settle and gate_timeout: durations from 1s to 1h.
func (v *validator) rolloutDurations(name string, ro *rolloutBlock) {
	for _, d := range []struct {
		attr, examples string
		val            *string
		rng            hcl.Range
	}{
		{"settle", `"30s" or "2m"`, ro.Settle, ro.SettleRange},
		{"gate_timeout", `"2m" or "10m"`, ro.GateTimeout, ro.GateTimeoutRange},
	} {
		if d.val != nil && parseSettle(d.val) == 0 {
			v.errorf(d.rng, "Invalid rollout "+d.attr,
				"%s %q in role %q must be a duration from 1s to 1h, such as %s.", d.attr, *d.val, name, d.examples)
		}
	}
}

// Settle is how long apply gives the fleet to settle after a change before a check that still
// fails counts: the longest settle a role's rollout block sets, else DefaultSettle.
func (inv *Inventory) Settle() time.Duration {
	var d time.Duration
	for _, h := range inv.Hosts {
		for _, ro := range h.Rollout {
			d = max(d, ro.Settle)
		}
	}
	if d == 0 {
		return DefaultSettle
	}
	return d
}
