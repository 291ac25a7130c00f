package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/wasmcloud"
)

// The real host does not retry: with NATS or the JetStream domain unreachable, or with a
// configuration it cannot use, it exits non-zero at once.
func TestStartFailsFast(t *testing.T) {
	l := startLattice(t, "")
	userSeed := userSeed(t)
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"NATS unreachable", []string{"WASMCLOUD_NATS_HOST=127.0.0.1", fmt.Sprintf("WASMCLOUD_NATS_PORT=%d", closedPort(t))},
			[]string{"failed to establish NATS control server connection"}},
		{"JetStream domain unreachable", []string{"WASMCLOUD_NATS_HOST=127.0.0.1", fmt.Sprintf("WASMCLOUD_NATS_PORT=%d", l.leafPort),
			"WASMCLOUD_JS_DOMAIN=nope"}, []string{"failed to create bucket 'LATTICEDATA_default'", "jetstream not enabled"}},
		{"no domain on a leaf without JetStream", []string{"WASMCLOUD_NATS_HOST=127.0.0.1", fmt.Sprintf("WASMCLOUD_NATS_PORT=%d", l.leafPort)},
			[]string{"jetstream not enabled"}},
		{"scheme in NATS host", []string{"WASMCLOUD_NATS_HOST=nats://127.0.0.1", fmt.Sprintf("WASMCLOUD_NATS_PORT=%d", l.leafPort)},
			[]string{"failed to parse NATS address"}},
		{"user seed as host seed", []string{"WASMCLOUD_NATS_HOST=127.0.0.1", fmt.Sprintf("WASMCLOUD_NATS_PORT=%d", l.leafPort),
			"WASMCLOUD_JS_DOMAIN=hub", "WASMCLOUD_HOST_SEED=" + userSeed}, []string{"must be a server key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, tc.env...)
			if code := p.exitCode(t); code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", code, p.stderr)
			}
			for _, want := range tc.want {
				if !p.stderr.contains(want) {
					t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
				}
			}
			if strings.Contains(p.stderr.String(), userSeed) {
				t.Fatal("the host seed appears in the output")
			}
		})
	}
}

// The lab's main path: a host behind a leaf without JetStream, pointed at the hub's domain,
// found from the hub side; a second host; then one stopped by SIGTERM, one by host.stop.
func TestJoinPingGetStop(t *testing.T) {
	l := startLattice(t, "")
	hubNC := l.connect(t, l.hub)
	client, err := wasmcloud.NewClient(hubNC, "default")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	events, err := client.WatchEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.awaitLeafInterest(t, wasmcloud.EventSubject("default", wasmcloud.EventHostStarted))

	seedA, idA := newSeed(t)
	a := l.startStandin(t, "WASMCLOUD_JS_DOMAIN=hub", "WASMCLOUD_HOST_SEED="+seedA,
		"WASMCLOUD_LABEL_hostname=node1", "WASMCLOUD_LABEL_Zone=East", "WASMCLOUD_HEARTBEAT_INTERVAL=1")
	startedA := awaitEvent(t, events, wasmcloud.EventHostStarted, idA)
	var sd wasmcloud.HostStarted
	if err := startedA.DecodeData(&sd); err != nil || sd.Labels["hostname"] != "node1" || sd.Version == "" {
		t.Fatalf("host_started data %+v, %v", sd, err)
	}

	// The buckets were created by the hub's JetStream: a hub-local (domain-less) client finds
	// them, and the stream's leader is the hub server.
	hubJS, err := jetstream.New(hubNC)
	if err != nil {
		t.Fatal(err)
	}
	for _, bucket := range wasmcloud.BucketNames("default") {
		if leader := streamLeader(t, hubJS, "KV_"+bucket); leader != "hub-1" {
			t.Fatalf("stream KV_%s led by %q, want hub-1", bucket, leader)
		}
	}
	if !a.stderr.contains("created bucket with 1 replica") {
		t.Errorf("no bucket creation logged:\n%s", a.stderr)
	}

	hosts, err := client.Ping(ctx, []string{idA}, 10*time.Second)
	if err != nil || len(hosts) != 1 {
		t.Fatalf("Ping = %+v, %v; want host %s", hosts, err, idA)
	}
	h := hosts[0]
	wantLabels := map[string]string{"hostname": "node1", "Zone": "East", "hostcore.os": "linux", "hostcore.osfamily": "unix"}
	for k, v := range wantLabels {
		if h.Labels[k] != v {
			t.Errorf("ping label %s = %q, want %q (all: %v)", k, h.Labels[k], v, h.Labels)
		}
	}
	if h.ID != idA || h.Lattice != "default" || h.JSDomain != "hub" || h.FriendlyName == "" ||
		h.CtlHost != fmt.Sprintf("nats://127.0.0.1:%d", l.leafPort) || h.Labels["hostcore.arch"] == "" {
		t.Errorf("ping reply %+v", h)
	}
	inv, err := client.Get(ctx, idA)
	if err != nil {
		t.Fatal(err)
	}
	if inv.HostID != idA || inv.Labels["Zone"] != "East" || inv.FriendlyName != h.FriendlyName ||
		inv.Components == nil || inv.Providers == nil {
		t.Errorf("inventory %+v", inv)
	}

	// The first heartbeat comes one interval after start, not at start.
	beat := awaitEvent(t, events, wasmcloud.EventHostHeartbeat, idA)
	if gap := beat.Time.Sub(startedA.Time); gap < 500*time.Millisecond {
		t.Errorf("first heartbeat %v after host_started, want about one interval (1s)", gap)
	}
	var hb wasmcloud.HostInventory
	if err := beat.DecodeData(&hb); err != nil || hb.HostID != idA {
		t.Errorf("heartbeat data %+v, %v", hb, err)
	}

	// A second host (random id): ping gathers both.
	b := l.startStandin(t, "WASMCLOUD_JS_DOMAIN=hub")
	idB := awaitEvent(t, events, wasmcloud.EventHostStarted, "").HostID()
	if idB == idA {
		t.Fatal("second stand-in has the first one's id")
	}
	if hosts, err := client.Ping(ctx, []string{idA, idB}, 10*time.Second); err != nil || len(hosts) != 2 {
		t.Fatalf("Ping(A, B) = %+v, %v", hosts, err)
	}
	if hosts, err := client.Ping(ctx, nil, 500*time.Millisecond); err != nil || len(hosts) != 2 {
		t.Fatalf("Ping(window) = %+v, %v; want 2 hosts", hosts, err)
	}

	// SIGTERM: host_stopped from A, exit 0, and then nobody answers A's directed subject.
	a.signal(t, syscall.SIGTERM)
	stopped := awaitEvent(t, events, wasmcloud.EventHostStopped, idA)
	var st wasmcloud.HostStopped
	if err := stopped.DecodeData(&st); err != nil || st.Labels["hostname"] != "node1" {
		t.Errorf("host_stopped data %+v, %v", st, err)
	}
	// The host stopped answering before it announced host_stopped, so by now (same leaf
	// connection, in order) the hub knows nobody listens: no responders, not a timeout.
	getCtx, getCancel := context.WithTimeout(ctx, 5*time.Second)
	defer getCancel()
	if _, err := client.Get(getCtx, idA); !errors.Is(err, wasmcloud.ErrHostAbsent) {
		t.Fatalf("Get(stopped host) err = %v, want ErrHostAbsent", err)
	}
	if code := a.exitCode(t); code != 0 {
		t.Fatalf("exit code after SIGTERM %d, want 0", code)
	}
	if hosts, err := client.Ping(ctx, nil, 500*time.Millisecond); err != nil || len(hosts) != 1 || hosts[0].ID != idB {
		t.Fatalf("Ping after stop = %+v, %v; want only %s", hosts, err, idB)
	}

	// host.stop: acknowledged, host_stopped, exit 0.
	msg, err := hubNC.RequestWithContext(ctx, wasmcloud.HostStopSubject("default", idB), []byte(`{"host_id":"`+idB+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ack wasmcloud.CtlResponse[struct{}]
	if err := json.Unmarshal(msg.Data, &ack); err != nil || !ack.Success {
		t.Fatalf("host.stop reply %s", msg.Data)
	}
	awaitEvent(t, events, wasmcloud.EventHostStopped, idB)
	if code := b.exitCode(t); code != 0 {
		t.Fatalf("exit code after host.stop %d, want 0", code)
	}
}

// The trap this stand-in must reproduce: a leaf with its own JetStream and a host without
// WASMCLOUD_JS_DOMAIN. The host starts cleanly, answers ping from the hub, and keeps its
// buckets on the leaf, where the rest of the lattice never sees them.
func TestSplitBrainWithoutDomain(t *testing.T) {
	l := startLattice(t, "edge")
	hubNC, leafNC := l.connect(t, l.hub), l.connect(t, l.leaf)
	client, err := wasmcloud.NewClient(hubNC, "default")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events, err := client.WatchEvents(ctx, wasmcloud.EventHostStarted)
	if err != nil {
		t.Fatal(err)
	}
	l.awaitLeafInterest(t, wasmcloud.EventSubject("default", wasmcloud.EventHostStarted))

	seed, id := newSeed(t)
	l.startStandin(t, "WASMCLOUD_HOST_SEED="+seed)
	awaitEvent(t, events, wasmcloud.EventHostStarted, id)

	leafJS, err := jetstream.New(leafNC) // domain-less on the leaf: the leaf's own JetStream
	if err != nil {
		t.Fatal(err)
	}
	hubJS, err := jetstream.New(hubNC) // domain-less on the hub: the hub's JetStream
	if err != nil {
		t.Fatal(err)
	}
	for _, bucket := range wasmcloud.BucketNames("default") {
		if leader := streamLeader(t, leafJS, "KV_"+bucket); leader != "leaf-1" {
			t.Errorf("KV_%s on the leaf led by %q, want leaf-1", bucket, leader)
		}
		if _, err := hubJS.KeyValue(ctx, bucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Errorf("bucket %s on the hub: err = %v, want ErrBucketNotFound", bucket, err)
		}
	}
	// And every "joined" check still passes from the hub.
	hosts, err := client.Ping(ctx, []string{id}, 10*time.Second)
	if err != nil || len(hosts) != 1 || hosts[0].JSDomain != "" {
		t.Fatalf("Ping = %+v, %v; want the host, without js_domain", hosts, err)
	}
}

// awaitEvent returns the next event named name from host id (any host if id is ""),
// skipping others.
func awaitEvent(t *testing.T, events <-chan wasmcloud.Event, name, id string) wasmcloud.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("event channel closed while waiting for %s", name)
			}
			if e.Name() == name && (id == "" || e.HostID() == id) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event from %q within 30s", name, id)
		}
	}
}

func streamLeader(t *testing.T, js jetstream.JetStream, stream string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}
