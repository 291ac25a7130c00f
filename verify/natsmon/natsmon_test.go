package natsmon

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latticepush/latticepush/internal/testenv"
)

// serve starts a monitoring stand-in and returns a client whose address does not resolve:
// every request must go through the dialer, which counts its dials.
func serve(t *testing.T, h http.HandlerFunc, opts Options) (*Client, *atomic.Int32) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	var dials atomic.Int32
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "monitor.invalid:8222" {
			t.Errorf("dialed %q, want the address as seen on the host", addr)
		}
		dials.Add(1)
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	return New("monitor.invalid:8222", dial, opts), &dials
}

func TestClient_Varz(t *testing.T) {
	c, dials := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PathVarz {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"server_name":"hub-1","version":"2.15.2","config_digest":"sha256:ab","port":4222,` +
			`"http_port":8222,"leafnodes":2,"cluster":{"name":"hub","port":6222},"leaf":{"port":7422},` +
			`"jetstream":{"config":{"domain":"hub","store_dir":"/var/lib/nats"}},"unknown":1}`))
	}, Options{})
	v, err := c.Varz(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, js := v.Domain()
	if v.ServerName != "hub-1" || v.ConfigDigest != "sha256:ab" || v.Port != 4222 || v.HTTPPort != 8222 ||
		v.Cluster.Name != "hub" || v.Cluster.Port != 6222 || v.Leaf.Port != 7422 || v.Leafnodes != 2 || !js || d != "hub" {
		t.Errorf("decoded %+v", v)
	}
	if _, err := c.Varz(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d dials for two requests without keep-alive, want 2", n)
	}
	if _, err := c.Jsz(context.Background()); err == nil || !strings.Contains(err.Error(), "GET monitor.invalid:8222/jsz: HTTP 404") {
		t.Errorf("a 404 gave %v", err)
	}
}

func TestClient_KeepAlive(t *testing.T) {
	c, dials := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }, Options{KeepAlive: true})
	for range 3 {
		if _, err := c.Get(context.Background(), PathRoutez); err != nil {
			t.Fatal(err)
		}
	}
	c.CloseIdleConnections()
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials for three requests with keep-alive, want 1", n)
	}
}

func TestClient_ReplyLimit(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat(" ", MaxReply) + "{}"))
	}, Options{})
	if _, err := c.Get(context.Background(), PathJszStreams); err == nil || !strings.Contains(err.Error(), "larger than 8 MiB") {
		t.Errorf("an oversized reply gave %v", err)
	}
}

func TestReply(t *testing.T) {
	h := Reply{Code: 503, Body: []byte(`{"status":"unavailable","error":"JetStream has not established contact with a meta leader"}`)}.Healthz()
	if h.Code != 503 || h.Status != "unavailable" || !strings.Contains(h.Error, "meta leader") {
		t.Errorf("healthz %+v", h)
	}
	if h := (Reply{Code: 500, Body: []byte("panic\nstack")}).Healthz(); h.Error != "panic" {
		t.Errorf("a non-JSON healthz body gave %+v", h)
	}
	var j Jsz
	if err := (Reply{Code: 503, Body: []byte("down\nmore")}).Decode(&j); err == nil || err.Error() != "HTTP 503: down" {
		t.Errorf("a 503 decoded with error %v", err)
	}
	if err := (Reply{Code: 200, Body: []byte(`{"meta_cluster":{"leader":"hub-2","replicas":[{"name":"hub-1","current":true}]}}`)}).Decode(&j); err != nil ||
		j.Leader() != "hub-2" || len(j.Meta.Replicas) != 1 || !j.Meta.Replicas[0].Current {
		t.Errorf("jsz %+v, %v", j, err)
	}
	if err := (Reply{Code: 200, Body: []byte(`[]`)}).Decode(&j); err == nil || !strings.HasPrefix(err.Error(), "decoding: ") {
		t.Errorf("an array decoded with error %v", err)
	}
}

// TestImports_NothingOfTheProject keeps the model at the bottom of the import graph, so that
// facts, gates and verify can all use it.
func TestImports_NothingOfTheProject(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.Unavailable(t, "the go tool is not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/latticepush/latticepush/") && dep != "github.com/latticepush/latticepush/verify/natsmon" {
			t.Errorf("natsmon depends on %s", dep)
		}
	}
}
