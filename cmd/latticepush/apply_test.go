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
