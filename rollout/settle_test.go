package rollout

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan/plantest"
)

// leafRestarts is a fixture whose plan restarts the three leaves (a run script differs) and
// changes nothing else: the leaf wave, one leaf per batch.
func leafRestarts(t *testing.T) *applyFixture {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		fx.fleet.hosts[h].files["/etc/sv/nats-server/run"] = []byte("#!/bin/sh\nold\n")
	}
	return fx
}

func eventsOf(events []Event, kind EventKind) []Event {
	var out []Event
	for _, e := range events {
		if e.Type == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestApply_FinalVerifySettles: the final verify fails twice (a leaf still reconnecting), then
// passes; the apply reports success, how long settling took, and one wait naming what failed.
func TestApply_FinalVerifySettles(t *testing.T) {
	fx := leafRestarts(t)
	fx.settle = 20 * time.Second
	fx.gates.verifyFails = 2
	p, probes := fx.plan(t)
	var events []Event
	res, err := fx.apply(context.Background(), p, probes, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	if res.VerifyError != "" || res.Verify != "all checks passed" {
		t.Errorf("verify %q, error %q: want the passing round's result", res.Verify, res.VerifyError)
	}
	if fx.gates.verifyCalls != 3 {
		t.Errorf("%d verify rounds, want 3 (two failing, then the passing one)", fx.gates.verifyCalls)
	}
	// Two waits of 0.5s and 1s lie between the rounds; 15s is a generous upper bound.
	if res.Settle < 1.4 || res.Settle > 15 {
		t.Errorf("settle_seconds %.2f, want about 1.5", res.Settle)
	}
	waits := eventsOf(events, EventWait)
	if n := len(waits); n == 0 || !strings.Contains(waits[n-1].Message, "waiting up to") ||
		!strings.Contains(waits[n-1].Message, "leaf.remote-connected on edge-2") {
		t.Errorf("no wait naming the failing check: %+v", waits)
	}
	settled := eventsOf(events, EventSettled)
	if len(settled) != 1 || !strings.HasPrefix(settled[0].Message, "every check passed after ") ||
		!strings.Contains(settled[0].Message, "(3 verify round(s), the last ") || settled[0].Elapsed != res.Settle {
		t.Errorf("settled events %+v, want one saying every check passed after 3 rounds, with the result's time", settled)
	}
}

// TestApply_FailureOutlastsTheSettleDeadline: a check that keeps failing fails the final
// verify once the settle deadline has passed, not before, and not much after.
func TestApply_FailureOutlastsTheSettleDeadline(t *testing.T) {
	fx := leafRestarts(t)
	fx.settle = 2 * time.Second
	fx.gates.verifyFails = 1 << 30
	p, probes := fx.plan(t)
	var events []Event
	res, err := fx.apply(context.Background(), p, probes, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatalf("apply: %v (a failing final verify is reported in the result, not as an error)", err)
	}
	if !strings.Contains(res.VerifyError, "leaf.remote-connected on edge-2: no leaf remote connected") {
		t.Errorf("verify error %q, want the check that still fails", res.VerifyError)
	}
	if res.Settle < 2 || res.Settle > 10 {
		t.Errorf("settle_seconds %.2f, want the 2s deadline (the last round runs at it)", res.Settle)
	}
	if fx.gates.verifyCalls < 2 {
		t.Errorf("%d verify round(s): a failing check must be retried before the deadline", fx.gates.verifyCalls)
	}
	settled := eventsOf(events, EventSettled)
	if len(settled) != 1 || !strings.HasPrefix(settled[0].Message, "still failing after ") || !strings.Contains(settled[0].Message, "settle 2s") {
		t.Errorf("settled events %+v, want one saying what still fails at the deadline", settled)
	}
}

// TestApply_LeafRestartWaitsForItsWasmcloudHost: after each leaf restart the wasmCloud host on
// that machine (unchanged by this apply) takes a moment to answer again; the next batch starts
// only once it does, and the wait is reported.
func TestApply_LeafRestartWaitsForItsWasmcloudHost(t *testing.T) {
	fx := leafRestarts(t)
	fx.fleet.answerDelay = 200 * time.Millisecond
	p, probes := fx.plan(t)
	var order []string
	for _, w := range p.Waves {
		for _, b := range w.Batches {
			order = append(order, strings.TrimSuffix(b[0], "/nats-server"))
		}
	}
	if len(order) != 3 {
		t.Fatalf("batches %v, want one leaf each", order)
	}
	var events []Event
	if _, err := fx.apply(context.Background(), p, probes, func(e Event) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	log := slices.Clone(fx.fleet.log)
	at := func(line string) int {
		i := slices.Index(log, line)
		if i < 0 {
			t.Fatalf("%q not in the log:\n%s", line, strings.Join(log, "\n"))
		}
		return i
	}
	for i, h := range order {
		answered := at(h + " wasmcloud answers")
		if restarted := at(h + " nats-server restart"); answered < restarted {
			t.Errorf("%s: wasmCloud answered before its leaf restarted", h)
		}
		if i+1 < len(order) && at(order[i+1]+" nats-server restart") < answered {
			t.Errorf("%s restarted before the wasmCloud host on %s answered again", order[i+1], h)
		}
	}
	var waited []string
	for _, e := range eventsOf(events, EventWaited) {
		if strings.Contains(e.Message, "answering again") {
			waited = append(waited, e.Message)
			if e.Elapsed < 0.1 {
				t.Errorf("%q: elapsed %.3fs, want the time it waited", e.Message, e.Elapsed)
			}
		}
	}
	if len(waited) != 3 {
		t.Errorf("waits %q, want one per leaf batch", waited)
	}
}

// TestApply_SilentWasmcloudHostIsAWarning: a wasmCloud host that does not answer again within
// the settle time is a warning; the rollout goes on and the final verify judges it.
func TestApply_SilentWasmcloudHostIsAWarning(t *testing.T) {
	fx := leafRestarts(t)
	fx.settle = 300 * time.Millisecond
	fx.fleet.answerDelay = time.Hour
	p, probes := fx.plan(t)
	var events []Event
	res, err := fx.apply(context.Background(), p, probes, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	if r := results(res); r["edge-1/nats-server"] != string(Applied) || r["edge-3/nats-server"] != string(Applied) {
		t.Errorf("results %v, want every leaf applied", r)
	}
	var warned int
	for _, e := range eventsOf(events, EventWarning) {
		if strings.Contains(e.Message, "not answering again") && strings.Contains(e.Message, "settle 300ms") {
			warned++
		}
	}
	if warned != 3 {
		t.Errorf("%d warnings about a silent wasmCloud host, want 3: %+v", warned, eventsOf(events, EventWarning))
	}
}

// TestApply_FinalVerifyToldWhatChangedWhen: the final verify learns when each machine last had
// a service operation, and when a hub last did, so it reuses a gate's result only when
// nothing on its machine and no hub changed after the gate; untouched machines are not named.
func TestApply_FinalVerifyToldWhatChangedWhen(t *testing.T) {
	fx := leafRestarts(t)
	start := time.Now()
	p, probes := fx.plan(t)
	if _, err := fx.apply(context.Background(), p, probes, nil); err != nil {
		t.Fatal(err)
	}
	c := fx.gates.changed
	if !c.Hub.IsZero() {
		t.Errorf("hub changed at %v, want never (only leaves restarted)", c.Hub)
	}
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		if !c.Hosts[h].After(start) {
			t.Errorf("%s: changed at %v, want during the apply", h, c.Hosts[h])
		}
	}
	for h := range c.Hosts {
		if !strings.HasPrefix(h, "edge-") {
			t.Errorf("%s named as changed; only the leaves restarted", h)
		}
	}

	fx = newApplyFixture(t, "lab", plantest.Converged)
	fx.fleet.hosts["hub-2"].files["/etc/sv/nats-server/run"] = []byte("#!/bin/sh\nold\n")
	p, probes = fx.plan(t)
	if _, err := fx.apply(context.Background(), p, probes, nil); err != nil {
		t.Fatal(err)
	}
	c = fx.gates.changed
	if c.Hub.IsZero() || !c.Hub.Equal(c.Hosts["hub-2"]) {
		t.Errorf("changes %+v: want hub-2's restart as the last hub change", c)
	}
}
