package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoad_RolloutSettle: a settle that is not a duration, or is out of bounds, is an error
// at its attribute with the exact advice.
func TestLoad_RolloutSettle(t *testing.T) {
	path := filepath.Join("testdata", "invalid", "rollout-settle.hcl")
	wantDiagnostics(t, path,
		path+`:25,5-18: Invalid rollout settle; settle "30" in role "leaf" must be a duration from 1s to 1h, such as "30s" or "2m".`,
		path+`:31,5-18: Invalid rollout settle; settle "2h" in role "wasmcloud" must be a duration from 1s to 1h, such as "30s" or "2m".`)
}

// wantDiagnostics loads path and checks its diagnostics are exactly want, in order.
func wantDiagnostics(t *testing.T, path string, want ...string) {
	t.Helper()
	_, diags := Load(path, Options{SkipSecrets: true})
	var got []string
	for _, d := range diags {
		got = append(got, d.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestInventory_Settle: the longest settle any role sets, else the default.
func TestInventory_Settle(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "invalid", "rollout-settle.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	load := func(s string) *Inventory { return loadValid(t, s) }
	valid := strings.Replace(strings.Replace(string(src), `"30"`, `"5s"`, 1), `"2h"`, `"1m30s"`, 1)
	if got := load(valid).Settle(); got != 90*time.Second {
		t.Errorf("settle %s, want the longest a role sets, 1m30s", got)
	}
	none := strings.Replace(strings.Replace(valid, `settle = "5s"`, `batch = 1`, 1), `settle = "1m30s"`, `batch = 1`, 1)
	if got := load(none).Settle(); got != DefaultSettle {
		t.Errorf("settle %s, want the default %s", got, DefaultSettle)
	}
}

// TestLoad_RolloutGateTimeout: a gate_timeout that is not a duration, or is out of bounds, is
// an error at its attribute with the exact advice; a valid one reaches the role's Rollout.
func TestLoad_RolloutGateTimeout(t *testing.T) {
	path := filepath.Join("testdata", "invalid", "rollout-gate-timeout.hcl")
	wantDiagnostics(t, path,
		path+`:25,5-24: Invalid rollout gate_timeout; gate_timeout "0s" in role "leaf" must be a duration from 1s to 1h, such as "2m" or "10m".`,
		path+`:31,5-33: Invalid rollout gate_timeout; gate_timeout "ten minutes" in role "wasmcloud" must be a duration from 1s to 1h, such as "2m" or "10m".`)

	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	valid := strings.Replace(strings.Replace(string(src), `"0s"`, `"10m"`, 1), `gate_timeout = "ten minutes"`, `batch = 1`, 1)
	edge := loadValid(t, valid).Host("edge-1")
	if got := edge.Rollout["leaf"].GateTimeout; got != 10*time.Minute {
		t.Errorf("leaf gate_timeout %s, want 10m", got)
	}
	if got := edge.Rollout["wasmcloud"].GateTimeout; got != 0 {
		t.Errorf("wasmcloud gate_timeout %s, want 0 (unset: apply's default)", got)
	}
}

// loadValid loads src as an inventory file, which must validate.
func loadValid(t *testing.T, src string) *Inventory {
	t.Helper()
	p := filepath.Join(t.TempDir(), "inventory.hcl")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, diags := Load(p, Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return inv
}
