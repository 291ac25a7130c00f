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

// A removal asked while the hub cluster has no meta leader is answered by no one: RemovePeer
// asks again until a leader is elected, which removes the member and answers. Here two of the
// three hubs stop (the meta leader and the follower to remove), and the leader comes back two
// seconds after the removal was first asked.
func TestRemovePeer_AsksAgainUntilALeaderAnswers(t *testing.T) {
	lat := startHubs(t, 3)
	inv := lat.inventory()
	inv.Auth.SystemPassword = inventory.NewSecret("passwords.system", "sys-secret", "test")
	var leader string
	for name, nd := range lat.nodes {
		if nd.srv.JetStreamIsLeader() {
			leader = name
		}
	}
	var followers []string
	for _, name := range []string{"hub-1", "hub-2", "hub-3"} {
		if name != leader {
			followers = append(followers, name)
		}
	}
	target, back, alone := followers[1], leader, followers[0]
	removeResend = 300 * time.Millisecond
	t.Cleanup(func() { removeResend = 2 * time.Second })
	lat.stop(target)
	lat.stop(back)
	waitFor(t, 10*time.Second, alone+" without a meta leader", func() bool { return !lat.nodes[alone].srv.JetStreamIsLeader() })

	var d net.Dialer
	dial := func(context.Context, *inventory.Host) (Dialer, error) { return d.DialContext, nil }
	done := make(chan error, 1)
	asked := time.Now()
	go func() { done <- RemovePeer(context.Background(), inv, dial, target, "", 30*time.Second) }()
	time.Sleep(2 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("answered without a meta leader: %v", err)
	default:
	}
	srv, err := lat.restart(back)
	if err != nil {
		t.Fatal(err)
	}
	lat.nodes[back].srv = srv
	if err := <-done; err != nil {
		t.Fatalf("after %s came back: %v", back, err)
	}
	t.Logf("removed %.1fs after it was first asked", time.Since(asked).Seconds())
	waitFor(t, 10*time.Second, "a meta group of 2", func() bool {
		for _, name := range []string{alone, back} {
			if s := lat.nodes[name].srv; s.JetStreamIsLeader() {
				jsz, err := s.Jsz(nil)
				return err == nil && jsz.Meta != nil && jsz.Meta.Size == 2
			}
		}
		return false
	})
}
