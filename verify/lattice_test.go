package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/latticepush/latticepush/inventory"
)

// The test lattice: in-process nats-servers on 127.0.0.1 shaped like the rendered configs
// (package unit): a hub cluster with a JetStream domain and the accounts
// SYS and LATTICE (users leaf and latticepush), and leaves bridging $G to LATTICE.

const (
	testLattice   = "default"
	testDomain    = "hub"
	testCluster   = "hub"
	leafPassword  = "leaf-secret"
	checkPassword = "check-secret"
	routePassword = "route-secret"
)

type testLatticeT struct {
	t     *testing.T
	dir   string
	nodes map[string]*node
	// leafPorts are the hubs' leafnode ports; a leaf's remote lists all of them, since a leaf
	// learns the others only after its first connection.
	leafPorts []int
	// routeAuth: the hubs require the route credentials (and every route URL carries them).
	routeAuth bool
}

// node is one running (or stopped) server and the inventory host describing it.
type node struct {
	srv  *server.Server
	host *inventory.Host
}

// leafSpec shapes a leaf: its own JetStream domain ("" = no JetStream, unless jetstream is
// set), and the password its remote uses.
type leafSpec struct {
	name      string
	domain    string
	jetstream bool
	password  string
}

func startHubs(t *testing.T, n int) *testLatticeT {
	t.Helper()
	return startHubsAuth(t, n, true)
}

// startHubsAuth starts n hubs; routeAuth gives their cluster blocks authorization and every
// route URL the credentials, as rendered with route_auth (the default).
func startHubsAuth(t *testing.T, n int, routeAuth bool) *testLatticeT {
	t.Helper()
	lat := &testLatticeT{t: t, dir: t.TempDir(), nodes: map[string]*node{}, routeAuth: routeAuth}
	cluster := freePorts(t, n)
	lat.leafPorts = freePorts(t, n)
	var routes []string
	userinfo, auth := "", ""
	if routeAuth {
		userinfo = "route:" + routePassword + "@"
		auth = fmt.Sprintf("authorization { user: route, password: %q }, ", routePassword)
	}
	for _, p := range cluster {
		routes = append(routes, fmt.Sprintf("nats-route://%s127.0.0.1:%d", userinfo, p))
	}
	for i := range n {
		name := fmt.Sprintf("hub-%d", i+1)
		conf := fmt.Sprintf(`
server_name: %[1]s
listen: 127.0.0.1:-1
jetstream { store_dir: %[2]q, domain: %[3]s, max_memory_store: 64MB, max_file_store: 64MB }
cluster { name: %[4]s, listen: 127.0.0.1:%[5]d, %[10]sroutes: [%[6]s] }
leafnodes { listen: 127.0.0.1:%[7]d }
accounts {
  SYS: { users: [ {user: sys, password: sys-secret} ] }
  LATTICE: {
    jetstream: enabled
    users: [ {user: leaf, password: %[8]q}, {user: latticepush, password: %[9]q} ]
  }
}
system_account: SYS
`, name, filepath.Join(lat.dir, name), testDomain, testCluster, cluster[i], quoteJoin(routes), lat.leafPorts[i], leafPassword, checkPassword, auth)
		srv := lat.start(name, conf)
		lat.nodes[name] = &node{srv: srv, host: &inventory.Host{
			Name: name, Roles: []string{inventory.RoleHub},
			Hub: natsOf(srv, name, testCluster),
		}}
		lat.nodes[name].host.Hub.ClusterPort = cluster[i]
	}
	waitFor(t, 20*time.Second, "a JetStream meta leader and current peers", func() bool {
		leader := false
		for _, nd := range lat.nodes {
			leader = leader || nd.srv.JetStreamIsLeader()
			if !nd.srv.JetStreamIsCurrent() {
				return false
			}
		}
		return leader
	})
	return lat
}

// startLeaf starts a leaf linked to every hub and waits until its link is up (unless its
// password is wrong).
func (lat *testLatticeT) startLeaf(s leafSpec) *node {
	lat.t.Helper()
	if s.password == "" {
		s.password = leafPassword
	}
	var urls []string
	for _, p := range lat.leafPorts {
		urls = append(urls, fmt.Sprintf("nats-leaf://leaf:%s@127.0.0.1:%d", s.password, p))
	}
	js := ""
	if s.domain != "" || s.jetstream {
		js = fmt.Sprintf("jetstream { store_dir: %q, domain: %q }", filepath.Join(lat.dir, s.name), s.domain)
		if s.domain == "" {
			js = fmt.Sprintf("jetstream { store_dir: %q }", filepath.Join(lat.dir, s.name))
		}
	}
	conf := fmt.Sprintf(`
server_name: %s
listen: 127.0.0.1:-1
%s
leafnodes { reconnect: "200ms", remotes: [ { urls: [%s] } ] }
`, s.name, js, quoteJoin(urls))
	srv := lat.start(s.name, conf)
	nd := &node{srv: srv, host: &inventory.Host{
		Name: s.name, Roles: []string{inventory.RoleLeaf},
		Leaf: natsOf(srv, s.name, ""),
	}}
	nd.host.Leaf.JetStreamDomain = s.domain
	lat.nodes[s.name] = nd
	if s.password == leafPassword {
		waitFor(lat.t, 10*time.Second, s.name+"'s leaf link", func() bool { return srv.NumLeafNodes() > 0 })
	}
	return nd
}

func (lat *testLatticeT) start(name, conf string) *server.Server {
	lat.t.Helper()
	path := filepath.Join(lat.dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		lat.t.Fatal(err)
	}
	srv, err := lat.launch(path, -1, -1)
	if err != nil {
		lat.t.Fatalf("%s: %v", name, err)
	}
	return srv
}

// launch starts the server configured in path, on the given client and monitoring ports
// (-1: random), and waits until it accepts connections.
func (lat *testLatticeT) launch(path string, port, httpPort int) (*server.Server, error) {
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return nil, err
	}
	opts.Port = port
	opts.HTTPHost, opts.HTTPPort = "127.0.0.1", httpPort
	opts.NoSigs = true
	opts.LogFile = path + ".log" // quoted when the server does not come up
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	srv.ConfigureLogger()
	srv.Start()
	lat.t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(30 * time.Second) { // generous: a loaded 2-core machine is slow
		log, _ := os.ReadFile(opts.LogFile)
		return nil, fmt.Errorf("%s not ready; its log:\n%s", path, log)
	}
	return srv, nil
}

// restart starts a stopped node again with its config and ports.
func (lat *testLatticeT) restart(name string) (*server.Server, error) {
	n := lat.nodes[name].host.NATS()
	return lat.launch(filepath.Join(lat.dir, name+".conf"), n.ClientPort, n.HTTPPort)
}

// stop shuts a node down; it stays in the inventory.
func (lat *testLatticeT) stop(name string) {
	nd := lat.nodes[name]
	nd.srv.Shutdown()
	nd.srv.WaitForShutdown()
	// The other hubs notice the closed routes a moment later; checks judge what they see.
	waitFor(lat.t, 10*time.Second, "the other hubs to drop their routes to "+name, func() bool {
		for other, o := range lat.nodes {
			if other == name || o.host.Hub == nil || !o.srv.Running() {
				continue
			}
			rz, err := o.srv.Routez(nil)
			if err != nil {
				return false
			}
			for _, r := range rz.Routes {
				if r.RemoteName == name {
					return false
				}
			}
		}
		return true
	})
}

// inventory describes the hubs and the named other nodes (hosts sorted, as Load leaves them).
func (lat *testLatticeT) inventory(others ...string) *inventory.Inventory {
	inv := &inventory.Inventory{
		Lattice: inventory.Lattice{Name: testLattice, JSDomain: testDomain, RouteAuth: lat.routeAuth},
		Auth:    inventory.Auth{CheckPassword: inventory.NewSecret("passwords.check", checkPassword, "test")},
	}
	for name, nd := range lat.nodes {
		if nd.host.Hub != nil || slices.Contains(others, name) {
			inv.Hosts = append(inv.Hosts, nd.host)
		}
	}
	slices.SortFunc(inv.Hosts, func(a, b *inventory.Host) int { return strings.Compare(a.Name, b.Name) })
	return inv
}

// targets dials every inventory host over loopback.
func targets(inv *inventory.Inventory) []Target {
	var d net.Dialer
	var ts []Target
	for _, h := range inv.Hosts {
		ts = append(ts, Target{Host: h, Dial: d.DialContext})
	}
	return ts
}

// natsOf describes a running server as the inventory would.
func natsOf(srv *server.Server, name, cluster string) *inventory.NATS {
	return &inventory.NATS{
		ServerName: name, ClusterName: cluster,
		ClientHost: "127.0.0.1", ClientPort: srv.Addr().(*net.TCPAddr).Port,
		HTTPHost: "127.0.0.1", HTTPPort: srv.MonitorAddr().Port,
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	// Ports below the kernel's ephemeral range (32768 and up by default): a port picked with
	// ":0" comes from that range, and any outgoing connection of a test running alongside
	// may take it between this check and the server's bind.
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("no free port below 32768 after %d tries", tries)
		}
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports
}

func quoteJoin(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// waitFor polls cond until it holds; it fails the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
