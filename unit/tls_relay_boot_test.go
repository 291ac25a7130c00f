package unit

import (
	"context"
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

// TestBootTiersTLS starts the rendered tiered example with the managed CA — 3 hubs
// (127.0.0.11-13), the relay cluster (127.0.0.31-32), edge-1 below relay-1 and edge-2 below
// relay-2 — and shows that TLS holds through the relay tier: a 3-replica KV bucket created from
// edge-1 across two TLS leaf hops is read back from edge-2; each edge's /leafz names its relay
// and each relay's a hub; relay-1's /routez names relay-2 (mutual-TLS routes); each relay's
// /varz says its leafnode port requires TLS and its cluster port requires and verifies it, with
// its certificate's end reported; and a plaintext client on a relay's leafnode port is refused.
func TestBootTiersTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("boots 7 nats-servers")
	}
	bin := testenv.NATSServer(t)
	addrs := map[string]string{"hub-1": "127.0.0.11", "hub-2": "127.0.0.12", "hub-3": "127.0.0.13",
		"relay-1": "127.0.0.31", "relay-2": "127.0.0.32", "edge-1": "127.0.0.41", "edge-2": "127.0.0.42"}
	for _, a := range addrs {
		if l, err := net.Listen("tcp", a+":0"); err != nil {
			testenv.Unavailable(t, "loopback address "+a+" not usable: "+err.Error())
		} else {
			l.Close()
		}
	}
	inv := loadManaged(t, "tiered", time.Now())
	root := t.TempDir()
	ports := freePorts(t, 4*len(addrs))
	port := func() int { p := ports[0]; ports = ports[1:]; return p }
	var hosts []*inventory.Host
	for _, h := range inv.Hosts {
		a, ok := addrs[h.Name]
		if !ok {
			continue
		}
		n := h.NATS()
		h.Address, n.ClientHost, n.HTTPHost = a, a, a // the certificates name these addresses
		n.ClientPort, n.HTTPPort = port(), port()
		n.ConfigFile = filepath.Join(root, h.Name, "nats-server.conf")
		if h.Hub != nil || h.IsRelay() {
			n.ClusterPort, n.LeafnodePort = port(), port()
		}
		if h.Hub != nil {
			n.StoreDir = filepath.Join(root, h.Name, "store")
		}
		hosts = append(hosts, h)
	}
	inv.Hosts = hosts
	inv.Host("edge-1").Leaf.Upstream, inv.Host("edge-2").Leaf.Upstream = "relay-1", "relay-2"
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
		conf := fileAt(t, files, h.NATS().ConfigFile).Content
		if h.Leaf != nil && (!strings.Contains(string(conf), "\"tls://") || strings.Contains(string(conf), "nats-leaf://")) {
			t.Fatalf("%s: remotes not all tls://:\n%s", h.Name, conf)
		}
		natsCheck(t, bin, h.Name+".conf", conf)
		startServer(t, bin, filepath.Dir(h.NATS().ConfigFile), h.NATS().ConfigFile)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	retry := func(what string, f func(context.Context) error) {
		var err error
		for {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			err = f(actx)
			acancel()
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	connect := func(name string) jetstream.JetStream {
		n := inv.Host(name).Leaf
		nc, err := nats.Connect("nats://"+hostPort(n.ClientHost, n.ClientPort), nats.IgnoreDiscoveredServers(),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.NewWithDomain(nc, inv.Lattice.JSDomain)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	js1, js2 := connect("edge-1"), connect("edge-2")
	var kv jetstream.KeyValue
	start := time.Now()
	retry("create a 3-replica bucket from edge-1 through relay-1", func(c context.Context) (err error) {
		kv, err = js1.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "tiers", Replicas: 3})
		return err
	})
	t.Logf("KV bucket created through two TLS leaf hops %s after start", time.Since(start).Round(time.Millisecond))
	if _, err := kv.Put(ctx, "k", []byte("two tls hops")); err != nil {
		t.Fatalf("KV put from edge-1: %v", err)
	}
	retry("read the key from edge-2 through relay-2", func(c context.Context) error {
		kv2, err := js2.KeyValue(c, "tiers")
		if err != nil {
			return err
		}
		e, err := kv2.Get(c, "k")
		if err == nil && string(e.Value()) != "two tls hops" {
			err = fmt.Errorf("value %q", e.Value())
		}
		return err
	})

	var d net.Dialer
	mon := func(name string) *natsmon.Client {
		return natsmon.New(inv.Host(name).NATS().LocalMonitorAddr(), d.DialContext, natsmon.Options{})
	}
	spoke := func(name string) string {
		var lz natsmon.Leafz
		r, err := mon(name).Get(ctx, natsmon.PathLeafz)
		if err == nil {
			err = r.Decode(&lz)
		}
		for _, l := range lz.Leafs {
			if err == nil && l.IsSpoke {
				return l.Name
			}
		}
		return ""
	}
	for _, want := range [][2]string{{"edge-1", "relay-1"}, {"edge-2", "relay-2"}, {"relay-1", "hub-"}, {"relay-2", "hub-"}} {
		if got := spoke(want[0]); !strings.HasPrefix(got, want[1]) {
			t.Errorf("%s linked to %q, want %s*", want[0], got, want[1])
		}
	}
	retry("relay-1 routed to relay-2 over mutual TLS", func(c context.Context) error {
		var rz natsmon.Routez
		r, err := mon("relay-1").Get(c, natsmon.PathRoutez)
		if err == nil {
			err = r.Decode(&rz)
		}
		if err == nil && (len(rz.Routes) == 0 || rz.Routes[0].RemoteName != "relay-2") {
			err = fmt.Errorf("relay-1's routes: %+v", rz.Routes)
		}
		return err
	})
	for _, name := range []string{"relay-1", "relay-2"} {
		v, err := mon(name).Varz(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Leaf.TLSRequired || v.Leaf.TLSCertNotAfter.IsZero() || !v.Cluster.TLSRequired || !v.Cluster.TLSVerify {
			t.Errorf("%s: /varz leaf tls %v (cert until %v), cluster tls %v/%v", name, v.Leaf.TLSRequired, v.Leaf.TLSCertNotAfter, v.Cluster.TLSRequired, v.Cluster.TLSVerify)
		}
		r := inv.Host(name)
		if c, err := nats.Connect("nats://"+hostPort(r.Address, r.Leaf.LeafnodePort), nats.IgnoreDiscoveredServers(), nats.Timeout(2*time.Second)); err == nil {
			t.Errorf("%s: plaintext client accepted on the leafnode port", name)
			c.Close()
		}
	}
}
