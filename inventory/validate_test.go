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
		{"same-address-port", []wantDiag{errorAt(19, "Two servers on one address", "edge-1's client_port on 127.0.0.1:4222 and hub-1's client_port on 0.0.0.0:4222")}},
		{"port-range", []wantDiag{errorAt(10, "Port out of range", "client_port 70000 must be between 1 and 65535")}},
		{"bad-size", []wantDiag{errorAt(9, "Invalid size", `max_file_store "20 gigs"`)}},
		{"lame-duck-short", []wantDiag{errorAt(10, "Lame duck duration too short", "minimum of 30s")}},
		{"lame-duck-grace", []wantDiag{errorAt(10, "Lame duck grace period too long", "must be shorter than lame_duck_duration")}},
		{"leaf-compression", []wantDiag{errorAt(15, "Invalid leaf_compression",
			`leaf_compression "s2-fast" is not a compression mode of nats-server. Did you mean "s2_fast"? Use one of off, accept, s2_auto, s2_uncompressed, s2_fast, s2_better, s2_best`)}},
		{"service-manager", []wantDiag{errorAt(6, "Unknown service manager", `Did you mean "systemd"?`)}},
		{"service-manager-host", []wantDiag{errorAt(25, "Unknown service manager", `service_manager "rnuit" is not supported. Did you mean "runit"?`)}},
		{"rollout-batch", []wantDiag{errorAt(25, "Invalid rollout batch", `batch "150%" in role "leaf"`)}},
		{"spread-by-missing", []wantDiag{errorAt(32, "Host without the spread_by label",
			`spread_by "rack" in role "leaf": edge-2 set no label "rack". Give every host of the role one (labels = { rack = "r1" }), or remove spread_by.`)}},
		{"spread-by-key", []wantDiag{errorAt(32, "Invalid rollout spread_by",
			`spread_by "rack-id" in role "leaf" must name a host label: letters, digits and '_' (spread_by = "rack").`)}},
		{"label-key", []wantDiag{errorAt(21, "Invalid label key", "WASMCLOUD_LABEL_rack-id")}},
		{"label-value", []wantDiag{errorAt(21, "Invalid label value", "contains '='")}},
		{"secrets-env-key", []wantDiag{errorAt(6, "Unknown secret in env", `Did you mean "passwords.leaf"?`)}},
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

const testPasswords = `"passwords": {"system": "s", "leaf": "l", "check": "c", "route": "r"}`

func TestLoad_Secrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets string
		want    []wantDiag
	}{
		{"missing file", "", []wantDiag{errorAt(1, "Secrets file missing", "Run `latticepush secrets")}},
		{"missing entries", `{"passwords": {"system": "s"}}`, []wantDiag{
			errorAt(1, "Missing secrets", "no value for passwords.leaf, passwords.check, passwords.route, host_seeds.edge-1. Run `latticepush secrets"),
		}},
		{"bad seed", `{` + testPasswords + `, "host_seeds": {"edge-1": "SUAIXPIS25RBHS3CNBEL2MBLQMX5WMP7FVCCB5QOGTH6CCYR2ND4HUBQUU"}}`, []wantDiag{
			errorAt(18, "Invalid host seed", `host_seeds["edge-1"]`),
		}},
		{"user seed", `{` + testPasswords + `, "host_seeds": {"edge-1": "` + newSeed(t, nkeys.CreateUser) + `"}}`, []wantDiag{
			errorAt(18, "Invalid host seed", "not a server seed"),
		}},
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

// diagText is a diagnostic as one line: where, summary, detail; "warning: " first for a
// warning.
func diagText(d *hcl.Diagnostic) string {
	at := "(no range)"
	if d.Subject != nil {
		at = pos(*d.Subject)
	}
	s := at + ": " + d.Summary + ": " + d.Detail
	if d.Severity == hcl.DiagWarning {
		s = "warning: " + s
	}
	return s
}

// checkText asserts that diags are exactly want, as diagText writes them.
func checkText(t *testing.T, diags hcl.Diagnostics, want ...string) {
	t.Helper()
	var got []string
	for _, d := range diags {
		got = append(got, diagText(d))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoad_RenderRules: every rule the renderer enforces on the inventory's content is a
// validate rule with a source range and the fix, so validate refuses what apply would.
func TestLoad_RenderRules(t *testing.T) {
	const unsafe = " is written into the service definition, where systemd and sh would interpret spaces, quotes, '%', '$' and the like: use an absolute path of letters, digits and . _ / + @ - only."
	tests := []struct {
		file string
		want []string
	}{
		{"hub-limits", []string{
			`testdata/invalid/hub-limits.hcl:6:3: Hub without JetStream limits: Hubs need explicit JetStream limits: max_memory_store is not set. Without explicit limits nats-server sizes JetStream from the disk and memory free when it starts, and no reload can later make such a limit explicit or lower it. Add it to role "hub"'s nats block, sized for the machines, e.g. max_file_store = "20GB" and max_memory_store = "1GB".`,
		}},
		{"hub-limits-no-role", []string{
			`testdata/invalid/hub-limits-no-role.hcl:5:6: Hub without JetStream limits: Hubs need explicit JetStream limits: max_file_store and max_memory_store are not set. Without explicit limits nats-server sizes JetStream from the disk and memory free when it starts, and no reload can later make such a limit explicit or lower it. Add them to host hub-1's nats block, or to role "hub" { nats { ... } } for every hub, sized for the machines, e.g. max_file_store = "20GB" and max_memory_store = "1GB".`,
		}},
		{"store-dir-empty", []string{
			`testdata/invalid/store-dir-empty.hcl:22:5: Empty store_dir: store_dir is empty, but this server runs JetStream and keeps its streams there. Remove store_dir to use /var/lib/nats, or set an absolute path.`,
		}},
		{"lame-duck-grace-zero", []string{
			`testdata/invalid/lame-duck-grace-zero.hcl:9:5: Invalid duration: lame_duck_grace_period "0s" must be more than 0: nats-server reads 0 as its default of 10s. Write e.g. "10s".`,
		}},
		{"unsafe-path", []string{
			`testdata/invalid/unsafe-path.hcl:9:5: Unsafe path: binary "/opt/nats server/nats-server"` + unsafe,
			`testdata/invalid/unsafe-path.hcl:10:5: Unsafe path: config_file ""` + unsafe,
			`testdata/invalid/unsafe-path.hcl:16:5: Unsafe path: env_file "/etc/wasmcloud/$HOST.env"` + unsafe,
		}},
		{"service-user", []string{
			`testdata/invalid/service-user.hcl:9:5: Service user is root: user = "root" is what a service runs as without the setting: remove user to run it as root, or name a user of its own, e.g. "nats" (created on the host if missing).`,
			`testdata/invalid/service-user.hcl:15:5: Invalid user: user "Wasm Cloud" is not a system user name: use a lower-case letter or '_' followed by up to 30 lower-case letters, digits, '_' or '-', e.g. "wasmcloud".`,
		}},
		{"label-control", []string{
			`testdata/invalid/label-control.hcl:20:3: Invalid label value: The value of label "rack" contains '=' or a control character such as a tab or line break, which the wasmCloud host's environment file cannot carry. Remove them.`,
			`testdata/invalid/label-control.hcl:22:5: Invalid nats_host: nats_host "127.0.0.1\x01" must be a bare host name or IP address, without spaces, control characters or a scheme: WASMCLOUD_NATS_HOST takes no nats://.`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			inv, diags := Load(filepath.Join("testdata", "invalid", tt.file+".hcl"), Options{SkipSecrets: true})
			checkText(t, diags, tt.want...)
			if inv != nil {
				t.Error("Load returned an inventory along with errors")
			}
		})
	}
}

// TestLoad_Messages checks the exact text of diagnostics that name what collides, suggest a
// spelling, or point into the secrets file.
func TestLoad_Messages(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		// Leaves listen on loopback: what collides is each listener on the one machine both
		// addresses name, shown with its real listen address, at the copied address.
		{"same-address-port", []string{
			`testdata/invalid/same-address-port.hcl:19:3: Two servers on one address: Hosts edge-1 and hub-1 both have address 10.0.0.11, so they are one machine to latticepush, and there their listeners collide: edge-1's client_port on 127.0.0.1:4222 and hub-1's client_port on 0.0.0.0:4222; edge-1's http_port on 127.0.0.1:8222 and hub-1's http_port on 127.0.0.1:8222. Correct the address if they are different machines; otherwise give one of them other ports.`,
		}},
		// Two machines behind one address (other SSH ports): only what others dial collides.
		{"hubs-one-address", []string{
			`testdata/invalid/hubs-one-address.hcl:21:3: Two hubs dialled at one address: Hubs hub-1 (leafnode_port) and hub-2 (leafnode_port) are both dialled at 203.0.113.10:7422 by the other hubs and the leaves. Give one of them another leafnode_port, or correct its address.`,
		}},
		// One error at the misspelt line, not a second one at the block's brace.
		{"misspelt-address", []string{
			`testdata/invalid/misspelt-address.hcl:19:3: Unsupported argument: hosts "edge"["edge-1"]: An argument named "adress" is not expected here. Did you mean "address"? The same holds for 1 more instance of hosts "edge".`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, diags := Load(filepath.Join("testdata", "invalid", tt.file+".hcl"), Options{SkipSecrets: true})
			checkText(t, diags, tt.want...)
		})
	}
}

func TestLoad_MisspeltAttributeInHostBlock(t *testing.T) {
	src := strings.Replace(mustRead(t, filepath.Join("testdata", "valid-small.hcl")), `address = "10.0.1.21"`, `adress = "10.0.1.21"`, 1)
	_, diags := NewLoader().LoadSource("inventory.hcl", []byte(src), Options{SkipSecrets: true})
	checkText(t, diags, `inventory.hcl:19:3: Unsupported argument: An argument named "adress" is not expected here. Did you mean "address"?`)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLoad_SecretsFileErrors: a secrets file that is not valid is reported at its own
// file:line:col, and a password nats-server would misread at its key; never with a value.
func TestLoad_SecretsFileErrors(t *testing.T) {
	seed := newSeed(t, nkeys.CreateServer)
	tests := []struct {
		name, secrets string
		want          string
	}{
		{"syntax error", "{\n  \"passwords\": {\n    \"system\": \"s\",\n  }\n}\n",
			`secrets.json:4:3: Cannot read secrets file: SECRETS:4:3: not a valid secrets file: invalid character '}' looking for beginning of object key string. Fix or remove the file, then run ` + "`latticepush secrets INV`."},
		{"wrong type", "{\n  \"passwords\": [\"s\"]\n}\n",
			`secrets.json:2:16: Cannot read secrets file: SECRETS:2:16: not a valid secrets file: cannot unmarshal array into Go struct field secretsDoc.passwords of type map[string]string. Fix or remove the file, then run ` + "`latticepush secrets INV`."},
		{"unknown key", "{\n  \"pasword\": {}\n}\n",
			`secrets.json:2:3: Cannot read secrets file: SECRETS:2:3: not a valid secrets file: unknown field "pasword". Fix or remove the file, then run ` + "`latticepush secrets INV`."},
		{"empty", "",
			`secrets.json:1:1: Cannot read secrets file: SECRETS:1:1: not a valid secrets file: the file is empty. Fix or remove the file, then run ` + "`latticepush secrets INV`."},
		{"bcrypt password", "{\n  \"passwords\": {\"system\": \"s\", \"leaf\": \"$2a$11$abcdefghijklmnopqrstuv\", \"check\": \"c\", \"route\": \"r\"},\n  \"host_seeds\": {\"edge-1\": \"" + seed + "\"}\n}\n",
			`secrets.json:2:32: Unusable password: passwords.leaf in SECRETS looks like a bcrypt hash ($2a$…), which nats-server would compare as a hash, not as the password. Remove the entry and run ` + "`latticepush secrets INV`" + ` to generate a new one, or write another.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeInventory(t, "x")
			secrets := filepath.Join(filepath.Dir(path), "secrets.json")
			if err := os.WriteFile(secrets, []byte(tt.secrets), 0o600); err != nil {
				t.Fatal(err)
			}
			_, diags := Load(path, Options{LookupEnv: noEnv})
			want := strings.NewReplacer("SECRETS", secrets, "INV", path).Replace(tt.want)
			checkText(t, diags, filepath.Join(filepath.Dir(path), want))
			for _, d := range diags {
				if strings.Contains(d.Detail, "abcdefghij") {
					t.Errorf("diagnostic reveals a password: %s", d.Detail)
				}
			}
		})
	}
}

func TestLoad_SecretsEnvNames(t *testing.T) {
	seed := newSeed(t, nkeys.CreateServer)
	path := writeInventory(t, `{`+testPasswords+`, "host_seeds": {"edge-1": "`+seed+`"}}`)
	src := mustRead(t, path) + "\nsecrets {\n  env = { leaf_password = \"LP_LEAF\" }\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		if name == "LP_LEAF" {
			return "$2b$10$abcdefghijklmnopqrstuv", true
		}
		return "", false
	}
	_, diags := Load(path, Options{LookupEnv: env})
	checkText(t, diags,
		"warning: "+path+`:24:3: Old secret name in env: "leaf_password" is now written "passwords.leaf", the secret's key in the secrets file, the name every message uses: env = { "passwords.leaf" = "LP_LEAF" }.`,
		path+`:24:3: Unusable password: The environment variable LP_LEAF (for passwords.leaf) looks like a bcrypt hash ($2a$…), which nats-server would compare as a hash, not as the password. Set another value.`,
	)
}

// TestLoad_Suggestions: a name HCL finds no suggestion for still gets one when it abbreviates
// or re-spells a known name, and otherwise the list of names the block takes.
func TestLoad_Suggestions(t *testing.T) {
	src := `lattice "default" {
  js_domain = "hub"
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "256MB"
    Client-Port      = 4222
  }
  wasm {
  }
}

host "hub-1" {
  addr  = "10.0.0.11"
  roles = ["hub"]
  zzz   = 1
}
`
	_, diags := NewLoader().LoadSource("inventory.hcl", []byte(src), Options{SkipSecrets: true})
	checkText(t, diags,
		`inventory.hcl:9:5: Unsupported argument: An argument named "Client-Port" is not expected here. Did you mean "client_port"?`,
		`inventory.hcl:11:3: Unsupported block type: Blocks of type "wasm" are not expected here. Did you mean "wasmcloud"?`,
		`inventory.hcl:16:3: Unsupported argument: An argument named "addr" is not expected here. Did you mean "address"?`,
		`inventory.hcl:18:3: Unsupported argument: An argument named "zzz" is not expected here. A host block takes the arguments address, labels, roles, service_manager.`,
	)
}

// A bastion without an address gets HCL's missing-argument error only, not also an "Invalid
// address" without a place.
func TestLoad_BastionWithoutAddress(t *testing.T) {
	src := strings.Replace(mustRead(t, filepath.Join("testdata", "valid-small.hcl")), "role \"hub\" {", "bastion \"b\" {\n  user = \"ops\"\n}\n\nrole \"hub\" {", 1)
	_, diags := NewLoader().LoadSource("inventory.hcl", []byte(src), Options{SkipSecrets: true})
	checkText(t, diags, `inventory.hcl:5:13: Missing required argument: The argument "address" is required, but no definition was found.`)
}

// TestLoad_ServiceManagerPerHost: a host or hosts block's service_manager overrides the
// defaults' for its hosts only; a bad one in a hosts block is reported once, at its line,
// naming the first instance and counting the others.
func TestLoad_ServiceManagerPerHost(t *testing.T) {
	src := strings.Replace(mustRead(t, filepath.Join("testdata", "valid-small.hcl")), `address = "10.0.1.21"`,
		"address = \"10.0.1.21\"\n  service_manager = \"runit\"", 1)
	src += `
defaults {
  service_manager = "systemd"
}

hosts "edge" {
  for_each = { "edge-7" = "runit", "edge-8" = "systemd" }

  address         = "10.0.2.${substr(each.key, 5, 1)}"
  roles           = ["leaf", "wasmcloud"]
  service_manager = each.value
}
`
	if strings.Count(src, "defaults {") != 1 {
		t.Fatal("testdata/valid-small.hcl has a defaults block now: edit this test")
	}
	path := filepath.Join(t.TempDir(), "inventory.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := Load(path, Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatalf("load: %s", dumpDiags(diags))
	}
	got := map[string]string{}
	for _, h := range inv.Hosts {
		got[h.Name] = h.ServiceManager
	}
	want := map[string]string{"edge-7": "runit", "edge-8": "systemd"}
	for _, h := range inv.Hosts {
		if _, ok := want[h.Name]; !ok {
			want[h.Name] = ServiceManagerSystemd
		}
	}
	want["edge-1"] = ServiceManagerRunit
	for name, sm := range want {
		if got[name] != sm {
			t.Errorf("%s: service_manager %q, want %q (all: %v)", name, got[name], sm, got)
		}
	}

	bad := filepath.Join("testdata", "invalid", "service-manager-hosts.hcl")
	_, diags = Load(bad, Options{SkipSecrets: true})
	checkExact(t, diags, exactDiag{hcl.DiagError, "Unknown service manager", bad + ":23:3",
		`hosts "edge"["edge-1"]: service_manager "openrc" is not supported. Use "systemd" or "runit". The same holds for 2 more instances of hosts "edge".`})
}
