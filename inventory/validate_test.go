package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/nats-io/nkeys"
)

// wantDiag is one expected diagnostic: its severity, summary, line and a fragment of the
// detail that tells the operator what to do.
type wantDiag struct {
	severity hcl.DiagnosticSeverity
	summary  string
	line     int
	detail   string
}

func errorAt(line int, summary, detail string) wantDiag {
	return wantDiag{hcl.DiagError, summary, line, detail}
}

// checkDiags asserts that diags are exactly want, in order, all in filename.
func checkDiags(t *testing.T, filename string, diags hcl.Diagnostics, want ...wantDiag) {
	t.Helper()
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%s", len(diags), len(want), dumpDiags(diags))
	}
	for i, w := range want {
		d := diags[i]
		if d.Severity != w.severity || d.Summary != w.summary {
			t.Errorf("diagnostic %d: got %v %q, want %v %q", i, d.Severity, d.Summary, w.severity, w.summary)
		}
		if d.Subject == nil {
			t.Errorf("diagnostic %d (%s): no source range", i, d.Summary)
			continue
		}
		if d.Subject.Filename != filename || d.Subject.Start.Line != w.line {
			t.Errorf("diagnostic %d (%s): at %s:%d, want %s:%d", i, d.Summary, d.Subject.Filename, d.Subject.Start.Line, filename, w.line)
		}
		if !strings.Contains(d.Detail, w.detail) {
			t.Errorf("diagnostic %d (%s): detail %q does not contain %q", i, d.Summary, d.Detail, w.detail)
		}
	}
}

func dumpDiags(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + d.Error() + "\n")
	}
	return b.String()
}

// TestLoad_Rules loads one bad inventory per rule (testdata/invalid) and checks the exact
// diagnostics it gets.
func TestLoad_Rules(t *testing.T) {
	tests := []struct {
		file string
		want []wantDiag
	}{
		{"misspelt-attribute", []wantDiag{errorAt(9, "Unsupported argument", `Did you mean "cluster_name"?`)}},
		{"misspelt-block", []wantDiag{errorAt(6, "Unsupported block type", `Did you mean "nats"?`)}},
		{"syntax-error", []wantDiag{errorAt(14, "Invalid block definition", `delimited by "{" and "}"`)}},
		{"unknown-role", []wantDiag{errorAt(20, "Unknown role", `Did you mean "leaf"?`)}},
		{"domain-with-dot", []wantDiag{errorAt(2, "Invalid JetStream domain", `"hub.east" contains '.'`)}},
		{"previous-equals-domain", []wantDiag{errorAt(3, "previous_js_domain equals js_domain", "Remove it once")}},
		{"lattice-name", []wantDiag{errorAt(1, "Invalid lattice name", `"my lattice" may only contain`)}},
		{"leaf-domain-is-hub-domain", []wantDiag{errorAt(22, "Leaf domain equals the hub domain", `Give the leaf its own domain (e.g. "edge-1")`)}},
		{"duplicate-leaf-domain", []wantDiag{errorAt(35, "Duplicate leaf domain", `edge-2 and edge-3 both have jetstream_domain "edge"`)}},
		{"hub-own-domain", []wantDiag{errorAt(17, "jetstream_domain on a hub", "Remove it here")}},
		{"duplicate-host", []wantDiag{errorAt(23, "Duplicate host", "duplicate-host.hcl:18:1.")}},
		{"host-name-space", []wantDiag{errorAt(18, "Invalid host name", "(no spaces)")}},
		{"duplicate-server-name", []wantDiag{errorAt(27, "Duplicate server_name", `edge-1 and edge-2 both use server_name "edge-1"`)}},
		{"two-hub-clusters", []wantDiag{errorAt(32, "More than one hub cluster", `hub-3 is in cluster "other" but hub hub-1 is in cluster "hub"`)}},
		{"no-hub", []wantDiag{errorAt(1, "No hub", `add "hub" to the roles`)}},
		{"hub-and-leaf", []wantDiag{errorAt(15, "Host is both hub and leaf", `remove "leaf"`)}},
		{"wasmcloud-without-leaf", []wantDiag{errorAt(20, "wasmCloud host without a local NATS server", `add "leaf" to its roles`)}},
		{"leaf-cluster-port", []wantDiag{errorAt(22, "Hub setting on a leaf", "Remove it from host edge-1")}},
		{"same-address-port", []wantDiag{
			errorAt(13, "Address and port used twice", "both listen on 10.0.0.11:4222"),
			errorAt(13, "Address and port used twice", "both listen on 10.0.0.11:8222"),
		}},
		{"port-range", []wantDiag{errorAt(10, "Port out of range", "client_port 70000 must be between 1 and 65535")}},
		{"bad-size", []wantDiag{errorAt(9, "Invalid size", `max_file_store "20 gigs"`)}},
		{"lame-duck-short", []wantDiag{errorAt(10, "Lame duck duration too short", "minimum of 30s")}},
		{"lame-duck-grace", []wantDiag{errorAt(10, "Lame duck grace period too long", "must be shorter than lame_duck_duration")}},
		{"service-manager", []wantDiag{errorAt(6, "Unknown service manager", `Did you mean "systemd"?`)}},
		{"rollout-batch", []wantDiag{errorAt(25, "Invalid rollout batch", `batch "150%" in role "leaf"`)}},
		{"label-key", []wantDiag{errorAt(21, "Invalid label key", "WASMCLOUD_LABEL_rack-id")}},
		{"label-value", []wantDiag{errorAt(21, "Invalid label value", "contains '='")}},
		{"secrets-env-key", []wantDiag{errorAt(6, "Unknown secret in env", `Did you mean "leaf_password"?`)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.file+".hcl")
			inv, diags := Load(path, Options{SkipSecrets: true})
			checkDiags(t, path, diags, tt.want...)
			if inv != nil {
				t.Error("Load returned an inventory along with errors")
			}
		})
	}
}

func TestLoad_EvenHubCountIsAWarning(t *testing.T) {
	path := filepath.Join("testdata", "invalid", "even-hubs.hcl")
	inv, diags := Load(path, Options{SkipSecrets: true})
	checkDiags(t, path, diags, wantDiag{hcl.DiagWarning, "Even number of hubs", 25, "use an odd number"})
	if inv == nil || len(inv.Hubs()) != 2 {
		t.Fatalf("want an inventory with 2 hubs despite the warning, got %v", inv)
	}
}

// writeInventory copies testdata/valid-small.hcl into a temporary directory, with secrets
// (JSON text, written 0600) unless secrets is empty.
func writeInventory(t *testing.T, secrets string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "valid-small.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if secrets != "" {
		if err := os.WriteFile(filepath.Join(dir, "secrets.json"), []byte(secrets), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

const testPasswords = `"passwords": {"system": "s", "leaf": "l", "check": "c"}`

func TestLoad_Secrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets string
		want    []wantDiag
	}{
		{"missing file", "", []wantDiag{errorAt(1, "Secrets file missing", "Run `latticepush secrets")}},
		{"missing entries", `{"passwords": {"system": "s"}}`, []wantDiag{
			errorAt(1, "Missing secrets", "no value for leaf_password, check_password, host_seed.edge-1. Run `latticepush secrets"),
		}},
		{"bad seed", `{` + testPasswords + `, "host_seeds": {"edge-1": "SUAIXPIS25RBHS3CNBEL2MBLQMX5WMP7FVCCB5QOGTH6CCYR2ND4HUBQUU"}}`, []wantDiag{
			errorAt(18, "Invalid host seed", `host_seeds["edge-1"]`),
		}},
		{"user seed", `{` + testPasswords + `, "host_seeds": {"edge-1": "` + newSeed(t, nkeys.CreateUser) + `"}}`, []wantDiag{
			errorAt(18, "Invalid host seed", "not a server seed"),
		}},
		{"not json", `{"passwords": [}`, []wantDiag{errorAt(1, "Cannot read secrets file", "is not a valid secrets file")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeInventory(t, tt.secrets)
			_, diags := Load(path, Options{LookupEnv: noEnv})
			checkDiags(t, path, diags, tt.want...)
			for _, d := range diags {
				if strings.Contains(d.Detail, "SUAIX") || strings.Contains(d.Detail, `"SU`) {
					t.Errorf("diagnostic reveals a seed: %s", d.Detail)
				}
			}
		})
	}
}

func TestLoad_SecretsFileModeWarns(t *testing.T) {
	seed := newSeed(t, nkeys.CreateServer)
	path := writeInventory(t, `{`+testPasswords+`, "host_seeds": {"edge-1": "`+seed+`"}}`)
	secrets := filepath.Join(filepath.Dir(path), "secrets.json")
	if err := os.Chmod(secrets, 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := Load(path, Options{LookupEnv: noEnv})
	checkDiags(t, path, diags, wantDiag{hcl.DiagWarning, "Secrets file readable by others", 1, "chmod 600"})
	if inv == nil || inv.Host("edge-1").Wasmcloud.HostSeed.Reveal() != seed {
		t.Fatal("want the inventory with edge-1's seed despite the warning")
	}
}

func newSeed(t *testing.T, create func() (nkeys.KeyPair, error)) string {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return string(seed)
}
