package verify

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestScanAPIPrefix_FindsMirrorsAndSourcesOutsideTheHub: a leaf with JetStream of its own holds
// a mirror and a source of a hub stream through the hub's domain, and a source through another
// prefix; the hub holds a stream sourcing the leaf's domain. Scanning for the hub's domain
// names exactly the two streams that store "$JS.hub.API", found through the leaf. A leaf that
// cannot be reached is named, not skipped silently; a leaf without JetStream is not dialed.
func TestScanAPIPrefix_FindsMirrorsAndSourcesOutsideTheHub(t *testing.T) {
	lat := startHubs(t, 3)
	leaf := lat.startLeaf(leafSpec{name: "edge-1", domain: "edge1"})
	lat.startLeaf(leafSpec{name: "edge-2"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	hubJS := jsOf(t, lat.nodes["hub-1"].srv.ClientURL(), nats.UserInfo(checkUser, checkPassword))
	leafJS := jsOf(t, leaf.srv.ClientURL())
	mustStream(t, hubJS, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	mustStream(t, leafJS, jetstream.StreamConfig{Name: "EDGE", Subjects: []string{"edge.>"}})
	mustStream(t, leafJS, jetstream.StreamConfig{Name: "ORDERS_COPY",
		Mirror: &jetstream.StreamSource{Name: "ORDERS", External: &jetstream.ExternalStream{APIPrefix: "$JS.hub.API"}}})
	mustStream(t, leafJS, jetstream.StreamConfig{Name: "ALL", Subjects: []string{"all.>"}, Sources: []*jetstream.StreamSource{
		{Name: "EDGE"},
		{Name: "ORDERS", External: &jetstream.ExternalStream{APIPrefix: "$JS.hub.API"}},
		{Name: "ORDERS", FilterSubject: "orders.eu.>", External: &jetstream.ExternalStream{APIPrefix: "$JS.elsewhere.API"}},
	}})
	mustStream(t, hubJS, jetstream.StreamConfig{Name: "FROM_EDGE", Subjects: []string{"from.>"}, Sources: []*jetstream.StreamSource{
		{Name: "EDGE", External: &jetstream.ExternalStream{APIPrefix: "$JS.edge1.API"}},
	}})

	inv := lat.inventory("edge-1", "edge-2")
	ts := targets(inv)
	for i := range ts {
		if ts[i].Host.Name == "edge-2" {
			ts[i].Dial = func(context.Context, string, string) (net.Conn, error) {
				t.Error("a leaf without JetStream was dialed")
				return nil, errors.New("not expected")
			}
		}
	}
	scan := ScanAPIPrefix(ctx, inv, ts, "hub", Options{})
	if len(scan.Unscanned) > 0 {
		t.Fatalf("unscanned: %v", scan.Unscanned)
	}
	var got []string
	for _, s := range scan.Streams {
		got = append(got, s.Stream+" "+s.Kind+" "+s.Upstream+" "+s.Domain+" "+s.Via)
	}
	want := []string{"ALL source ORDERS edge1 edge-1", "ORDERS_COPY mirror ORDERS edge1 edge-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("streams storing $JS.hub.API:\n got %q\nwant %q", got, want)
	}

	// Scanning for the leaf's domain finds the hub's stream, through the hub.
	scan = ScanAPIPrefix(ctx, inv, targets(inv), "edge1", Options{})
	if len(scan.Streams) != 1 || scan.Streams[0].Stream != "FROM_EDGE" || scan.Streams[0].Via != "hub-1" || scan.Streams[0].Domain != "hub" {
		t.Fatalf("streams storing $JS.edge1.API: %+v (unscanned %v)", scan.Streams, scan.Unscanned)
	}

	for i := range ts {
		if ts[i].Host.Name == "edge-1" {
			ts[i] = Target{Host: ts[i].Host, Err: errors.New("ssh: connection refused")}
		}
	}
	scan = ScanAPIPrefix(ctx, inv, ts, "hub", Options{})
	if len(scan.Unscanned) != 1 || !strings.Contains(scan.Unscanned[0], "edge-1") || !strings.Contains(scan.Unscanned[0], "connection refused") {
		t.Fatalf("unscanned %q, want edge-1 named with its error", scan.Unscanned)
	}
	if len(scan.Streams) != 0 {
		t.Fatalf("streams %+v found with the only leaf holding them unreachable", scan.Streams)
	}
}

func jsOf(t *testing.T, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func mustStream(t *testing.T, js jetstream.JetStream, cfg jetstream.StreamConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatalf("create stream %s: %v", cfg.Name, err)
	}
}
