package verify

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestRouteAuth: on hubs that require the route credentials hub.route-auth passes, and a
// server that dials a hub's cluster port without them never becomes a route (the hub's
// /routez does not list it; hub.routes still sees exactly the inventory's hubs).
func TestRouteAuth(t *testing.T) {
	lat := startHubsAuth(t, 3, true)
	ctx := context.Background()
	inv := lat.inventory()

	rep := Run(ctx, inv, targets(inv), fast)
	for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
		r := find(t, rep, CheckHubRouteAuth, h)
		if !r.OK || r.Warning || !strings.Contains(r.Evidence, "requires route credentials") {
			t.Errorf("%s on %s: ok=%v warning=%v %s", CheckHubRouteAuth, h, r.OK, r.Warning, r.Evidence)
		}
	}

	hub1 := lat.nodes["hub-1"]
	stray := lat.start("stray", fmt.Sprintf(`
server_name: stray
listen: 127.0.0.1:-1
cluster { name: %s, listen: 127.0.0.1:-1, routes: ["nats-route://127.0.0.1:%d"] }
`, testCluster, hub1.host.Hub.ClusterPort))
	defer func() { stray.Shutdown(); stray.WaitForShutdown() }()
	// The stray retries every second; give it a few attempts.
	deadline := time.Now().Add(3 * time.Second)
	held := 0
	for time.Now().Before(deadline) {
		rz, err := hub1.srv.Routez(&server.RoutezOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range rz.Routes {
			if rt.RemoteName == "stray" {
				t.Fatalf("hub-1 lists the stray server as a route: %+v", rt)
			}
		}
		// The stray counts a route from its side between the handshake and the hub closing it
		// for missing credentials: a moment, longer on a loaded machine. One it keeps is a
		// route that was let in.
		if n := stray.NumRoutes(); n != 0 {
			held++
			if held >= 3 {
				t.Fatalf("the stray server has kept %d route(s) for %d samples 200 ms apart", n, held)
			}
		} else {
			held = 0
		}
		time.Sleep(200 * time.Millisecond)
	}
	rep = Run(ctx, inv, targets(inv), fast)
	if r := find(t, rep, CheckHubRoutes, "hub-1"); !r.OK {
		t.Errorf("hub.routes on hub-1 with a stray server refused: %s", r.Evidence)
	}
}

// TestRouteAuthMissing: hubs that accept routes without credentials fail hub.route-auth when
// the inventory wants route authentication, and pass with a warning under route_auth = false.
// Without route auth, the same stray server TestRouteAuth refuses joins the cluster.
func TestRouteAuthMissing(t *testing.T) {
	lat := startHubsAuth(t, 3, false)
	ctx := context.Background()

	hub2 := lat.nodes["hub-2"]
	stray := lat.start("stray", fmt.Sprintf(`
server_name: stray
listen: 127.0.0.1:-1
cluster { name: %s, listen: 127.0.0.1:-1, routes: ["nats-route://127.0.0.1:%d"] }
`, testCluster, hub2.host.Hub.ClusterPort))
	waitFor(t, 10*time.Second, "the stray server to join hub-2 (no route auth)", func() bool {
		rz, err := hub2.srv.Routez(&server.RoutezOptions{})
		if err != nil {
			return false
		}
		for _, rt := range rz.Routes {
			if rt.RemoteName == "stray" {
				return true
			}
		}
		return false
	})
	stray.Shutdown()
	stray.WaitForShutdown()

	inv := lat.inventory()
	inv.Lattice.RouteAuth = true
	rep := Run(ctx, inv, targets(inv), fast)
	for _, r := range wantFailed(t, rep, "hub-2", CheckHubRouteAuth) {
		if !strings.Contains(r.Evidence, "does not require route credentials") {
			t.Errorf("evidence: %s", r.Evidence)
		}
	}

	inv.Lattice.RouteAuth = false
	rep = Run(ctx, inv, targets(inv), fast)
	r := find(t, rep, CheckHubRouteAuth, "hub-2")
	if !r.OK || !r.Warning || r.Fix == "" {
		t.Errorf("route_auth = false: ok=%v warning=%v fix=%q %s", r.OK, r.Warning, r.Fix, r.Evidence)
	}
}

// TestReadRouteInfo: the INFO line is read and decoded; anything else (another protocol, an
// endless line, silence) is an error within the timeout, never a pass.
func TestReadRouteInfo(t *testing.T) {
	for _, c := range []struct {
		name, send string
		want       bool // auth_required
		wantErr    string
	}{
		{"auth", "INFO {\"name\":\"hub-1\",\"cluster\":\"hub\",\"auth_required\":true}\r\n", true, ""},
		{"no auth", "INFO {\"name\":\"hub-1\",\"cluster\":\"hub\"}\r\n", false, ""},
		{"not nats", "SSH-2.0-OpenSSH_9.2\r\n", false, "first line is not INFO"},
		{"bad json", "INFO {\"auth_required\":\r\n", false, "INFO:"},
		{"endless", "INFO " + strings.Repeat("x", 70<<10), false, "no INFO line"},
		{"silent", "", false, "no INFO line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				conn.Write([]byte(c.send))
				time.Sleep(time.Second)
			}()
			var d net.Dialer
			info, err := readRouteInfo(context.Background(), d.DialContext, ln.Addr().String(), 300*time.Millisecond, nil)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("err %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("err %v, want %q", err, c.wantErr)
			case c.wantErr == "" && info.AuthRequired != c.want:
				t.Fatalf("auth_required %v, want %v", info.AuthRequired, c.want)
			}
		})
	}
}
