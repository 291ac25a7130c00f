package unit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// TestBootTiers starts the rendered tiered example for real — 3 hubs (127.0.0.11-13), the
// relay cluster (127.0.0.31-32) and three edges (127.0.0.41-43), whose remotes list only
// relays — and shows in NATS itself what the relay tier rests on: from an edge's client port
// the hub's domain answers across two leaf hops (account info, a 3-replica KV bucket created,
// put and read back from another edge, its stream on the hub cluster) while plain $JS.API does
// not; each edge's /leafz names a relay and each relay's a hub; the relays are routed, edges
// on different relays reach each other, and a message published on a hub or an edge is
// delivered exactly once everywhere; and when the relay an edge is linked to stops, the edge
// moves to the other relay and the domain answers again (time printed).
func TestBootTiers(t *testing.T) {
	if testing.Short() {
		t.Skip("boots 7 nats-servers")
	}
	bin := testenv.NATSServer(t)
	addrs := map[string]string{"hub-1": "127.0.0.11", "hub-2": "127.0.0.12", "hub-3": "127.0.0.13",
		"relay-1": "127.0.0.31", "relay-2": "127.0.0.32", "edge-1": "127.0.0.41", "edge-2": "127.0.0.42", "edge-3": "127.0.0.43"}
	for _, a := range addrs {
		if l, err := net.Listen("tcp", a+":0"); err != nil {
			testenv.Unavailable(t, "loopback address "+a+" not usable: "+err.Error())
		} else {
			l.Close()
		}
	}
	inv := loadExample(t, "tiered")
	inv.Auth.LeafPassword = inventory.NewSecret("passwords.leaf", hostile+"leaf", "test")
	inv.Auth.RoutePassword = inventory.NewSecret("passwords.route", hostile+"route", "test")
	inv.Auth.CheckPassword = inventory.NewSecret("passwords.check", "check", "test")
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
		h.Address, n.ClientHost, n.HTTPHost = a, a, a
		n.ClientPort, n.HTTPPort = port(), port()
		if h.Hub != nil {
			n.ClusterPort = port()
			n.StoreDir = filepath.Join(root, h.Name, "store")
		}
		if h.Hub != nil || h.IsRelay() {
			n.LeafnodePort = port() // bound on every address: one port per server
		}
		if h.IsRelay() {
			n.ClusterPort = port()
		}
		hosts = append(hosts, h)
	}
	inv.Hosts = hosts // edge-4 stays out
	// edge-2 and edge-3 each dial one relay, so the relay cluster carries traffic between them.
	inv.Host("edge-2").Leaf.Upstream, inv.Host("edge-3").Leaf.Upstream = "relay-2", "relay-1"

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
		content := fileAt(t, files, h.NATS().ConfigFile).Content
		if err := os.WriteFile(conf, content, 0o600); err != nil {
			t.Fatal(err)
		}
		natsCheck(t, bin, h.Name+".conf", content)
		servers[h.Name] = startServer(t, bin, dir, conf)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	connect := func(name string) (*nats.Conn, jetstream.JetStream) {
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
		return nc, js
	}
	retry := func(what string, f func(context.Context) error) time.Duration {
		start := time.Now()
		var err error
		for {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			err = f(actx)
			acancel()
			if err == nil {
				return time.Since(start)
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	nc1, js1 := connect("edge-1")
	_, js2 := connect("edge-2")
	retry("domain through edge-1, relay, hub", func(c context.Context) error {
		ai, err := js1.AccountInfo(c)
		if err == nil && ai.Domain != inv.Lattice.JSDomain {
			err = fmt.Errorf("account info from domain %q", ai.Domain)
		}
		return err
	})
	var kv jetstream.KeyValue
	retry("create a 3-replica bucket from edge-1", func(c context.Context) (err error) {
		kv, err = js1.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "tiers", Replicas: 3})
		return err
	})
	if _, err := kv.Put(ctx, "k", []byte("two hops")); err != nil {
		t.Fatalf("KV put from edge-1: %v", err)
	}
	retry("read the key from edge-2", func(c context.Context) error {
		kv2, err := js2.KeyValue(c, "tiers")
		if err != nil {
			return err
		}
		e, err := kv2.Get(c, "k")
		if err == nil && string(e.Value()) != "two hops" {
			err = fmt.Errorf("value %q", e.Value())
		}
		return err
	})
	st, err := js1.Stream(ctx, "KV_tiers")
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Cluster; c == nil || c.Name != "hub" {
		t.Errorf("the bucket's stream is not on the hub cluster: %+v", c)
	}
	plain, _ := jetstream.New(nc1)
	if _, err := plain.AccountInfo(ctx); !errors.Is(err, jetstream.ErrJetStreamNotEnabled) && !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("plain $JS.API from edge-1: got %v, want jetstream not enabled", err)
	}

	// The links: each edge names a relay, each relay a hub.
	spoke := func(name string) string {
		var d net.Dialer
		var lz natsmon.Leafz
		r, err := natsmon.New(inv.Host(name).Leaf.LocalMonitorAddr(), d.DialContext, natsmon.Options{}).Get(context.Background(), natsmon.PathLeafz)
		if err == nil {
			err = r.Decode(&lz)
		}
		if err != nil {
			return ""
		}
		for _, l := range lz.Leafs {
			if l.IsSpoke {
				return l.Name
			}
		}
		return ""
	}
	var via string
	retry("edge-1 and every relay linked", func(context.Context) error {
		via = spoke("edge-1")
		for _, want := range []struct{ host, prefix string }{{"edge-1", "relay-"}, {"edge-2", "relay-2"}, {"edge-3", "relay-1"}, {"relay-1", "hub-"}, {"relay-2", "hub-"}} {
			if got := spoke(want.host); len(got) < len(want.prefix) || got[:len(want.prefix)] != want.prefix {
				return fmt.Errorf("%s linked to %q, want a %s*", want.host, got, want.prefix)
			}
		}
		return nil
	})
	other := map[string]string{"relay-1": "relay-2", "relay-2": "relay-1"}[via]
	t.Logf("edge-1 → %s → %s, edge-2 → %s", via, spoke(via), spoke("edge-2"))

	// The relays are routed to each other (cluster "relays"), and requests cross between the
	// edges whichever relays they are on.
	retry("the relays routed", func(context.Context) error {
		var d net.Dialer
		var rz natsmon.Routez
		r, err := natsmon.New(inv.Host("relay-1").Leaf.LocalMonitorAddr(), d.DialContext, natsmon.Options{}).Get(context.Background(), natsmon.PathRoutez)
		if err == nil {
			err = r.Decode(&rz)
		}
		if err == nil && (len(rz.Routes) == 0 || rz.Routes[0].RemoteName != "relay-2") {
			err = fmt.Errorf("relay-1's routes: %+v", rz.Routes)
		}
		return err
	})
	nc2, _ := connect("edge-2")
	nc3, _ := connect("edge-3")
	if _, err := nc2.Subscribe("edge2.echo", func(m *nats.Msg) { m.Respond([]byte("edge-2")) }); err != nil {
		t.Fatal(err)
	}
	retry("edge-3 (on relay-1) asks edge-2 (on relay-2)", func(context.Context) error {
		_, err := nc3.Request("edge2.echo", nil, time.Second)
		return err
	})

	// Exactly once: a message crosses the routed relay cluster and the hubs without being
	// delivered twice (a relay must not pass on what it got from its routes to the hubs, nor
	// the reverse): hub-1, edge-2 (on relay-2) and edge-3 (on relay-1) each publish 10.
	h1 := inv.Host("hub-1").Hub
	hub, err := nats.Connect("nats://"+hostPort(h1.ClientHost, h1.ClientPort), nats.UserInfo(UserCheck, "check"), nats.IgnoreDiscoveredServers())
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	counts := map[string]*atomic.Int32{}
	for name, c := range map[string]*nats.Conn{"hub-1": hub, "edge-2": nc2, "edge-3": nc3} {
		counts[name] = new(atomic.Int32)
		if _, err := c.Subscribe("once", func(*nats.Msg) { counts[name].Add(1) }); err != nil {
			t.Fatal(err)
		}
		c.Flush()
	}
	time.Sleep(time.Second) // interest crosses the links
	for _, c := range []*nats.Conn{hub, nc2, nc3} {
		for range 10 {
			c.Publish("once", nil)
		}
		c.Flush()
	}
	time.Sleep(time.Second)
	for name, n := range counts {
		if n.Load() != 30 {
			t.Errorf("%s received %d of 30 messages published once each", name, n.Load())
		}
	}

	// Stop the relay edge-1 is linked to, hard: edge-1 must move to the other one.
	s := servers[via]
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	moved := retry("edge-1 moves to "+other, func(context.Context) error {
		if got := spoke("edge-1"); got != other {
			return fmt.Errorf("edge-1 linked to %q", got)
		}
		return nil
	})
	back := retry("KV through edge-1 after the move", func(c context.Context) error {
		_, err := kv.Put(c, "k", []byte("after the move"))
		return err
	})
	t.Logf("%s killed: edge-1 linked to %s after %s, KV put answered %s later", via, other, moved.Round(time.Millisecond), back.Round(time.Millisecond))
}
