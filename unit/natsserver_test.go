package unit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
)

var digestRE = regexp.MustCompile(`is valid \((sha256:[0-9a-f]{64})\)`)

// natsCheck runs `nats-server -t -c` on content and returns the digest it prints.
func natsCheck(t *testing.T, bin, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-c", path).CombinedOutput()
	if err != nil {
		t.Fatalf("nats-server -t rejects %s: %v\n%s\n--- config\n%s", name, err, out, content)
	}
	m := digestRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("nats-server -t on %s printed no digest: %s", name, out)
	}
	return string(m[1])
}

// TestNATSConfigsParse runs the real nats-server's config check on every rendered config of
// every example, secrets revealed: the bytes that are uploaded.
func TestNATSConfigsParse(t *testing.T) {
	bin := testenv.NATSServer(t)
	n := 0
	for _, name := range examples(t) {
		for host, files := range renderAll(t, loadExample(t, name), Options{RevealSecrets: true}) {
			for _, f := range files {
				if f.Kind == FileNATSConfig {
					natsCheck(t, bin, name+"-"+host+".conf", f.Content)
					n++
				}
			}
		}
	}
	t.Logf("%d rendered configs accepted by nats-server -t", n)
}

// hostile is a password holding every character a naive quoting gets wrong in NATS conf,
// URLs or shells.
const hostile = "p\"a\\s$s{w}o#r d@:/?%'`;[]\t\u00e9!*>&x"

// TestHostilePasswords shows that any password survives NATS conf quoting: the real parser
// reads back exactly the secret (checked in the boot test by logging in with it) and a hub
// config with such passwords passes `nats-server -t`.
func TestHostilePasswords(t *testing.T) {
	bin := testenv.NATSServer(t)
	inv := loadExample(t, "minimal")
	inv.Auth.SystemPassword = inventory.NewSecret("passwords.system", hostile, "test")
	inv.Auth.LeafPassword = inventory.NewSecret("passwords.leaf", hostile+"2", "test")
	inv.Auth.CheckPassword = inventory.NewSecret("passwords.check", "}\n{user: \"evil\"", "test")
	inv.Auth.RoutePassword = inventory.NewSecret("passwords.route", hostile+"@/?#route", "test")
	for host, files := range renderAll(t, inv, Options{RevealSecrets: true}) {
		for _, f := range files {
			if f.Kind != FileNATSConfig {
				continue
			}
			natsCheck(t, bin, host+".conf", f.Content)
			if bytes.Contains(f.Content, []byte("\n{user: \"evil\"")) {
				t.Errorf("%s: a newline in a password broke out of its string:\n%s", host, f.Content)
			}
		}
	}
}

// TestBcryptLookalikeRefused: nats-server compares a password that looks like a bcrypt hash
// as a hash, so no client could log in with it.
func TestBcryptLookalikeRefused(t *testing.T) {
	inv := loadExample(t, "minimal")
	inv.Auth.LeafPassword = inventory.NewSecret("passwords.leaf", "$2a$11$abcdefghijklmnopqrstuv", "test")
	_, err := All(inv, Options{RevealSecrets: true})
	if err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Fatalf("want a bcrypt refusal, got %v", err)
	}
}

// TestAliasNeverReachesLeaves: the old-domain alias of a domain change is rendered on the
// hubs only; a leaf with its own JetStream that loaded it would answer those requests itself.
func TestAliasNeverReachesLeaves(t *testing.T) {
	inv := loadExample(t, "domain-change")
	if inv.Lattice.PreviousJSDomain == "" || !inv.Lattice.AliasOldDomain {
		t.Fatal("the domain-change example no longer asks for an alias")
	}
	old := "$JS." + inv.Lattice.PreviousJSDomain + ".API"
	// Give one leaf its own JetStream too: the case where a leaked alias would do harm.
	for _, h := range inv.Hosts {
		if h.Leaf != nil {
			h.Leaf.JetStreamDomain = "edge-" + h.Name
			break
		}
	}
	all := renderAll(t, inv, Options{RevealSecrets: true})
	for _, h := range inv.Hosts {
		for _, f := range all[h.Name] {
			has := bytes.Contains(f.Content, []byte(old)) || bytes.Contains(f.Content, []byte("mappings"))
			switch {
			case h.Hub != nil && f.Kind == FileNATSConfig && !has:
				t.Errorf("%s %s: hub config without the alias", h.Name, f.Path)
			case h.Hub == nil && has:
				t.Errorf("%s %s: the alias reached a non-hub file:\n%s", h.Name, f.Path, f.Content)
			}
		}
	}

	inv.Lattice.AliasOldDomain = false
	for host, files := range renderAll(t, inv, Options{RevealSecrets: true}) {
		for _, f := range files {
			if bytes.Contains(f.Content, []byte(old)) {
				t.Errorf("%s %s: alias rendered although alias_old_domain = false", host, f.Path)
			}
		}
	}
}
