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

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// globalSystem is a NATS system above the hubs in operator mode, as a global service runs one:
// an operator, a system account and one account whose user's credentials the hubs log in with.
type globalSystem struct {
	conf  string // the server's config
	creds []byte // user credentials (JWT and seed) of the account
}

func newGlobalSystem(t *testing.T, addr string, client, http, leaf int) globalSystem {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	sys, _ := nkeys.CreateAccount()
	syspub, _ := sys.PublicKey()
	acc, _ := nkeys.CreateAccount()
	accpub, _ := acc.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.SystemAccount = syspub
	ojwt, err := oc.Encode(okp)
	must(err)
	sysjwt, err := jwt.NewAccountClaims(syspub).Encode(okp)
	must(err)
	accjwt, err := jwt.NewAccountClaims(accpub).Encode(okp)
	must(err)
	user, _ := nkeys.CreateUser()
	upub, _ := user.PublicKey()
	ujwt, err := jwt.NewUserClaims(upub).Encode(acc)
	must(err)
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	must(err)
	conf := fmt.Sprintf(`server_name: "global"
listen: "%s:%d"
http: "%s:%d"
leafnodes { listen: "%s:%d" }
operator: %q
system_account: %q
resolver: MEMORY
resolver_preload: {
  %s: %q
  %s: %q
}
`, addr, client, addr, http, addr, leaf, ojwt, syspub, syspub, sysjwt, accpub, accjwt)
	return globalSystem{conf: conf, creds: creds}
}

// TestBootUpstreamSystem starts the rendered lab example's hubs (127.0.0.11-13) and edge-1
// (127.0.0.21) with an `upstream {}` block, below a global system in operator mode
// (127.0.0.51) that the hubs log in to with credentials: each hub is a leaf of it; a message
// crosses edge → hub → global system and back; from the edge the hub's domain answers with
// the stream on the hub cluster; and a client of the global system reaches the lattice's
// JetStream only by the hubs' domain, which the hubs still home.
func TestBootUpstreamSystem(t *testing.T) {
	if testing.Short() {
		t.Skip("boots 5 nats-servers")
	}
	bin := testenv.NATSServer(t)
	addrs := map[string]string{"hub-1": "127.0.0.11", "hub-2": "127.0.0.12", "hub-3": "127.0.0.13", "edge-1": "127.0.0.21"}
	for _, a := range []string{"127.0.0.11", "127.0.0.21", "127.0.0.51"} {
		if l, err := net.Listen("tcp", a+":0"); err != nil {
			testenv.Unavailable(t, "loopback address "+a+" not usable: "+err.Error())
		} else {
			l.Close()
		}
	}
	root := t.TempDir()
	ports := freePorts(t, 4*len(addrs)+3)
	port := func() int { p := ports[0]; ports = ports[1:]; return p }
	gClient, gHTTP, gLeaf := port(), port(), port()
	global := newGlobalSystem(t, "127.0.0.51", gClient, gHTTP, gLeaf)
	credsFile := filepath.Join(root, "upstream.creds")
	if err := os.WriteFile(credsFile, global.creds, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../examples/lab/inventory.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, fmt.Sprintf("\nupstream {\n  urls             = [\"nats-leaf://127.0.0.51:%d\"]\n  credentials_file = %q\n}\n", gLeaf, credsFile)...)
	inv := loadSource(t, "lab", src)
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
			n.ClusterPort, n.LeafnodePort = port(), port()
			n.StoreDir = filepath.Join(root, h.Name, "store")
		}
		hosts = append(hosts, h)
	}
	inv.Hosts = hosts

	gdir := filepath.Join(root, "global")
	if err := os.MkdirAll(gdir, 0o700); err != nil {
		t.Fatal(err)
	}
	gconf := filepath.Join(gdir, "nats-server.conf")
	if err := os.WriteFile(gconf, []byte(global.conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, bin, gdir, gconf)
	for _, h := range hosts {
		files, err := Host(inv, h, Options{RevealSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		content := fileAt(t, files, h.NATS().ConfigFile).Content
		if h.Hub != nil && !strings.Contains(string(content), "credentials: "+quote(credsFile)) {
			t.Fatalf("%s's config has no upstream remote:\n%s", h.Name, content)
		}
		dir := filepath.Join(root, h.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "nats-server.conf")
		if err := os.WriteFile(conf, content, 0o600); err != nil {
			t.Fatal(err)
		}
		natsCheck(t, bin, h.Name+".conf", content)
		startServer(t, bin, dir, conf)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	retry := func(what string, f func(context.Context) error) {
		t.Helper()
		for {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			err := f(actx)
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
	// Every hub is a leaf of the global system.
	retry("the global system lists the three hubs in its /leafz", func(c context.Context) error {
		var d net.Dialer
		var lz natsmon.Leafz
		r, err := natsmon.New(fmt.Sprintf("127.0.0.51:%d", gHTTP), d.DialContext, natsmon.Options{}).Get(c, natsmon.PathLeafz)
		if err == nil {
			err = r.Decode(&lz)
		}
		if err != nil {
			return err
		}
		var names []string
		for _, l := range lz.Leafs {
			names = append(names, l.Name)
		}
		if len(names) != 3 {
			return fmt.Errorf("leafs %v", names)
		}
		return nil
	})

	edge := inv.Host("edge-1").Leaf
	enc, err := nats.Connect("nats://"+hostPort(edge.ClientHost, edge.ClientPort), nats.IgnoreDiscoveredServers())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	gnc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.51:%d", gClient), nats.UserCredentials(credsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer gnc.Close()

	// Requests both ways: edge → hub → global system, and back.
	if _, err := gnc.Subscribe("global.echo", func(m *nats.Msg) { m.Respond([]byte("from the global system")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Subscribe("edge.echo", func(m *nats.Msg) { m.Respond([]byte("from edge-1")) }); err != nil {
		t.Fatal(err)
	}
	retry("edge-1 asks the global system", func(context.Context) error {
		m, err := enc.Request("global.echo", nil, time.Second)
		if err == nil && string(m.Data) != "from the global system" {
			err = fmt.Errorf("reply %q", m.Data)
		}
		return err
	})
	retry("the global system asks edge-1", func(context.Context) error {
		_, err := gnc.Request("edge.echo", nil, time.Second)
		return err
	})

	// The domain stays homed on the hubs, from the edge and from the global system.
	ejs, _ := jetstream.NewWithDomain(enc, inv.Lattice.JSDomain)
	var kv jetstream.KeyValue
	retry("create a 3-replica bucket from edge-1", func(c context.Context) (err error) {
		kv, err = ejs.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "upstream", Replicas: 3})
		return err
	})
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	gjs, _ := jetstream.NewWithDomain(gnc, inv.Lattice.JSDomain)
	retry("the hubs' domain from the global system", func(c context.Context) error {
		st, err := gjs.Stream(c, "KV_upstream")
		if err == nil && (st.CachedInfo().Cluster == nil || st.CachedInfo().Cluster.Name != "hub") {
			err = fmt.Errorf("stream on %+v, want the hub cluster", st.CachedInfo().Cluster)
		}
		return err
	})
	plain, _ := jetstream.New(gnc)
	if _, err := plain.AccountInfo(ctx); err == nil {
		t.Error("plain $JS.API from the global system reached a JetStream: the hubs' must be asked by domain")
	}
}
