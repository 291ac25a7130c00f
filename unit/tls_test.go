package unit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

var tlsNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func loadManaged(t *testing.T, name string, now time.Time) *inventory.Inventory {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../examples", name, "inventory.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("js_domain = \"hub\"\n"), []byte("js_domain = \"hub\"\n  tls { ca = \"managed\" }\n"), 1)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := inventory.Options{LookupEnv: func(string) (string, bool) { return "", false }, Now: now}
	skip := opts
	skip.SkipSecrets = true
	inv, diags := inventory.Load(path, skip)
	if diags.HasErrors() {
		t.Fatalf("load %s: %s", name, diags.Error())
	}
	if inv.Lattice.TLS == nil || !inv.Lattice.TLS.Managed {
		t.Fatalf("tls block not read: %+v", inv.Lattice.TLS)
	}
	secrets, err := os.ReadFile("testdata/secrets.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inv.Auth.SecretsFile, secrets, 0o600); err != nil {
		t.Fatal(err)
	}
	added, err := inventory.GenerateSecrets(inv, skip)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(added) != "[ca.key]" {
		t.Fatalf("secrets added %v, want [ca.key]", added)
	}
	inv, diags = inventory.Load(path, opts)
	if diags.HasErrors() {
		t.Fatalf("load %s with secrets: %s", name, diags.Error())
	}
	return inv
}

// TestTLS_ManagedCertificates: every hub and relay gets a certificate of the fleet CA naming
// its host name and address, valid for 90 days from its issuance period, with the key that
// matches it; files 0600 named by serial; the same clock renders the same bytes, the next
// period new files; the key never appears in the display rendering; leaves get the CA only.
func TestTLS_ManagedCertificates(t *testing.T) {
	for _, example := range []string{"lab", "tiered"} {
		t.Run(example, func(t *testing.T) { testManagedCertificates(t, example) })
	}
}

func testManagedCertificates(t *testing.T, example string) {
	inv := loadManaged(t, example, tlsNow)
	ca, err := inventory.ParseCACert(inv.Lattice.TLS.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	all := renderAll(t, inv, Options{RevealSecrets: true})
	again := renderAll(t, inv, Options{RevealSecrets: true})
	shown := renderAll(t, inv, Options{})
	for _, h := range inv.Hosts {
		if h.NATS() == nil {
			continue
		}
		var certs, keys, cas []File
		for i, f := range all[h.Name] {
			if !bytes.Equal(f.Content, again[h.Name][i].Content) || f.Path != again[h.Name][i].Path {
				t.Errorf("%s: %s differs between two renderings", h.Name, f.Path)
			}
			if f.Kind != FileTLS {
				continue
			}
			if f.Mode != 0o600 {
				t.Errorf("%s: %s mode %o, want 0600", h.Name, f.Path, f.Mode)
			}
			switch {
			case strings.HasSuffix(f.Path, ".key"):
				keys = append(keys, f)
				if !f.Secret {
					t.Errorf("%s: key file %s not marked secret", h.Name, f.Path)
				}
			case strings.Contains(f.Path, "/ca-"):
				cas = append(cas, f)
			default:
				certs = append(certs, f)
			}
		}
		for _, f := range shown[h.Name] {
			if bytes.Contains(f.Content, []byte("PRIVATE KEY")) {
				t.Errorf("%s: the display rendering of %s holds a private key", h.Name, f.Path)
			}
		}
		conf := string(fileAt(t, all[h.Name], h.NATS().ConfigFile).Content)
		if len(cas) != 1 || !strings.Contains(conf, cas[0].Path) {
			t.Fatalf("%s: CA files %v, config:\n%s", h.Name, cas, conf)
		}
		if h.Hub == nil && !h.IsRelay() {
			if len(certs)+len(keys) != 0 {
				t.Errorf("%s: a leaf got a certificate or key", h.Name)
			}
			continue
		}
		if len(certs) != 1 || len(keys) != 1 {
			t.Fatalf("%s: certificates %d, keys %d", h.Name, len(certs), len(keys))
		}
		blk, _ := pem.Decode(certs[0].Content)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("/etc/nats/tls/%s-%x.pem", h.Name, c.SerialNumber); certs[0].Path != want {
			t.Errorf("%s: certificate at %s, want %s", h.Name, certs[0].Path, want)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: tlsNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: certificate does not verify for client auth: %v", h.Name, err)
		}
		for _, name := range []string{h.Name, h.Address} {
			if err := c.VerifyHostname(name); err != nil {
				t.Errorf("%s: %v", h.Name, err)
			}
		}
		if got := c.NotAfter.Sub(c.NotBefore); got != inventory.DefaultCertValidity+time.Hour {
			t.Errorf("%s: validity %s", h.Name, got)
		}
		if left := c.NotAfter.Sub(tlsNow); left < 60*24*time.Hour {
			t.Errorf("%s: only %s left at issuance", h.Name, left)
		}
		if _, err := tls.X509KeyPair(certs[0].Content, keys[0].Content); err != nil {
			t.Errorf("%s: key does not match certificate: %v", h.Name, err)
		}
		for _, want := range []string{"cert_file: \"" + certs[0].Path, "key_file: \"" + keys[0].Path, "verify: true"} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: config lacks %s:\n%s", h.Name, want, conf)
			}
		}
		// The next issuance period: a new certificate, under a new name.
		later := *inv.Lattice.TLS
		later.Now = tlsNow.Add(31 * 24 * time.Hour)
		c2, _, serial2, err := IssueHostCert(&later, h)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(c2, certs[0].Content) || strings.Contains(certs[0].Path, serial2) {
			t.Errorf("%s: the next period issues the same certificate", h.Name)
		}
	}
}

// TestTLS_ConfigsParse: the real nats-server accepts every TLS config of the lab and the
// tiered example, with the files where the config names them, and a changed certificate is a
// reload, on a hub and on a relay.
func TestTLS_ConfigsParse(t *testing.T) {
	bin := testenv.NATSServer(t)
	for _, example := range []string{"lab", "tiered"} {
		natsCheckAll(t, bin, loadManaged(t, example, tlsNow))
	}
	inv := loadManaged(t, "tiered", tlsNow)
	old := renderAll(t, inv, Options{RevealSecrets: true})
	inv.Lattice.TLS.Now = tlsNow.Add(31 * 24 * time.Hour)
	cur := renderAll(t, inv, Options{RevealSecrets: true})
	for _, name := range []string{"hub-1", "relay-1"} {
		n := inv.Host(name).NATS()
		oldConf := fileAt(t, old[name], n.ConfigFile).Content
		newConf := fileAt(t, cur[name], n.ConfigFile).Content
		if bytes.Equal(oldConf, newConf) {
			t.Fatalf("%s: the next issuance period names the same files", name)
		}
		d := natsServer{}.Classify(Change{Version: "2.15.2", Files: []ChangedFile{{Path: n.ConfigFile, Kind: FileNATSConfig, Op: "update", Old: oldConf, New: newConf}}})
		if d.Effect != Reload {
			t.Errorf("%s: a new certificate: %v %v, want a reload", name, d.Effect, d.Reasons)
		}
	}
}

// natsCheckAll writes every host's TLS files where its config names them (under a temporary
// root) and has nats-server -t accept every config.
func natsCheckAll(t *testing.T, bin string, inv *inventory.Inventory) {
	t.Helper()
	root := t.TempDir()
	for host, files := range renderAll(t, inv, Options{RevealSecrets: true}) {
		var conf []byte
		for _, f := range files {
			if f.Kind == FileTLS {
				p := filepath.Join(root, host, f.Path)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, f.Content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if f.Kind == FileNATSConfig {
				conf = f.Content
			}
		}
		conf = bytes.ReplaceAll(conf, []byte("\"/etc/nats/tls/"), []byte("\""+filepath.Join(root, host)+"/etc/nats/tls/"))
		natsCheck(t, bin, host+".conf", conf)
	}
}

// TestBootLatticeTLS boots the rendered hub cluster and a leaf with the managed CA: routes and
// the leaf link come up over TLS (the domain answers through the leaf), each hub's /varz says
// its cluster (verified), leafnode and client ports require TLS, a plaintext client is refused
// by a hub's client and leafnode ports, and hub-1, which runs a wasmCloud host, also takes a
// plaintext client (allow_non_tls) while a TLS client verifies its certificate.
func TestBootLatticeTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("boots 4 nats-servers")
	}
	bin := testenv.NATSServer(t)
	for _, a := range []string{"127.0.0.11", "127.0.0.21"} {
		if l, err := net.Listen("tcp", a+":0"); err != nil {
			testenv.Unavailable(t, "loopback address "+a+" not usable: "+err.Error())
		} else {
			l.Close()
		}
	}
	inv := loadManaged(t, "lab", time.Now())
	root := t.TempDir()
	addrs := map[string]string{"hub-1": "127.0.0.11", "hub-2": "127.0.0.12", "hub-3": "127.0.0.13", "edge-1": "127.0.0.21"}
	ports := freePorts(t, 4*len(addrs)+1)
	port := func() int { p := ports[0]; ports = ports[1:]; return p }
	var hosts []*inventory.Host
	for _, h := range inv.Hosts {
		a, ok := addrs[h.Name]
		if !ok {
			continue
		}
		n := h.NATS()
		h.Address, n.ClientHost, n.HTTPHost = a, a, a
		n.ClientPort, n.HTTPPort = port(), port()
		n.ConfigFile = filepath.Join(root, h.Name, "nats-server.conf")
		if h.Hub != nil {
			n.ClusterPort, n.LeafnodePort = port(), port()
			n.StoreDir = filepath.Join(root, h.Name, "store")
		}
		hosts = append(hosts, h)
	}
	hub1 := inv.Host("hub-1")
	hub1.Wasmcloud = &inventory.Wasmcloud{Binary: "/usr/local/bin/wasmcloud", EnvFile: "/etc/wasmcloud/wasmcloud.env",
		NATSHost: "127.0.0.1", NATSPort: hub1.Hub.ClientPort, HostSeed: inventory.NewSecret("host_seeds.hub-1", "x", "test")}
	inv.Hosts = hosts
	for _, h := range hosts {
		files, err := Host(inv, h, Options{RevealSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Kind != FileTLS && f.Kind != FileNATSConfig {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.Path, f.Content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		startServer(t, bin, filepath.Dir(h.NATS().ConfigFile), h.NATS().ConfigFile)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leaf := inv.Host("edge-1").Leaf
	nc, err := nats.Connect("nats://"+hostPort(leaf.ClientHost, leaf.ClientPort),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.NewWithDomain(nc, inv.Lattice.JSDomain)
	var kv jetstream.KeyValue
	// The cluster elects a meta leader and the leaf links within seconds: retry, each request
	// on its own short deadline (one sent before the election is answered by no one).
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		kv, err = js.CreateKeyValue(actx, jetstream.KeyValueConfig{Bucket: "probe", Replicas: 3})
		acancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("3-replica KV bucket through the leaf's TLS link: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	for _, h := range hosts {
		if h.Hub == nil {
			continue
		}
		var d net.Dialer
		v, err := natsmon.New(h.Hub.LocalMonitorAddr(), d.DialContext, natsmon.Options{}).Varz(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Cluster.TLSRequired || !v.Cluster.TLSVerify || !v.Leaf.TLSRequired || v.TLSCertNotAfter.IsZero() {
			t.Errorf("%s: /varz cluster tls %v/%v, leaf tls %v, cert until %v", h.Name, v.Cluster.TLSRequired, v.Cluster.TLSVerify, v.Leaf.TLSRequired, v.TLSCertNotAfter)
		}
		// A plaintext leaf connection is refused: the listener starts TLS first.
		if c, err := nats.Connect("nats://"+hostPort(h.Address, h.Hub.LeafnodePort), nats.IgnoreDiscoveredServers(), nats.Timeout(2*time.Second)); err == nil {
			t.Errorf("%s: plaintext client accepted on the leafnode port", h.Name)
			c.Close()
		}
	}
	if c, err := nats.Connect("nats://"+hostPort("127.0.0.12", inv.Host("hub-2").Hub.ClientPort), nats.IgnoreDiscoveredServers(),
		nats.UserInfo(UserCheck, inv.Auth.CheckPassword.Reveal())); err == nil {
		t.Errorf("hub-2 accepted a plaintext client")
		c.Close()
	}
	plain, err := nats.Connect("nats://"+hostPort("127.0.0.11", hub1.Hub.ClientPort), nats.IgnoreDiscoveredServers())
	if err != nil {
		t.Fatalf("hub-1 (wasmCloud on the machine, allow_non_tls) refuses a plaintext client: %v", err)
	}
	if plain.TLSRequired() {
		t.Error("hub-1's plaintext client reports TLS")
	}
	plain.Close()
	ca, _ := inventory.ParseCACert(inv.Lattice.TLS.CACert)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	sec, err := nats.Connect("tls://"+hostPort("127.0.0.11", hub1.Hub.ClientPort), nats.IgnoreDiscoveredServers(),
		nats.Secure(&tls.Config{RootCAs: pool, ServerName: "hub-1", MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("TLS client on hub-1: %v", err)
	}
	if _, err := sec.TLSConnectionState(); err != nil {
		t.Errorf("hub-1's TLS client has no TLS state: %v", err)
	}
	sec.Close()
}

// TestTLS_OperatorCertificatesRender: with the operator's own files (here issued by another
// lattice's managed CA), every hub and relay gets its certificate and key under its serial, the
// leaves the CA, and nats-server -t accepts every config (the lab and the tiered example).
func TestTLS_OperatorCertificatesRender(t *testing.T) {
	bin := testenv.NATSServer(t)
	for _, example := range []string{"lab", "tiered"} {
		t.Run(example, func(t *testing.T) { testOperatorCertificatesRender(t, bin, example) })
	}
}

func testOperatorCertificatesRender(t *testing.T, bin, example string) {
	managed := loadManaged(t, example, tlsNow)
	src, err := os.ReadFile("../examples/" + example + "/inventory.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("js_domain = \"hub\"\n"), []byte("js_domain = \"hub\"\n  tls {\n    ca_file   = \"ca.pem\"\n    cert_file = \"certs/${host}.pem\"\n    key_file  = \"certs/${host}.key\"\n  }\n"), 1)
	dir := filepath.Join(t.TempDir(), example)
	writeFile := func(p string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(filepath.Join(dir, "ca.pem"), managed.Lattice.TLS.CACert)
	serials := map[string]string{}
	for _, h := range inventory.CertHosts(managed) {
		c, k, serial, err := IssueHostCert(managed.Lattice.TLS, h)
		if err != nil {
			t.Fatal(err)
		}
		serials[h.Name] = serial
		writeFile(filepath.Join(dir, "certs", h.Name+".pem"), c)
		writeFile(filepath.Join(dir, "certs", h.Name+".key"), k)
	}
	writeFile(filepath.Join(dir, "inventory.hcl"), src)
	secrets, _ := os.ReadFile("testdata/secrets.json")
	writeFile(filepath.Join(dir, "secrets.json"), secrets)
	inv, diags := inventory.Load(filepath.Join(dir, "inventory.hcl"), inventory.Options{Now: tlsNow, LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	root := t.TempDir()
	for host, files := range renderAll(t, inv, Options{RevealSecrets: true}) {
		h := inv.Host(host)
		if h.NATS() == nil {
			continue
		}
		var conf []byte
		var names []string
		for _, f := range files {
			if f.Kind == FileTLS {
				names = append(names, f.Path)
				writeFile(filepath.Join(root, host, f.Path), f.Content)
			}
			if f.Kind == FileNATSConfig {
				conf = f.Content
			}
		}
		if (h.Hub != nil || h.IsRelay()) && !strings.Contains(strings.Join(names, " "), "/etc/nats/tls/"+host+"-"+serials[host]+".key") {
			t.Errorf("%s: TLS files %v, want the key under serial %s", host, names, serials[host])
		}
		conf = bytes.ReplaceAll(conf, []byte("\"/etc/nats/tls/"), []byte("\""+filepath.Join(root, host)+"/etc/nats/tls/"))
		natsCheck(t, bin, host+".conf", conf)
	}
}

// TestTLS_TurningOnIsARestart: moving a running hub from plaintext to TLS is a restart where no
// reload can do it (the leafnode listener); with links = "routes" (route and client TLS only)
// it is a reload, and the leaves do not change. A leaf's remote moves by reload: its URLs
// change scheme (tls://), which nats-server reloads as a remote replaced; TLS added to a remote
// whose URLs stay would not.
func TestTLS_TurningOnIsARestart(t *testing.T) {
	plain := renderAll(t, loadExample(t, "lab"), Options{RevealSecrets: true})
	inv := loadManaged(t, "lab", tlsNow)
	tlsOn := renderAll(t, inv, Options{RevealSecrets: true})
	classify := func(host string, old, new []byte) Decision {
		conf := inv.Host(host).NATS().ConfigFile
		return natsServer{}.Classify(Change{Version: "2.15.2", Files: []ChangedFile{{Path: conf, Kind: FileNATSConfig, Op: "update", Old: old, New: new}}})
	}
	conf := func(all map[string][]File, host string) []byte {
		return fileAt(t, all[host], inv.Host(host).NATS().ConfigFile).Content
	}
	d := classify("hub-1", conf(plain, "hub-1"), conf(tlsOn, "hub-1"))
	got := strings.Join(d.Reasons, "; ")
	if d.Effect != Restart || got != "leafnodes.tls (TLS turned on or off on the leafnode listener: it changes the listener's auth timeout, which no reload changes)" {
		t.Errorf("hub-1: %v %s, want a restart for leafnodes.tls alone", d.Effect, got)
	}
	inv.Lattice.TLS.RoutesOnly = true
	routes := renderAll(t, inv, Options{RevealSecrets: true})
	if d := classify("hub-1", conf(plain, "hub-1"), conf(routes, "hub-1")); d.Effect != Reload {
		t.Errorf("hub-1, links = \"routes\": %v %v, want a reload", d.Effect, d.Reasons)
	}
	if c := conf(routes, "hub-1"); !bytes.Contains(c, []byte("verify: true")) || bytes.Contains(c, []byte("leafnodes {\n  listen: \"0.0.0.0:7422\"\n  tls")) {
		t.Errorf("hub-1, links = \"routes\": want route TLS and no leafnode TLS:\n%s", c)
	}
	if len(routes["edge-1"]) != len(plain["edge-1"]) || !bytes.Equal(conf(routes, "edge-1"), conf(plain, "edge-1")) {
		t.Errorf("edge-1 changes with links = \"routes\"")
	}
	inv.Lattice.TLS.RoutesOnly = false
	leafTLS := conf(tlsOn, "edge-1")
	if !bytes.Contains(leafTLS, []byte(`"tls://leaf:`)) {
		t.Fatalf("edge-1's remote URLs are not tls://:\n%s", leafTLS)
	}
	if d := classify("edge-1", conf(plain, "edge-1"), leafTLS); d.Effect != Reload {
		t.Errorf("edge-1: %v %v, want a reload (a remote replaced)", d.Effect, d.Reasons)
	}
	sameURLs := bytes.ReplaceAll(leafTLS, []byte(`"tls://leaf:`), []byte(`"nats-leaf://leaf:`))
	if d := classify("edge-1", conf(plain, "edge-1"), sameURLs); d.Effect != Restart || !strings.Contains(strings.Join(d.Reasons, ";"), "same URLs: not reloadable") {
		t.Errorf("edge-1, TLS added with the same URLs: %v %v, want a restart", d.Effect, d.Reasons)
	}
}

// TestTLS_RenderWithoutSecretsNamesTheSameFiles: `render` with placeholders (no secrets
// loaded) names each hub's certificate and key by the serial apply writes.
func TestTLS_RenderWithoutSecretsNamesTheSameFiles(t *testing.T) {
	inv := loadManaged(t, "lab", tlsNow)
	public, diags := inventory.Load(inv.Filename, inventory.Options{SkipSecrets: true, Now: tlsNow})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	real := renderAll(t, inv, Options{RevealSecrets: true})
	shown := renderAll(t, public, Options{})
	for _, h := range inv.Hubs() {
		var a, b []string
		for _, f := range real[h.Name] {
			a = append(a, f.Path)
		}
		for _, f := range shown[h.Name] {
			b = append(b, f.Path)
			if f.Kind == FileTLS && bytes.Contains(f.Content, []byte("PRIVATE KEY")) {
				t.Errorf("%s: %s holds a key without secrets", h.Name, f.Path)
			}
		}
		if strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%s: with secrets %v, without %v", h.Name, a, b)
		}
	}
}

// TestTLS_RelayLinks: in the tiered example with the managed CA, a relay's routes are mutual
// TLS, its leafnode listener requires TLS with its own certificate, and its remote to the hubs
// and the edges' remotes to it are tls:// and verify with the fleet CA. With links = "routes"
// only the routes (hubs' and relays') take TLS: every leaf link, a relay's included, stays
// plaintext and the edges get no TLS file at all.
func TestTLS_RelayLinks(t *testing.T) {
	inv := loadManaged(t, "tiered", tlsNow)
	for _, routesOnly := range []bool{false, true} {
		inv.Lattice.TLS.RoutesOnly = routesOnly
		all := renderAll(t, inv, Options{})
		for _, h := range inv.Hosts {
			files := all[h.Name]
			n := h.NATS()
			if n == nil {
				continue
			}
			conf := fileAt(t, files, n.ConfigFile).Content
			routes, leaf, err := LinkTLS(conf)
			if err != nil {
				t.Fatal(err)
			}
			tlsFiles := 0
			for _, f := range files {
				if f.Kind == FileTLS {
					tlsFiles++
				}
			}
			wantRoutes := h.Hub != nil || h.IsRelay()
			wantFiles := map[bool]int{true: 3, false: 1}[wantRoutes]
			if routesOnly && !wantRoutes {
				wantFiles = 0
			}
			if routes != wantRoutes || leaf == routesOnly || tlsFiles != wantFiles {
				t.Errorf("links=routes %v: %s: route TLS %v, leaf TLS %v, %d TLS files; want %v, %v, %d:\n%s",
					routesOnly, h.Name, routes, leaf, tlsFiles, wantRoutes, !routesOnly, wantFiles, conf)
			}
			if h.IsRelay() && !routesOnly {
				listener := string(conf[bytes.Index(conf, []byte("leafnodes {")):bytes.Index(conf, []byte("remotes: ["))])
				if !strings.Contains(listener, "cert_file: \"/etc/nats/tls/"+h.Name+"-") {
					t.Errorf("%s: leafnode listener without its certificate:\n%s", h.Name, listener)
				}
			}
			if h.Leaf != nil {
				scheme := map[bool]string{false: "\"tls://", true: "\"nats-leaf://"}[routesOnly]
				if !bytes.Contains(conf, []byte(scheme)) {
					t.Errorf("links=routes %v: %s: remotes not %s:\n%s", routesOnly, h.Name, scheme, conf)
				}
			}
		}
	}
}
