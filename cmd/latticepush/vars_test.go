package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/plan"
)

// fleetArgs are the -var-file flags of examples/fleet's three sites.
func fleetArgs(t *testing.T) (string, []string) {
	t.Helper()
	fleet, err := filepath.Abs(filepath.Join("..", "..", "examples", "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, s := range fleetSites {
		args = append(args, "-var-file", filepath.Join(fleet, "sites", s.name+".hcl"))
	}
	return fleet, args
}

// TestValidate_Vars: validate takes -var and -var-file in command-line order, refuses a -var
// for a variable the inventory does not declare, and warns (exit 0) without a secrets file.
func TestValidate_Vars(t *testing.T) {
	fleet, args := fleetArgs(t)
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, dir, append([]string{"validate", "--no-color", fleet}, args...)...)
	if code != exitOK || stdout != "Valid: 3 hubs, 300 leaves, 300 wasmCloud hosts, lattice fleet, domain core (1 warning).\n" {
		t.Errorf("validate fleet: exit %d, %q\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "Warning: Secrets file missing") {
		t.Errorf("no warning about the secrets file:\n%s", stderr)
	}

	// A later -var overrides the file before it: 20 edges in ams instead of 100.
	override := `site_ams={cidr="10.1.0.0/22", edges=20, zone="eu-west"}`
	code, stdout, _ = runCLI(t, dir, append(append([]string{"validate", fleet}, args...), "-var", override)...)
	if code != exitOK || !strings.HasPrefix(stdout, "Valid: 3 hubs, 220 leaves,") {
		t.Errorf("-var after -var-file: exit %d, %q", code, stdout)
	}
	// Given first, the file overrides it.
	code, stdout, _ = runCLI(t, dir, append([]string{"validate", fleet, "-var", override}, args...)...)
	if code != exitOK || !strings.HasPrefix(stdout, "Valid: 3 hubs, 300 leaves,") {
		t.Errorf("-var before -var-file: exit %d, %q", code, stdout)
	}

	code, _, stderr = runCLI(t, dir, append(append([]string{"validate", "--no-color", fleet}, args...), "-var", "site_ams_edges=5")...)
	if code != exitError || !strings.Contains(stderr, "Error: Value for undeclared variable") ||
		!strings.Contains(stderr, `-var site_ams_edges=… sets a variable the inventory does not declare.`) {
		t.Errorf("undeclared -var: exit %d\n%s", code, stderr)
	}
	if code, _, stderr = runCLI(t, dir, "validate", fleet, "-var", "novalue"); code != exitError || !strings.Contains(stderr, "write NAME=VALUE") {
		t.Errorf("-var without '=': exit %d %s", code, stderr)
	}
}

// TestApply_RefusesPlanWithOtherVariables: a saved plan made with other variable values is
// refused before any host is contacted.
func TestApply_RefusesPlanWithOtherVariables(t *testing.T) {
	fleet, args := fleetArgs(t)
	dir := t.TempDir()
	writeSecretsFor(t, fleet, args, dir)
	saved := &plan.Plan{FormatVersion: plan.FormatVersion, Inventory: filepath.Join(dir, "fleet"),
		VariablesDigest: strings.Repeat("0", 64), Fingerprints: map[string]string{}}
	var b bytes.Buffer
	if err := plan.Write(&b, saved); err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(planFile, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, dir, append([]string{"apply", planFile, "--auto-approve"}, args...)...)
	if code != exitError || !strings.Contains(stderr, "the plan was made with other inventory variable values") {
		t.Errorf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
}

// writeSecretsFor copies examples/fleet into dir/fleet and generates its secrets there.
func writeSecretsFor(t *testing.T, fleet string, args []string, dir string) {
	t.Helper()
	dst := filepath.Join(dir, "fleet")
	if err := os.CopyFS(dst, os.DirFS(fleet)); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, dir, append([]string{"secrets", dst}, args...)...); code != exitOK {
		t.Fatalf("secrets: exit %d\n%s", code, stderr)
	}
}

// TestGraph_GeneratedHosts: graph draws the fleet's generated edges inside one box for their
// hosts block, and dot accepts it.
func TestGraph_GeneratedHosts(t *testing.T) {
	dot := testenv.RequireCommand(t, "dot")
	fleet, args := fleetArgs(t)
	code, stdout, stderr := runCLI(t, t.TempDir(), append([]string{"graph", fleet}, args...)...)
	if code != exitOK {
		t.Fatalf("graph: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		`subgraph "cluster_group_edge" {`,
		`label="hosts \"edge\" · 300 generated"`,
		`    subgraph "cluster_host_nyc-edge-100" {`,
		`"nats:hub-3" [label="hub-3\n10.0.0.13\nnats-server · JetStream"`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("graph lacks %s", want)
		}
	}
	if n := strings.Count(stdout, "lhead=cluster_hub"); n != 300 {
		t.Errorf("%d leaf links, want 300", n)
	}
	cmd := exec.Command(dot, "-Tsvg", "-o", os.DevNull)
	cmd.Stdin = strings.NewReader(stdout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("dot: %v\n%s", err, out)
	}
}
