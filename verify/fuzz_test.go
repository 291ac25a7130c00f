package verify

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// FuzzMonitorReplies feeds arbitrary monitoring replies (/healthz, /varz, /jsz, /leafz,
// /routez, with an arbitrary status) to every check that reads them, on every host of the lab
// inventory: a hostile or broken nats-server must give failed checks, never a panic or a hang.
// The seed corpus is in testdata/fuzz/FuzzMonitorReplies; `make fuzz` runs it for longer.
func FuzzMonitorReplies(f *testing.F) {
	f.Add(200, `{"status":"ok"}`,
		`{"server_name":"hub-1","version":"2.15.2","config_digest":"sha256:ab","leafnodes":3,"cluster":{"name":"hub"},"jetstream":{"config":{"domain":"hub"}}}`,
		`{"config":{"domain":"hub"},"meta_cluster":{"name":"hub","leader":"hub-1","cluster_size":3,"replicas":[{"name":"hub-2","current":true,"active":1000,"lag":0},{"name":"hub-3","current":false,"offline":true}]},"account_details":[{"name":"LATTICE","stream_detail":[{"name":"KV_LATTICEDATA_default"}]}]}`,
		`{"leafnodes":1,"leafs":[{"name":"edge-1","is_spoke":true,"account":"LATTICE","ip":"198.18.0.21","port":7422,"rtt":"1ms"}]}`,
		`{"routes":[{"remote_name":"hub-2"},{"remote_name":"hub-3"},{"remote_name":"hub-2"}]}`)
	f.Add(503, `{"status":"unavailable","error":"JetStream has not established contact with a meta leader"}`,
		`{"jetstream":{}}`, `{"disabled":true}`, `{"leafs":null}`, `{"routes":[{}]}`)
	f.Add(200, `not json`, `{"jetstream":{"config":null}}`, `{"meta_cluster":{"replicas":[null]}}`, `{"leafs":[{"port":-1}]}`, `[]`)
	f.Add(500, "", `{"jetstream":{"config":{"domain":""}}}`, `{"meta_cluster":{"leader":"","cluster_size":-7,"replicas":[]}}`, `{"leafnodes":"x"}`, `{"routes":{}}`)

	inv, diags := inventory.Load("../examples/lab/inventory.hcl", inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		f.Fatal(diags)
	}
	clusterPorts := map[string]bool{}
	for _, h := range inv.Hubs() {
		clusterPorts[fmt.Sprint(h.Hub.ClusterPort)] = true
	}
	f.Fuzz(func(t *testing.T, code int, healthz, varz, jsz, leafz, routez string) {
		// Statuses a monitoring listener answers with (1xx and 204/304 are HTTP mechanics).
		code = []int{200, 503, 500, 404}[(code%4+4)%4]
		bodies := map[string]string{"/healthz": healthz, "/varz": varz, "/jsz": jsz, "/leafz": leafz, "/routez": routez}
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			if _, port, _ := net.SplitHostPort(addr); clusterPorts[port] {
				// A cluster port speaks first, an INFO line (the /routez body stands in for
				// its JSON); serving it HTTP would make every exec wait out the timeout.
				go func() {
					defer server.Close()
					fmt.Fprintf(server, "INFO %s\r\n", routez)
				}()
				return client, nil
			}
			go serveMonitor(server, code, bodies)
			return client, nil
		}
		var targets []Target
		for _, h := range inv.Hosts {
			targets = append(targets, Target{Host: h, Dial: dial})
		}
		r := newRound(inv, targets, Options{Timeout: time.Second, Parallelism: 4})
		defer r.close()
		ctx := context.Background()
		var tasks []task
		tasks = append(tasks, r.hubTasks(inv.Hubs())...)
		tasks = append(tasks, r.metaTask(true))
		for _, l := range r.leaves() {
			tasks = append(tasks,
				one(CheckLeafRemote, l.Name, func(ctx context.Context) Result { return r.checkLeafRemote(ctx, l) }),
				one(CheckLeafSeenByHub, l.Name, func(ctx context.Context) Result { return r.checkLeafSeenByHub(ctx, l) }),
				one(CheckHygieneDomain, l.Name, func(ctx context.Context) Result { return r.checkLeafDomain(ctx, l) }),
				one(CheckHygieneStrayBucket, l.Name, func(ctx context.Context) Result { return r.checkStrayBucket(ctx, l) }))
		}
		for _, res := range r.run(ctx, tasks) {
			if res.Check == "" || res.Host == "" && res.Check != CheckHubPeersCurrent {
				t.Fatalf("a result without check or host: %+v", res)
			}
		}
	})
}

// serveMonitor answers HTTP requests on c with the body for the request's path (query
// ignored) and status code, until the client closes the connection.
func serveMonitor(c net.Conn, code int, bodies map[string]string) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body := bodies[req.URL.Path]
		_, err = fmt.Fprintf(c, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", code, len(body), body)
		if err != nil || strings.EqualFold(req.Header.Get("Connection"), "close") {
			return
		}
	}
}
