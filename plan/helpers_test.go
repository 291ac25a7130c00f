package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// loadExample loads an example inventory from a temp copy with freshly generated secrets.
func loadExample(t *testing.T, name string, edit func(src string) string) *inventory.Inventory {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", name, "inventory.hcl"))
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
func fakeDesired(inv *inventory.Inventory, reveal bool) Desired {
	d := Desired{}
	for _, h := range inv.Hosts {
		var files []DesiredFile
		if n := h.NATS(); n != nil {
			files = append(files, DesiredFile{Path: n.ConfigFile, Mode: 0o600, Service: ServiceNATS, Secret: true,
				Content: natsConf(inv, h, true), Display: natsConf(inv, h, false)})
			files = append(files, DesiredFile{Path: "/etc/sv/nats-server/run", Mode: 0o755, Service: ServiceNATS,
				Content: []byte("#!/bin/sh\nexec " + n.Binary + " -c " + n.ConfigFile + "\n"),
				Display: []byte("#!/bin/sh\nexec " + n.Binary + " -c " + n.ConfigFile + "\n")})
		}
		if w := h.Wasmcloud; w != nil {
			env := func(seed string) []byte {
				return []byte(fmt.Sprintf("WASMCLOUD_LATTICE=%s\nWASMCLOUD_JS_DOMAIN=%s\nWASMCLOUD_HOST_SEED=%s\n", inv.Lattice.Name, inv.Lattice.JSDomain, seed))
			}
			files = append(files, DesiredFile{Path: w.EnvFile, Mode: 0o600, Service: ServiceWasmcloud, Secret: true,
				Content: env(w.HostSeed.Reveal()), Display: env(w.HostSeed.Placeholder())})
			files = append(files, DesiredFile{Path: "/etc/sv/wasmcloud/run", Mode: 0o755, Service: ServiceWasmcloud,
				Content: []byte("#!/bin/sh\nexec " + w.Binary + "\n"), Display: []byte("#!/bin/sh\nexec " + w.Binary + "\n")})
		}
		d[h.Name] = files
	}
	return d
}

func natsConf(inv *inventory.Inventory, h *inventory.Host, reveal bool) []byte {
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

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// converged returns the facts of a fleet that runs exactly the desired files.
func converged(inv *inventory.Inventory, d Desired) map[string]Facts {
	facts := map[string]Facts{}
	for _, h := range inv.Hosts {
		f := Facts{Host: h.Name, Files: map[string]FileFact{}, Services: map[string]ServiceFact{}}
		for _, df := range d[h.Name] {
			f.Files[df.Path] = FileFact{Exists: true, Mode: df.Mode, Size: int64(len(df.Content)), SHA256: sha(df.Content), Content: df.Content}
		}
		if n := h.NATS(); n != nil {
			f.Services[ServiceNATS] = ServiceFact{Running: true, PID: 100, Enabled: true}
			var digest string
			for _, df := range d[h.Name] {
				if df.Path == n.ConfigFile {
					digest = "sha256:" + sha(df.Content)
				}
			}
			nf := &NATSFacts{Version: "2.15.2", DesiredDigest: digest, RunningDigest: digest, ServerName: n.ServerName,
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
			f.Services[ServiceWasmcloud] = ServiceFact{Running: true, PID: 200, Enabled: true}
		}
		facts[h.Name] = f
	}
	return facts
}

// empty returns the facts of a fleet where nothing is installed yet.
func empty(inv *inventory.Inventory, d Desired) map[string]Facts {
	facts := map[string]Facts{}
	for _, h := range inv.Hosts {
		f := Facts{Host: h.Name, Files: map[string]FileFact{}, Services: map[string]ServiceFact{}}
		for _, df := range d[h.Name] {
			f.Files[df.Path] = FileFact{}
		}
		if h.NATS() != nil {
			f.NATS = &NATSFacts{Version: "2.15.2", DesiredDigest: "sha256:x"}
		}
		facts[h.Name] = f
	}
	return facts
}
