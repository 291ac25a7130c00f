package unit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// TestRouteAuth: a hub's cluster block requires the route user and password and every route
// URL carries them; with route_auth = false neither is rendered; and moving from one to the
// other is a reload (nats-server reloads cluster authorization and routes), so the hub wave
// introduces route authentication one node at a time without a restart.
func TestRouteAuth(t *testing.T) {
	const conf = "/etc/nats/nats-server.conf"
	on := loadExample(t, "minimal")
	src, err := os.ReadFile(filepath.Join("../examples", "minimal", "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	offSrc := strings.Replace(string(src), `js_domain = "hub"`, "js_domain = \"hub\"\n  route_auth = false", 1)
	if offSrc == string(src) {
		t.Fatal("examples/minimal/inventory.hcl has no js_domain = \"hub\" to add route_auth after")
	}
	off := loadSource(t, "minimal", []byte(offSrc))
	if !on.Lattice.RouteAuth || off.Lattice.RouteAuth {
		t.Fatalf("route_auth: default %v, set false %v", on.Lattice.RouteAuth, off.Lattice.RouteAuth)
	}

	reveal := Options{RevealSecrets: true}
	newConf := fileAt(t, renderAll(t, on, reveal)["hub-1"], conf).Content
	oldConf := fileAt(t, renderAll(t, off, reveal)["hub-1"], conf).Content
	pw := on.Auth.RoutePassword.Reveal()
	if pw == "" {
		t.Fatal("no passwords.route loaded")
	}
	if !bytes.Contains(newConf, []byte("authorization {\n    user: \"route\"\n    password: \""+pw+"\"")) {
		t.Errorf("hub-1 config has no cluster authorization with the route password:\n%s", newConf)
	}
	for _, line := range strings.Split(string(newConf), "\n") {
		if strings.Contains(line, "nats-route://") && !strings.Contains(line, "nats-route://route:"+pw+"@") {
			t.Errorf("route URL without the credentials: %s", line)
		}
	}
	if bytes.Contains(oldConf, []byte("authorization")) || bytes.Contains(oldConf, []byte("nats-route://route:")) {
		t.Errorf("route_auth = false still renders route credentials:\n%s", oldConf)
	}

	// Shown by render and plan as a placeholder, never the value.
	shown := fileAt(t, renderAll(t, on, Options{})["hub-1"], conf).Content
	if bytes.Contains(shown, []byte(pw)) || !bytes.Contains(shown, []byte("nats-route://route:${secret:passwords.route}@")) {
		t.Errorf("rendered without secrets, hub-1's routes are not placeholders:\n%s", shown)
	}

	d := natsServer{}.Classify(Change{Version: "2.15.2", Files: []ChangedFile{{
		Path: conf, Kind: FileNATSConfig, Op: "update", Old: oldConf, New: newConf,
	}}})
	if d.Effect != Reload {
		t.Errorf("introducing route auth: %v %v, want a reload", d.Effect, d.Reasons)
	}
}

// TestRouteAuthOffNeedsNoSecret: with route_auth = false an inventory loads without
// passwords.route (a fleet deployed before route authentication keeps its secrets file).
func TestRouteAuthOffNeedsNoSecret(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("../examples", "minimal", "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), `js_domain = "hub"`, "js_domain = \"hub\"\n  route_auth = false", 1)
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := inventory.Options{LookupEnv: func(string) (string, bool) { return "", false }}
	skip := noEnv
	skip.SkipSecrets = true
	inv, diags := inventory.Load(path, skip)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	secrets := strings.Replace(mustRead(t, "testdata/secrets.json"), `"route": "test-route-password",`, "", 1)
	if strings.Contains(secrets, "route") {
		t.Fatal("testdata/secrets.json: could not drop passwords.route")
	}
	if err := os.WriteFile(inv.Auth.SecretsFile, []byte(secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, diags := inventory.Load(path, noEnv); diags.HasErrors() {
		t.Errorf("route_auth = false without passwords.route: %s", diags.Error())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
