package unit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// freePorts returns n distinct TCP ports free on every address right now: all are held open
// until the last is found, so no two coincide.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// server is one nats-server started by a test.
type server struct {
	conf, log string
	cmd       *exec.Cmd
	done      chan struct{}
}

// startServer runs bin on conf, with the pid file redirected into the test's temp dir (the
// -P flag overrides the rendered pid_file; the config file itself is booted unchanged). The
// process is stopped by its PID when the test ends.
func startServer(t *testing.T, bin, dir, conf string) *server {
	t.Helper()
	s := &server{conf: conf, log: filepath.Join(dir, "server.log"), done: make(chan struct{})}
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "-c", conf, "-P", filepath.Join(dir, "nats.pid"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("--- %s log\n%s", conf, b)
		}
	})
	return s
}

// TestBootLattice starts the rendered hub cluster and a leaf for real: a copy of the lab
// example on 127.0.0.11-13 (hubs) and 127.0.0.21 (leaf), free ports, temp store dirs and
// passwords no naive quoting survives. Through the leaf, JetStream answers by domain (account
// info, a 3-replica KV bucket, put/get) and not without it; every server's /varz
// config_digest equals what `nats-server -t` prints for its rendered file; hub-1 also runs a
// wasmCloud host, so an anonymous client reaches JetStream there; the rendered runit check
// passes against a running server and fails against a dead port.
func TestBootLattice(t *testing.T) {
	if testing.Short() {
		t.Skip("boots 4 nats-servers")
	}
	bin := testenv.NATSServer(t)
	bash := testenv.RequireCommand(t, "bash")
	for _, a := range []string{"127.0.0.11", "127.0.0.21"} {
		if l, err := net.Listen("tcp", a+":0"); err != nil {
			testenv.Unavailable(t, "loopback address "+a+" not usable: "+err.Error())
		} else {
			l.Close()
		}
	}

	inv := loadExample(t, "lab")
	inv.Auth.SystemPassword = inventory.NewSecret("passwords.system", hostile, "test")
	inv.Auth.LeafPassword = inventory.NewSecret("passwords.leaf", hostile+"leaf", "test")
	inv.Auth.CheckPassword = inventory.NewSecret("passwords.check", hostile+"check", "test")
	inv.Auth.RoutePassword = inventory.NewSecret("passwords.route", hostile+"route", "test")
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
		if h.Hub != nil {
			// Cluster and leafnode listeners bind every address: ports must differ per hub.
			n.ClusterPort, n.LeafnodePort = port(), port()
			n.StoreDir = filepath.Join(root, h.Name, "store")
		}
		hosts = append(hosts, h)
	}
	hub1 := inv.Host("hub-1")
	hub1.Wasmcloud = &inventory.Wasmcloud{Binary: "/usr/local/bin/wasmcloud", EnvFile: "/etc/wasmcloud/wasmcloud.env",
		NATSHost: "127.0.0.1", NATSPort: hub1.Hub.ClientPort, HostSeed: inventory.NewSecret("host_seeds.hub-1", "x", "test")}
	inv.Hosts = hosts // edge-2 and edge-3 stay out of the boot

	digests := map[string]string{}
	servers := map[string]*server{}
	for _, h := range hosts {
		files, err := Host(inv, h, Options{RevealSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, h.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "nats-server.conf")
		if err := os.WriteFile(conf, fileAt(t, files, h.NATS().ConfigFile).Content, 0o600); err != nil {
			t.Fatal(err)
		}
		digests[h.Name] = natsCheck(t, bin, h.Name+".conf", fileAt(t, files, h.NATS().ConfigFile).Content)
		servers[h.Name] = startServer(t, bin, dir, conf)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leaf := inv.Host("edge-1").Leaf
	nc, err := nats.Connect(fmt.Sprintf("nats://%s", hostPort(leaf.ClientHost, leaf.ClientPort)),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	js, err := jetstream.NewWithDomain(nc, inv.Lattice.JSDomain)
	if err != nil {
		t.Fatal(err)
	}
	// The cluster elects a meta leader and the leaf links within seconds: retry, bounded by ctx.
	var ai *jetstream.AccountInfo
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		ai, err = js.AccountInfo(actx)
		acancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("domain %s through the leaf: %v", inv.Lattice.JSDomain, err)
	}
	if ai.Domain != inv.Lattice.JSDomain {
		t.Errorf("account info from domain %q, want %q", ai.Domain, inv.Lattice.JSDomain)
	}
	var kv jetstream.KeyValue
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second) // a request no one answered is asked again
		kv, err = js.CreateKeyValue(actx, jetstream.KeyValueConfig{Bucket: "probe", Replicas: 3})
		acancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // all three peers must be current for R3
	}
	if err != nil {
		t.Fatalf("create a 3-replica KV bucket through the leaf: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("through the leaf")); err != nil {
		t.Fatalf("KV put through the leaf: %v", err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil || string(e.Value()) != "through the leaf" {
		t.Fatalf("KV get through the leaf: %v %q", err, e)
	}
	info, err := js.Stream(ctx, "KV_probe")
	if err != nil {
		t.Fatal(err)
	}
	if c := info.CachedInfo().Cluster; c == nil || c.Name != hub1.Hub.ClusterName {
		t.Errorf("the bucket's stream is not on the hub cluster %q: %+v", hub1.Hub.ClusterName, c)
	}

	plain, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.AccountInfo(ctx); !errors.Is(err, jetstream.ErrJetStreamNotEnabled) && !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("plain $JS.API through the leaf: got %v, want jetstream not enabled", err)
	}

	// Anonymous clients on a hub that runs a wasmCloud host are user "leaf" of LATTICE.
	anon, err := nats.Connect("nats://" + hostPort("127.0.0.11", hub1.Hub.ClientPort))
	if err != nil {
		t.Fatalf("anonymous client on hub-1 (no_auth_user): %v", err)
	}
	defer anon.Close()
	ajs, _ := jetstream.NewWithDomain(anon, inv.Lattice.JSDomain)
	if _, err := ajs.AccountInfo(ctx); err != nil {
		t.Errorf("anonymous client on hub-1 reaches no JetStream: %v", err)
	}
	// A hub without a wasmCloud host refuses anonymous clients. (Without
	// IgnoreDiscoveredServers, nats.go moves on to hub-1, which the INFO advertises.)
	if c, err := nats.Connect("nats://"+hostPort("127.0.0.12", inv.Host("hub-2").Hub.ClientPort),
		nats.IgnoreDiscoveredServers()); err == nil {
		t.Errorf("hub-2 accepted an anonymous client: %s %v", c.ConnectedUrl(), c.Status())
		c.Close()
	}

	for _, h := range hosts {
		n := h.NATS()
		var d net.Dialer
		varz, err := natsmon.New(n.LocalMonitorAddr(), d.DialContext, natsmon.Options{}).Varz(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if varz.ConfigDigest != digests[h.Name] {
			t.Errorf("%s: /varz config_digest %q, nats-server -t printed %q", h.Name, varz.ConfigDigest, digests[h.Name])
		}
	}

	// leaf_compression: the lab's "off" is what the link runs; another mode set everywhere is
	// a reload (plan's classification), and the reloaded servers run the link with it.
	linkCompression := func() string {
		for _, h := range inv.Hubs() {
			var d net.Dialer
			lz, err := natsmon.New(h.NATS().LocalMonitorAddr(), d.DialContext, natsmon.Options{}).Leafz(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lz.Leafs {
				if l.Name == "edge-1" {
					return l.Compression
				}
			}
		}
		return ""
	}
	if got := linkCompression(); got != "off" {
		t.Errorf("edge-1's leaf link runs compression %q, want off (leaf_compression)", got)
	}
	for _, h := range hosts {
		h.NATS().LeafCompression = "s2_fast"
		files, err := Host(inv, h, Options{RevealSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(root, h.Name, "nats-server.conf")
		old, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		desired := fileAt(t, files, h.NATS().ConfigFile).Content
		change, err := diffNATSConfig(old, desired, "2.15.2")
		if err != nil || len(change.NeedsStop) > 0 || len(change.Keys) == 0 {
			t.Fatalf("%s: leaf_compression off → s2_fast: %+v %v, want a reload", h.Name, change, err)
		}
		if err := os.WriteFile(conf, desired, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := servers[h.Name].cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	for got := linkCompression(); got != "s2_fast"; got = linkCompression() {
		if ctx.Err() != nil {
			t.Fatalf("edge-1's leaf link runs compression %q after the reload, want s2_fast", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The runit check the leaf would get, run as is against the running leaf, then a dead port.
	inv.Host("edge-1").ServiceManager = inventory.ServiceManagerRunit
	runitFiles, err := Host(inv, inv.Host("edge-1"), Options{RevealSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	check := fileAt(t, runitFiles, "/etc/sv/nats-server/check").Content
	if out, err := exec.Command(bash, "-c", string(check)).CombinedOutput(); err != nil {
		t.Errorf("runit check fails against the running leaf: %v %s", err, out)
	}
	dead := strings.Replace(string(check), fmt.Sprintf("/%d ", leaf.HTTPPort), fmt.Sprintf("/%d ", port()), 1)
	if dead == string(check) {
		t.Fatal("could not point the check at a dead port")
	}
	if err := exec.Command(bash, "-c", dead).Run(); err == nil {
		t.Error("runit check passes against a port nobody listens on")
	}
}
