package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/verify"
)

// unreachableInventory writes an inventory whose hosts' SSH port (on loopback) refuses
// connections, with its secrets, and returns the directory and the check password.
func unreachableInventory(t *testing.T) (dir, checkPassword string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir = t.TempDir()
	inv := fmt.Sprintf(`
lattice "default" {
  js_domain = "hub"
}
secrets {
  file = "secrets.json"
}
defaults {
  ssh {
    user        = "nobody"
    port        = %d
    known_hosts = "known_hosts"
  }
}
role "hub" {
  nats {
    cluster_name     = "hub"
    store_dir        = "/var/lib/nats"
    max_file_store   = "1GB"
    max_memory_store = "256MB"
  }
}
role "leaf" {
  nats {}
}
host "hub-1" {
  address = "127.0.0.1"
  roles   = ["hub"]
}
host "edge-1" {
  address = "127.0.0.2"
  roles   = ["leaf"]
}
`, port)
	if err := os.WriteFile(filepath.Join(dir, "inventory.hcl"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	writeSecrets(t, dir)
	return dir, "s3cr3t-c"
}

func TestVerify_UnreachableHostsFailChecksAndExit3(t *testing.T) {
	dir, secret := unreachableInventory(t)

	code, stdout, stderr := runCLI(t, dir, "verify", "inventory.hcl")
	if code != exitVerify {
		t.Fatalf("exit code %d, want %d; stderr: %s", code, exitVerify, stderr)
	}
	for _, want := range []string{"Hub cluster", "✗ hub.healthz", "hub-1", "connection refused", "fix: ", "checks failed."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Error("colour codes written to a non-terminal")
	}
	if strings.Contains(stdout+stderr, secret) {
		t.Error("the check password appears in the output")
	}

	code, stdout, _ = runCLI(t, dir, "verify", "--json", "inventory.hcl")
	if code != exitVerify {
		t.Errorf("--json exit code %d, want %d", code, exitVerify)
	}
	var doc struct {
		FormatVersion string          `json:"format_version"`
		OK            *bool           `json:"ok"`
		Results       []verify.Result `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if doc.FormatVersion != "1.0" || doc.OK == nil || *doc.OK || len(doc.Results) == 0 {
		t.Fatalf("--json document: %+v", doc)
	}
	for _, r := range doc.Results {
		if r.OK || r.Check == "" || r.Group == "" || r.Evidence == "" || r.Fix == "" {
			t.Errorf("result %+v: want a failed, named check with evidence and fix", r)
		}
	}
}

func TestWriteVerifyReport_ColourAndVerdict(t *testing.T) {
	rep := verify.Report{Results: []verify.Result{
		{Check: verify.CheckHubHealthz, Group: "hub", Host: "hub-1", OK: true, Evidence: "/healthz 200 ok"},
		{Check: verify.CheckLeafRemote, Group: "leaf", Host: "edge-1", Evidence: "no leaf remote connected", Fix: "check the remote"},
	}}
	var plain, colour bytes.Buffer
	if err := writeVerifyReport(&plain, rep, false); err != nil {
		t.Fatal(err)
	}
	if err := writeVerifyReport(&colour, rep, true); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("plain report has colour codes:\n%s", plain.String())
	}
	for _, want := range []string{"Hub cluster\n", "Leaf links\n", "✓ hub.healthz", "✗ leaf.remote-connected", "fix: check the remote", "1 of 2 checks failed."} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain report lacks %q:\n%s", want, plain.String())
		}
	}
	if !strings.Contains(colour.String(), ansiRed+"✗"+ansiReset) || !strings.Contains(colour.String(), ansiGreen+"✓"+ansiReset) {
		t.Errorf("colour report lacks coloured marks: %q", colour.String())
	}

	var ok bytes.Buffer
	if err := writeVerifyReport(&ok, verify.Report{Results: rep.Results[:1]}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ok.String(), "All 1 checks passed") {
		t.Errorf("passing report verdict:\n%s", ok.String())
	}
}
