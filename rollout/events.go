package rollout

import (
	"time"

	"github.com/latticepush/latticepush/plan"
)

// EventKind says what an event reports.
type EventKind string

// The kinds of events apply reports, in the JSON event stream as "type".
const (
	EventPhase      EventKind = "phase"       // a phase (or a wave, or a step of a cutover) begins
	EventUnitStart  EventKind = "unit_start"  // a unit's change begins
	EventWait       EventKind = "wait"        // waiting for a gate
	EventWaited     EventKind = "waited"      // a wait for other hosts ended (elapsed_seconds)
	EventUnitDone   EventKind = "unit_done"   // a unit (or the whole cutover) changed and passed its gate
	EventUnitFailed EventKind = "unit_failed" // a unit's change or gate failed; a rollback follows
	EventRolledBack EventKind = "rolled_back" // a unit is back on its previous files and healthy
	EventWarning    EventKind = "warning"     // something to act on that did not stop the apply
	EventSnapshot   EventKind = "snapshot"    // a bucket snapshot file was written
	// EventSettled ends the final verify: every check passed after elapsed_seconds, or some
	// still failed at the settle deadline.
	EventSettled EventKind = "settled"
)

// PhaseName names a phase of apply in events.
type PhaseName string

// The phases, in the order they run. A wave's events carry PhaseWave and the wave's name.
const (
	PhaseLock      PhaseName = "lock"
	PhaseObserve   PhaseName = "observe"
	PhaseStage     PhaseName = "stage"
	PhasePrecheck  PhaseName = "precheck"
	PhasePeers     PhaseName = "peers"
	PhaseWave      PhaseName = "wave"
	PhasePreflight PhaseName = "preflight"
	PhaseSnapshot  PhaseName = "snapshot"
	PhaseCutover   PhaseName = "cutover"
	PhaseBuckets   PhaseName = "buckets"
	PhaseVerify    PhaseName = "verify"
	PhaseDone      PhaseName = "done"
)

// Event is one line of apply's progress.
type Event struct {
	Time  time.Time     `json:"time"`
	Type  EventKind     `json:"type"`
	Phase PhaseName     `json:"phase,omitempty"`
	Wave  plan.WaveName `json:"wave,omitempty"`
	// Unit names the unit ("host/service"); Host names the host of an event about a host as a
	// whole (unlocking, cleaning up).
	Unit    string      `json:"unit,omitempty"`
	Host    string      `json:"host,omitempty"`
	Action  plan.Action `json:"action,omitempty"`
	Message string      `json:"message,omitempty"`
	Elapsed float64     `json:"elapsed_seconds,omitempty"`
}

// Outcome is how one unit ended.
type Outcome string

// The outcomes of a unit.
const (
	Applied        Outcome = "applied"
	Unchanged      Outcome = "unchanged"
	RolledBack     Outcome = "rolled back"
	RollbackFailed Outcome = "rollback failed"
	NotReached     Outcome = "not reached"
	// Failed is a unit that changed nothing but whose gate did not pass (a leaf gated after a
	// cutover).
	Failed Outcome = "failed"
)

// UnitResult is how one unit ended.
type UnitResult struct {
	Unit     string      `json:"unit"`
	Action   plan.Action `json:"action"`
	Result   Outcome     `json:"result"`
	Error    string      `json:"error,omitempty"`
	Duration float64     `json:"seconds"`
}

// Result is what an apply did.
type Result struct {
	Units []UnitResult `json:"units"`
	// Verify is the final verification's summary; VerifyError is set when a check failed.
	Verify      string `json:"verify,omitempty"`
	VerifyError string `json:"verify_error,omitempty"`
	// Settle is how long the final verify took, in seconds: until every check passed, or until
	// the settle deadline when one still failed.
	Settle float64 `json:"settle_seconds"`
	// VerifySeconds is how long the final verify's last round took: its own time, without
	// the waits between rounds.
	VerifySeconds float64 `json:"verify_seconds"`
}
