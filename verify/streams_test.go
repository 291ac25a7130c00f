package verify

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/inventory"
)

// hub.stream-replicas passes while every replica of a stream is placed and current; once a
// node holding one is stopped it names that replica behind, and once RemovePeer took the node
// out of the meta group (twice: the second finds it no member, and is done too) it names the
// replica missing. Three hubs only: there is no fourth for nats-server to place it on.
func TestStreamReplicas_StoppedThenRemovedPeer(t *testing.T) {
	lat := startHubs(t, 3)
	ctx := context.Background()
	inv := lat.inventory()
	inv.Auth.SystemPassword = inventory.NewSecret("passwords.system", "sys-secret", "test")
	nc, err := nats.Connect(lat.nodes["hub-1"].srv.ClientURL(), nats.UserInfo("latticepush", checkPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	stream := func(want string) Result {
		t.Helper()
		var r Result
		waitFor(t, 30*time.Second, "hub.stream-replicas to say "+want, func() bool {
			rep := Run(ctx, inv, targets(inv), fast)
			for _, res := range rep.Results {
				if res.Check == CheckHubStreams {
					r = res
				}
			}
			return strings.Contains(r.Evidence, want)
		})
		return r
	}
	if r := stream("every one of its 1 streams has every replica it asks for placed and current"); !r.OK {
		t.Fatalf("healthy: %+v", r)
	}
	lat.stop("hub-3")
	if r := stream("ORDERS: the replica on hub-3 not current"); r.OK || r.Fix == "" {
		t.Fatalf("hub-3 stopped: %+v", r)
	}
	var d net.Dialer
	dial := func(context.Context, *inventory.Host) (Dialer, error) { return d.DialContext, nil }
	for range 2 {
		if err := RemovePeer(ctx, inv, dial, "hub-3", "", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if r := stream("ORDERS: 2 of 3 replicas placed"); r.OK {
		t.Fatalf("hub-3 removed: %+v", r)
	}
}
