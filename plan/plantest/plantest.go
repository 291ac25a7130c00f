// Package plantest holds fixtures shared by the tests of plan and rollout: example
// inventories with fresh secrets, a small stand-in rendering, and the facts of an empty or a
// converged fleet. It is imported by tests only.
package plantest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/unit"
)

// loadExample loads an example inventory from a temp copy with freshly generated secrets.
func LoadExample(t *testing.T, name string, edit func(src string) string) *inventory.Inventory {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", name, "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	if edit != nil {
		s = edit(s)
	}
	s = strings.ReplaceAll(s, `"../lab/secrets.json"`, `"secrets.json"`)
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, diags := inventory.Load(path, inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", name, diags)
	}
	if _, err := inventory.GenerateSecrets(inv, inventory.Options{}); err != nil {
		t.Fatal(err)
	}
	inv, diags = inventory.Load(path, inventory.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s with secrets: %v", name, diags)
	}
	return inv
}

// fakeDesired renders a small stand-in for each host's files: enough structure for the
// planner (a NATS config it can parse and diff, an env file, service definitions) without
// depending on the renderer, whose own tests pin the real bytes.
func FakeDesired(inv *inventory.Inventory, reveal bool) plan.Desired {
	d := plan.Desired{}
	for _, h := range inv.Hosts {
		var files []plan.DesiredFile
		if n := h.NATS(); n != nil {
			files = append(files, plan.DesiredFile{Path: n.ConfigFile, Mode: 0o600, Service: plan.ServiceNATS, Kind: unit.FileNATSConfig, Secret: true,
				Content: NATSConf(inv, h, true), Display: NATSConf(inv, h, false)})
			files = append(files, plan.DesiredFile{Path: "/etc/sv/nats-server/run", Mode: 0o755, Service: plan.ServiceNATS, Kind: unit.FileScript,
				Content: []byte("#!/bin/sh\nexec " + n.Binary + " -c " + n.ConfigFile + "\n"),
				Display: []byte("#!/bin/sh\nexec " + n.Binary + " -c " + n.ConfigFile + "\n")})
		}
		if w := h.Wasmcloud; w != nil {
			env := func(seed string) []byte {
				return []byte(fmt.Sprintf("WASMCLOUD_LATTICE=%s\nWASMCLOUD_JS_DOMAIN=%s\nWASMCLOUD_HOST_SEED=%s\n", inv.Lattice.Name, inv.Lattice.JSDomain, seed))
			}
			files = append(files, plan.DesiredFile{Path: w.EnvFile, Mode: 0o600, Service: plan.ServiceWasmcloud, Kind: unit.FileEnv, Secret: true,
				Content: env(w.HostSeed.Reveal()), Display: env(w.HostSeed.Placeholder())})
			files = append(files, plan.DesiredFile{Path: "/etc/sv/wasmcloud/run", Mode: 0o755, Service: plan.ServiceWasmcloud, Kind: unit.FileScript,
				Content: []byte("#!/bin/sh\nexec " + w.Binary + "\n"), Display: []byte("#!/bin/sh\nexec " + w.Binary + "\n")})
		}
		d[h.Name] = files
	}
	return d
}

func NATSConf(inv *inventory.Inventory, h *inventory.Host, reveal bool) []byte {
	n := h.NATS()
	pw := func(s inventory.Secret) string {
		if reveal {
			return s.Reveal()
		}
		return s.Placeholder()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %q\nlisten: \"%s:%d\"\nhttp: \"%s:%d\"\n", n.ServerName, n.ClientHost, n.ClientPort, n.HTTPHost, n.HTTPPort)
	fmt.Fprintf(&b, "lame_duck_duration: %q\n", n.LameDuckDuration)
	if h.Hub != nil {
		fmt.Fprintf(&b, "jetstream { domain: %q, store_dir: %q, max_file_store: %q }\n", inv.Lattice.JSDomain, n.StoreDir, n.MaxFileStore)
		fmt.Fprintf(&b, "cluster { name: %q, listen: \"0.0.0.0:%d\" }\n", n.ClusterName, n.ClusterPort)
		fmt.Fprintf(&b, "accounts { LATTICE { jetstream: enabled, users: [ {user: leaf, password: %q} ] } }\n", pw(inv.Auth.LeafPassword))
	} else {
		var urls []string
		for _, hub := range inv.Hubs() {
			urls = append(urls, fmt.Sprintf("%q", fmt.Sprintf("nats-leaf://leaf:%s@%s:%d", pw(inv.Auth.LeafPassword), hub.Address, hub.Hub.LeafnodePort)))
		}
		fmt.Fprintf(&b, "leafnodes { remotes: [ { urls: [ %s ] } ] }\n", strings.Join(urls, ", "))
	}
	return []byte(b.String())
}

func SHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// converged returns the facts of a fleet that runs exactly the desired files.
func Converged(inv *inventory.Inventory, d plan.Desired) map[string]plan.Facts {
	facts := map[string]plan.Facts{}
	for _, h := range inv.Hosts {
		f := plan.Facts{Host: h.Name, Files: map[string]plan.FileFact{}, Services: map[string]plan.ServiceFact{}}
		for _, df := range d[h.Name] {
			f.Files[df.Path] = plan.FileFact{Exists: true, Mode: df.Mode, Size: int64(len(df.Content)), SHA256: SHA(df.Content), Content: df.Content}
		}
		if n := h.NATS(); n != nil {
			f.Services[plan.ServiceNATS] = plan.ServiceFact{Running: true, PID: 100, Enabled: true}
			var digest string
			for _, df := range d[h.Name] {
				if df.Path == n.ConfigFile {
					digest = "sha256:" + SHA(df.Content)
				}
			}
			nf := &plan.NATSFacts{Version: "2.15.2", DesiredDigest: digest, RunningDigest: digest, FileDigest: digest, ServerName: n.ServerName,
				ClientPort: n.ClientPort, HTTPPort: n.HTTPPort}
			if h.Hub != nil {
				nf.Domain = inv.Lattice.JSDomain
				nf.ClusterName = n.ClusterName
				nf.MetaLeader = "hub-1"
				nf.ClusterPort, nf.LeafnodePort = n.ClusterPort, n.LeafnodePort
			} else {
				nf.Domain = n.JetStreamDomain
			}
			f.NATS = nf
		}
		if h.Wasmcloud != nil {
			f.Services[plan.ServiceWasmcloud] = plan.ServiceFact{Running: true, PID: 200, Enabled: true}
		}
		facts[h.Name] = f
	}
	return facts
}

// empty returns the facts of a fleet where nothing is installed yet.
func Empty(inv *inventory.Inventory, d plan.Desired) map[string]plan.Facts {
	facts := map[string]plan.Facts{}
	for _, h := range inv.Hosts {
		f := plan.Facts{Host: h.Name, Files: map[string]plan.FileFact{}, Services: map[string]plan.ServiceFact{}}
		for _, df := range d[h.Name] {
			f.Files[df.Path] = plan.FileFact{}
		}
		if h.NATS() != nil {
			f.NATS = &plan.NATSFacts{Version: "2.15.2", DesiredDigest: "sha256:x"}
		}
		facts[h.Name] = f
	}
	return facts
}

// moveLeafPort gives every hub node a new leafnode port and returns the desired files before
// and after (real rendering, same secrets).
func MoveLeafPort(t *testing.T, inv *inventory.Inventory, port int) (before, after plan.Desired) {
	t.Helper()
	before, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range inv.Hubs() {
		h.Hub.LeafnodePort = port
	}
	after, err = plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	return before, after
}

func WaveNames(p *plan.Plan) []string {
	var out []string
	for _, w := range p.Waves {
		out = append(out, string(w.Name))
	}
	return out
}

func ContentOf(d plan.Desired, host, path string) []byte {
	for _, f := range d[host] {
		if f.Path == path {
			return f.Content
		}
	}
	return nil
}

// repoRoot is the directory holding go.mod, found from the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
