package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/rollout"
)

// applyEvents writes events as `apply --json` prints them, one per line, with a final result
// line and a non-event line mixed in.
func applyEvents(t *testing.T, events ...rollout.Event) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("not an event\n")
	for _, e := range events {
		js, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(js)
		b.WriteString("\n")
	}
	b.WriteString(`{"format_version":"1.0","ok":true}` + "\n")
	return []byte(b.String())
}

func TestBatchSpansAndPhaseTime(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(ms int, kind rollout.EventKind, unit string) rollout.Event {
		return rollout.Event{Time: at(ms), Type: kind, Unit: unit}
	}
	phase := func(ms int, p rollout.PhaseName) rollout.Event {
		return rollout.Event{Time: at(ms), Type: rollout.EventPhase, Phase: p}
	}
	out := applyEvents(t,
		phase(0, rollout.PhaseLock), phase(100, rollout.PhaseRelease), phase(1600, rollout.PhaseStage),
		phase(2000, rollout.PhaseWave),
		// batch 1: two units together, the slower ends at 3500
		ev(2100, rollout.EventUnitStart, "hub-1/nats-server"), ev(2100, rollout.EventUnitStart, "hub-2/nats-server"),
		ev(2500, rollout.EventWait, "hub-1/nats-server"), ev(3000, rollout.EventUnitDone, "hub-1/nats-server"),
		ev(3500, rollout.EventUnitDone, "hub-2/nats-server"),
		// batch 2: one unit rolled back
		ev(3700, rollout.EventUnitStart, "edge-1/nats-server"), ev(3800, rollout.EventUnitFailed, "edge-1/nats-server"),
		ev(4200, rollout.EventUnitStart, "edge-2/nats-server"), ev(4400, rollout.EventRolledBack, "edge-2/nats-server"),
		phase(5000, rollout.PhaseVerify),
	)
	spans := batchSpans(t, out)
	want := Series{1400 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	if len(spans) != len(want) {
		t.Fatalf("batchSpans = %v, want %v", spans, want)
	}
	for i := range want {
		if spans[i] != want[i] {
			t.Errorf("batch %d: %s, want %s", i+1, spans[i], want[i])
		}
	}
	if got := spans.Sum(); got != 1700*time.Millisecond {
		t.Errorf("Sum = %s, want 1.7s", got)
	}
	if got := phaseTime(t, out, rollout.PhaseRelease); got != 1500*time.Millisecond {
		t.Errorf("release phase: %s, want 1.5s", got)
	}
	if got := phaseTime(t, out, rollout.PhaseCutover); got != 0 {
		t.Errorf("a phase that did not run: %s, want 0", got)
	}

	// The run started 0.5 s before its first event and ended 0.2 s after its last.
	run := cliRun{Started: at(-500), Wall: 5700 * time.Millisecond, Out: out}
	wantSplit := "before the first phase 0.500 s, lock 0.100 s, release 1.50 s, stage 0.400 s, wave 3.00 s, verify 0.000 s, after the last event 0.200 s"
	if got := applyPhases(run); got != wantSplit {
		t.Errorf("applyPhases:\n got %s\nwant %s", got, wantSplit)
	}
}
