package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/rollout"
)

// TestProgressShowsLeafWait: the wait for leaf links before a wave is a line of the human
// output, with the wave and the duration, and an event with elapsed_seconds in --json.
func TestProgressShowsLeafWait(t *testing.T) {
	events := []rollout.Event{
		{Type: "wait", Wave: "wasmcloud", Message: "before the wasmcloud wave: waiting for the leaf links of edge-1 (cut by the hub wave)"},
		{Type: "waited", Wave: "wasmcloud", Message: "leaf links of edge-1 back after 2.3s", Elapsed: 2.3},
	}
	var out bytes.Buffer
	g := &globals{stdout: &out}
	for _, e := range events {
		g.progress(false)(e)
	}
	for _, want := range []string{"    wasmcloud: before the wasmcloud wave: waiting for the leaf links of edge-1", "    wasmcloud: leaf links of edge-1 back after 2.3s\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("human output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	g.progress(true)(events[1])
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got["type"] != "waited" || got["wave"] != "wasmcloud" || got["elapsed_seconds"] != 2.3 {
		t.Errorf("json event %v", got)
	}
}

// TestApplyShowsSettle: the final verify's wait and how long settling took are lines of the
// human output and fields of --json.
func TestApplyShowsSettle(t *testing.T) {
	var out bytes.Buffer
	g := &globals{stdout: &out, stderr: &out}
	for _, e := range []rollout.Event{
		{Type: rollout.EventWait, Phase: rollout.PhaseVerify, Message: "waiting up to 29.5s for the fleet to settle: leaf.remote-connected on h4: no leaf remote connected"},
		{Type: rollout.EventSettled, Phase: rollout.PhaseVerify, Message: "every check passed after 2.1s (2 verify round(s))", Elapsed: 2.1},
	} {
		g.progress(false)(e)
	}
	res := &rollout.Result{Units: []rollout.UnitResult{{Unit: "hub-1/nats-server", Action: "restart", Result: rollout.Applied}}, Verify: "40 of 40 checks passed", Settle: 2.1, VerifySeconds: 0.42}
	if err := g.finishApply(res, nil, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    verify: waiting up to 29.5s for the fleet to settle: leaf.remote-connected on h4: no leaf remote connected\n",
		"    settled: verify: every check passed after 2.1s (2 verify round(s))\n",
		"\nVerify: 40 of 40 checks passed, in 0.42s\nSettle: every check passed 2.1s after the waves\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("human output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	res.VerifyError, res.Settle = "leaf.remote-connected on h4: no leaf remote connected", 30.4
	_ = g.finishApply(res, nil, false)
	if want := "Settle: checks still failed 30.4s after the waves (the settle deadline)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("human output lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	_ = g.finishApply(res, nil, true)
	var doc struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Result["settle_seconds"] != 30.4 || doc.Result["verify_seconds"] != 0.42 {
		t.Errorf("json result %s (%v), want settle_seconds 30.4 and verify_seconds 0.42", out.String(), err)
	}
}
