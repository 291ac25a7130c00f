package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// exactDiag is one diagnostic in full: severity, summary, where (file:line:col, "" for none)
// and the exact detail.
type exactDiag struct {
	severity hcl.DiagnosticSeverity
	summary  string
	at       string
	detail   string
}

func checkExact(t *testing.T, diags hcl.Diagnostics, want ...exactDiag) {
	t.Helper()
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%s", len(diags), len(want), dumpDiags(diags))
	}
	for i, w := range want {
		d := diags[i]
		at := ""
		if d.Subject != nil {
			at = pos(*d.Subject)
		}
		if d.Severity != w.severity || d.Summary != w.summary || at != w.at || d.Detail != w.detail {
			t.Errorf("diagnostic %d:\n got  %v %q at %q: %q\n want %v %q at %q: %q",
				i, d.Severity, d.Summary, at, d.Detail, w.severity, w.summary, w.at, w.detail)
		}
	}
}

func genPath(name string) string { return filepath.Join("testdata", "generated", name+".hcl") }

// TestLoad_GeneratedBadInput: each bad input is refused with file:line:col and, for a problem
// of one generated host, the instance.
func TestLoad_GeneratedBadInput(t *testing.T) {
	e := hcl.DiagError
	tests := []struct {
		name string
		vars []VarArg
		want []exactDiag
	}{
		{"expression-error", nil, []exactDiag{{e, "Invalid function argument", genPath("expression-error") + ":15:34",
			`hosts "edge"["edge-2"]: Invalid value for "hostnum" parameter: prefix of 30 does not accommodate a host numbered 10.`}}},
		{"for-each-number", nil, []exactDiag{{e, "Invalid for_each argument", genPath("for-each-number") + ":15:14",
			`hosts "edge": for_each must be a map, an object, or a set or list of strings; this is a number. For numbered hosts write e.g. [for i in range(1, 101) : format("edge-%03d", i)].`}}},
		{"duplicate-name", nil, []exactDiag{{e, "Duplicate host", genPath("duplicate-name") + ":12:3",
			`hosts "edge"["b"]: Host "edge-1" is already declared at ` + genPath("duplicate-name") + `:12:3 (hosts "edge"["a"]). Rename one of them or merge the two blocks.`}}},
		{"unknown-variable", nil, []exactDiag{{e, "Unknown variable", genPath("unknown-variable") + ":16:23",
			`There is no variable "edge_cdir". Did you mean "edge_cidr"? Declare it with a variable "edge_cdir" block, or fix the name.`}}},
		{"vars", []VarArg{{Name: "edges", Value: "2"}, {Name: "edgse", Value: "3"}}, []exactDiag{{e, "Value for undeclared variable", "",
			`-var edgse=… sets a variable the inventory does not declare. Did you mean "edges"? Declare it with a variable "edgse" block, or fix the name.`}}},
		{"vars", []VarArg{{File: filepath.Join("testdata", "varfiles", "site.hcl")}}, []exactDiag{{e, "Value for undeclared variable", filepath.Join("testdata", "varfiles", "site.hcl") + ":3:1",
			`testdata/varfiles/site.hcl sets variable "sitee", which the inventory does not declare. Declare it with a variable "sitee" block, or fix the name.`}}},
		{"vars", nil, []exactDiag{{e, "No value for required variable", genPath("vars") + ":6:1",
			`Variable "edges" has no default. Give it a value: -var edges=VALUE, a -var-file that sets it, or LATTICEPUSH_VAR_edges in the environment.`}}},
		{"vars", []VarArg{{Name: "edges", Value: "two"}}, []exactDiag{{e, "Invalid value for variable", "",
			`The value of variable "edges" from -var edges is not a number: a number is required.`}}},
		{"instance-rule", nil, []exactDiag{
			{e, "Invalid label key", genPath("instance-rule") + ":14:3",
				`hosts "edge"["edge-1"]: Label key "rack-id" becomes the environment variable WASMCLOUD_LABEL_rack-id: use only letters, digits and '_'. The same holds for 3 more instances of hosts "edge".`},
			{e, "Leaf domain equals the hub domain", genPath("instance-rule") + ":18:5",
				`hosts "edge"["edge-3"]: Leaf edge-3 has jetstream_domain "hub", the lattice's js_domain. Its clients would silently use the leaf's JetStream instead of the hub's, with no error anywhere. Give the leaf its own domain (e.g. "edge-3") or remove jetstream_domain.`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, diags := Load(genPath(tt.name), Options{SkipSecrets: true, Vars: tt.vars, LookupEnv: noEnv})
			checkExact(t, diags, tt.want...)
			if inv != nil {
				t.Error("Load returned an inventory along with errors")
			}
		})
	}
}

// TestLoad_VariablePrecedence: default, then LATTICEPUSH_VAR_<name>, then -var and -var-file
// in command-line order; -var parses a complex type as HCL.
func TestLoad_VariablePrecedence(t *testing.T) {
	env := func(name string) (string, bool) {
		switch name {
		case "LATTICEPUSH_VAR_edges":
			return "3", true
		case "LATTICEPUSH_VAR_cidr":
			return "10.7.0.0/24", true
		}
		return "", false
	}
	load := func(lookup func(string) (string, bool), vars ...VarArg) *Inventory {
		t.Helper()
		inv, diags := Load(genPath("vars"), Options{SkipSecrets: true, LookupEnv: lookup, Vars: vars})
		if diags.HasErrors() {
			t.Fatalf("%v: %s", vars, dumpDiags(diags))
		}
		return inv
	}

	inv := load(env)
	if len(inv.Hosts) != 4 || inv.Host("edge-3").Address != "10.7.0.13" {
		t.Errorf("env: %d hosts, edge-3 %+v", len(inv.Hosts), inv.Host("edge-3"))
	}
	if l := inv.Host("edge-1").Labels; len(l) != 1 || l["tier"] != "edge" {
		t.Errorf("default labels: %v", l)
	}
	envDigest := inv.VariablesDigest

	// The file sets sitee too, which is refused: use -var after it to check the order.
	inv = load(env, VarArg{Name: "edges", Value: "1"}, VarArg{Name: "cidr", Value: "10.8.0.0/24"},
		VarArg{Name: "labels", Value: `{ tier = "core", rack = "r1" }`})
	if len(inv.Hosts) != 2 || inv.Host("edge-1").Address != "10.8.0.11" || inv.Host("edge-1").Labels["rack"] != "r1" {
		t.Errorf("-var over env: %d hosts, edge-1 %+v", len(inv.Hosts), inv.Host("edge-1"))
	}
	if inv.VariablesDigest == envDigest || len(inv.VariablesDigest) != 64 {
		t.Errorf("digest %q unchanged by other values", inv.VariablesDigest)
	}
	if again := load(env, VarArg{Name: "edges", Value: "1"}, VarArg{Name: "cidr", Value: "10.8.0.0/24"},
		VarArg{Name: "labels", Value: `{ rack = "r1", tier = "core" }`}); again.VariablesDigest != inv.VariablesDigest {
		t.Error("the same values give another digest")
	}

	// -var-file then -var: the later -var wins; -var then -var-file: the file wins.
	dir := t.TempDir()
	f := filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(f, []byte("edges = 2\ncidr = \"10.9.0.0/24\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inv = load(env, VarArg{File: f}, VarArg{Name: "edges", Value: "5"})
	if len(inv.Hosts) != 6 || inv.Host("edge-5").Address != "10.9.0.15" {
		t.Errorf("-var-file then -var: %d hosts", len(inv.Hosts))
	}
	inv = load(env, VarArg{Name: "edges", Value: "5"}, VarArg{File: f})
	if len(inv.Hosts) != 3 {
		t.Errorf("-var then -var-file: %d hosts, want 3", len(inv.Hosts))
	}
}

// TestLoad_Directory: every *.hcl of a directory is the inventory; a block declared twice
// across files is reported with both locations; file() reads relative to the directory.
func TestLoad_Directory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.hcl", "lattice \"default\" {\n  js_domain = trimspace(file(\"domain.txt\"))\n}\n\nhost \"hub-1\" {\n  address = \"10.0.0.11\"\n  roles   = [\"hub\"]\n  nats {\n    max_file_store   = \"1GB\"\n    max_memory_store = \"256MB\"\n  }\n}\n")
	write("b.hcl", "host \"edge-1\" {\n  address = \"10.0.1.21\"\n  roles   = [\"leaf\"]\n}\n")
	write("domain.txt", "core\n")
	inv, diags := Load(dir, Options{SkipSecrets: true})
	if len(diags) != 0 {
		t.Fatalf("%s", dumpDiags(diags))
	}
	if inv.Lattice.JSDomain != "core" || len(inv.Hosts) != 2 || inv.Filename != dir || inv.Dir != dir || len(inv.Files) != 2 {
		t.Errorf("inventory %+v", inv)
	}
	digest := inv.Digest

	write("c.hcl", "lattice \"other\" {\n  js_domain = \"x\"\n}\n\nhost \"edge-1\" {\n  address = \"10.0.1.22\"\n  roles   = [\"leaf\"]\n}\n")
	b, c := filepath.Join(dir, "b.hcl"), filepath.Join(dir, "c.hcl")
	_, diags = Load(dir, Options{SkipSecrets: true})
	e := hcl.DiagError
	checkExact(t, diags,
		exactDiag{e, "Duplicate lattice block", c + ":1:1", fmt.Sprintf("Only one lattice block is allowed. Another was defined at %s:1,1-18.", filepath.Join(dir, "a.hcl"))},
		exactDiag{e, "Duplicate host", c + ":5:6", fmt.Sprintf("Host %q is already declared at %s:1:1. Rename one of them or merge the two blocks.", "edge-1", b)},
	)
	if err := os.Remove(c); err != nil {
		t.Fatal(err)
	}
	write("b.hcl", "host \"edge-1\" {\n  address = \"10.0.1.22\"\n  roles   = [\"leaf\"]\n}\n")
	if inv, _ := Load(dir, Options{SkipSecrets: true}); inv == nil || inv.Digest == digest {
		t.Error("the digest does not cover every file")
	}

	empty := t.TempDir()
	if _, diags := Load(empty, Options{SkipSecrets: true}); len(diags) != 1 || !strings.Contains(diags[0].Detail, "holds no .hcl file") {
		t.Errorf("empty directory: %s", dumpDiags(diags))
	}
}

// TestLoad_SecretsOptional: validate's mode warns about a missing secrets file.
func TestLoad_SecretsOptional(t *testing.T) {
	path := writeInventory(t, "")
	inv, diags := Load(path, Options{SecretsOptional: true, LookupEnv: noEnv})
	checkDiags(t, path, diags, wantDiag{hcl.DiagWarning, "Secrets file missing", 1, "Run `latticepush secrets"})
	if inv == nil {
		t.Fatal("no inventory with a warning only")
	}
}
