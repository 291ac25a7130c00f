package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
)

// TestReliability_HostileInventoryValues puts shell metacharacters, a huge string and odd
// Unicode into host names, labels, paths and names of the lab inventory. Each must be rejected
// by validation or rendering, or come out so that a shell reading the rendered env file gets
// the value back literally and runs nothing. No lab needed: a value that is executed leaves a
// marker file behind.
func TestReliability_HostileInventoryValues(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "lab", "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	inject := "$(touch " + marker + ")`touch " + marker + "`;touch " + marker
	hclInject := inject // HCL interpolates only ${ and %{: $( and ` are literal
	huge := strings.Repeat("x", 1<<20)
	cases := []struct {
		name, from, to string
		label          string // the label value expected in the env file when accepted
		storeDir       string // the store_dir expected in hub-1's config when accepted
	}{
		{"host name with shell syntax", `host "edge-3"`, `host "edge-3;` + hclInject + `"`, "", ""},
		{"host name with a newline", `host "edge-3"`, `host "edge-3\nInclude /etc/passwd"`, "", ""},
		{"host name with odd unicode", `host "edge-3"`, `host "edge\u202e-3\u200b"`, "", ""},
		{"label value with shell syntax", `zone = "b"`, `zone = "` + strings.ReplaceAll(hclInject, `"`, `\"`) + `"`, inject, ""},
		{"label value with quotes and backslashes", `zone = "b"`, `zone = "a\"b\\c'd $HOME"`, `a"b\c'd $HOME`, ""},
		{"label value with odd unicode", `zone = "b"`, `zone = "\u202eb\u0301\ufeff"`, "\u202eb\u0301\ufeff", ""},
		{"huge label value", `zone = "b"`, `zone = "` + huge + `"`, huge, ""},
		{"label key with shell syntax", `zone = "b"`, `"zo;ne$(id)" = "b"`, "", ""},
		{"label value with a line break", `zone = "b"`, `zone = "b\nWASMCLOUD_JS_DOMAIN=evil"`, "", ""},
		{"binary with shell syntax", `binary = "/usr/local/bin/wasmcloud"`, `binary = "/usr/local/bin/wasmcloud;` + hclInject + `"`, "", ""},
		{"store_dir with shell syntax", `store_dir              = "/var/lib/nats"`, `store_dir              = "/var/lib/nats $(id) \"x\""`, "", `/var/lib/nats $(id) "x"`},
		{"server_name with a space", `cluster_name           = "hub"`, `cluster_name           = "hub x"`, "", ""},
	}
	rejected, literal := 0, 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(src), c.from) {
				t.Fatalf("the lab inventory has no %q", c.from)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "inventory.hcl")
			os.WriteFile(path, []byte(strings.Replace(string(src), c.from, c.to, 1)), 0o644)
			inv, diags := inventory.Load(path, inventory.Options{SkipSecrets: true})
			if diags.HasErrors() {
				rejected++
				t.Logf("rejected by validate: %s", firstLineOf(diags.Error()))
				return
			}
			if _, err := inventory.GenerateSecrets(inv, inventory.Options{}); err != nil {
				t.Fatal(err)
			}
			inv, diags = inventory.Load(path, inventory.Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			d, err := plan.Render(inv)
			if err != nil {
				rejected++
				t.Logf("rejected by render: %s", firstLineOf(err.Error()))
				return
			}
			if c.storeDir != "" {
				checkStoreDir(t, d, c.storeDir)
				literal++
				return
			}
			if c.label == "" {
				t.Fatalf("accepted, but nothing here may be")
			}
			var env []byte
			for _, f := range d["edge-3"] {
				if f.Path == wasmEnv {
					env = f.Content
				}
			}
			envPath := filepath.Join(dir, "wasmcloud.env")
			os.WriteFile(envPath, env, 0o600)
			out, err := exec.Command("sh", "-c", `set -a; . "$1"; printf %s "$WASMCLOUD_LABEL_zone"`, "sh", envPath).Output()
			if err != nil {
				t.Fatalf("sh cannot read the env file: %v", err)
			}
			if string(out) != c.label {
				t.Fatalf("sh reads the label back as %.80q, want %.80q", out, c.label)
			}
			literal++
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a hostile value was executed")
	}
	t.Logf("hostile values: %d cases, %d rejected (validate or render), %d accepted and read back literally (env file by sh, config by the NATS parser), 0 executed", len(cases), rejected, literal)
}

// checkStoreDir checks that hub-1's rendered config parses to want as its store_dir, and that
// no rendered script holds it (a config value never reaches a shell).
func checkStoreDir(t *testing.T, d plan.Desired, want string) {
	t.Helper()
	for _, f := range d["hub-1"] {
		if f.Path == natsConf {
			m, err := conf.Parse(string(f.Content))
			if err != nil {
				t.Fatalf("the rendered config does not parse: %v", err)
			}
			js, _ := m["jetstream"].(map[string]any)
			if got := js["store_dir"]; got != want {
				t.Fatalf("store_dir parses as %q, want %q", got, want)
			}
		} else if strings.Contains(string(f.Content), want) {
			t.Fatalf("%s holds the store_dir", f.Path)
		}
	}
}
