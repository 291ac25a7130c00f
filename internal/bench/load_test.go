package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLoadGate: a gate any machine passes returns a sample within 0-100% busy; a gate no
// machine passes refuses after its patience, naming the load and the threshold.
func TestLoadGate(t *testing.T) {
	ctx := context.Background()
	s, err := LoadGate{MaxBusy: 100, Window: 50 * time.Millisecond}.Wait(ctx)
	if err != nil || s.Busy < 0 || s.Busy > 100 {
		t.Fatalf("open gate: %+v, %v", s, err)
	}
	start := time.Now()
	_, err = LoadGate{MaxBusy: -1, Patience: 200 * time.Millisecond, Window: 50 * time.Millisecond}.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "machine busy") || !strings.Contains(err.Error(), "LATTICEPUSH_BENCH_MAX_BUSY") {
		t.Fatalf("closed gate: %v, want a refusal naming the threshold", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("refused after %s, before its patience of 200ms", took)
	}
}
