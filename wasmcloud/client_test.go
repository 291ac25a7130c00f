package wasmcloud

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// startNATS runs an in-process nats-server on a random loopback port and connects to it.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newHostID(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateServer()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := kp.PublicKey()
	return id
}

// fakeHost answers ping on nc with reply bodies produced by answer (one message per body).
func fakeHost(t *testing.T, nc *nats.Conn, lattice string, bodies ...[]byte) {
	t.Helper()
	_, err := nc.Subscribe(PingSubject(lattice), func(m *nats.Msg) {
		for _, b := range bodies {
			_ = m.Respond(b)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func pingBody(t *testing.T, id string) []byte {
	return mustMarshal(t, OK(Host{ID: id, Lattice: "default", FriendlyName: "fake", Labels: map[string]string{"id": id}}))
}

func newClient(t *testing.T, nc *nats.Conn) *Client {
	t.Helper()
	c, err := NewClient(nc, "default")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClientRefusesBadLattice(t *testing.T) {
	if _, err := NewClient(nil, "default"); err == nil {
		t.Error("nil connection accepted")
	}
	if _, err := NewClient(&nats.Conn{}, "a.b"); err == nil {
		t.Error("lattice a.b accepted")
	}
}

func TestPingGathersEveryHost(t *testing.T) {
	nc := startNATS(t)
	ids := []string{newHostID(t), newHostID(t), newHostID(t)}
	for _, id := range ids {
		fakeHost(t, nc, "default", pingBody(t, id))
	}
	fakeHost(t, nc, "other", pingBody(t, newHostID(t))) // another lattice must not answer

	hosts, err := newClient(t, nc).Ping(context.Background(), nil, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != len(ids) {
		t.Fatalf("got %d hosts, want %d: %+v", len(hosts), len(ids), hosts)
	}
	for i := 1; i < len(hosts); i++ {
		if hosts[i-1].ID >= hosts[i].ID {
			t.Fatalf("hosts not sorted by id: %s, %s", hosts[i-1].ID, hosts[i].ID)
		}
	}
	for _, h := range hosts {
		if h.Labels["id"] != h.ID {
			t.Fatalf("host %s carries labels of another reply: %v", h.ID, h.Labels)
		}
	}
}

// With every expected id answered, Ping returns long before its (hour-long) window; the
// context deadline would turn a missed early stop into DeadlineExceeded.
func TestPingStopsWhenExpectedHostsAnswered(t *testing.T) {
	nc := startNATS(t)
	a, b := newHostID(t), newHostID(t)
	fakeHost(t, nc, "default", pingBody(t, a))
	fakeHost(t, nc, "default", pingBody(t, b))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hosts, err := newClient(t, nc).Ping(ctx, []string{a, b}, time.Hour)
	if err != nil {
		t.Fatalf("Ping: %v (hosts %d)", err, len(hosts))
	}
	if len(hosts) != 2 {
		t.Fatalf("got %d hosts, want 2", len(hosts))
	}
}

// Nobody subscribed: the server's no-responders status ends the gather at once.
func TestPingWithoutHostsEndsAtOnce(t *testing.T) {
	nc := startNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hosts, err := newClient(t, nc).Ping(ctx, []string{newHostID(t)}, time.Hour)
	if err != nil || len(hosts) != 0 {
		t.Fatalf("Ping = %v, %v; want no hosts and no error", hosts, err)
	}
}

func TestPingReportsBadAndDuplicateReplies(t *testing.T) {
	nc := startNATS(t)
	good, twice := newHostID(t), newHostID(t)
	fakeHost(t, nc, "default", pingBody(t, good))
	fakeHost(t, nc, "default", pingBody(t, twice), pingBody(t, twice))
	fakeHost(t, nc, "default", fixture(t, "legacy_ping_082.json"))
	fakeHost(t, nc, "default", fixture(t, "error_reply.json"))

	hosts, err := newClient(t, nc).Ping(context.Background(), nil, 300*time.Millisecond)
	if len(hosts) != 2 {
		t.Fatalf("got %d hosts, want the 2 well-formed ones", len(hosts))
	}
	if !errors.Is(err, ErrDuplicateHost) || !errors.Is(err, ErrNotEnvelope) {
		t.Fatalf("err = %v; want ErrDuplicateHost and ErrNotEnvelope joined", err)
	}
}

func TestPingHonoursContext(t *testing.T) {
	nc := startNATS(t)
	fakeHost(t, nc, "default", pingBody(t, newHostID(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := newClient(t, nc).Ping(ctx, []string{newHostID(t)}, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's DeadlineExceeded", err)
	}
}

func TestGet(t *testing.T) {
	nc := startNATS(t)
	id, liar, refuser := newHostID(t), newHostID(t), newHostID(t)
	answer := func(subjectID string, body []byte) {
		t.Helper()
		if _, err := nc.Subscribe(HostCommandsSubject("default", subjectID), func(m *nats.Msg) { _ = m.Respond(body) }); err != nil {
			t.Fatal(err)
		}
	}
	answer(id, mustMarshal(t, OK(HostInventory{HostID: id, Labels: map[string]string{"hostname": "n1"}})))
	answer(liar, mustMarshal(t, OK(HostInventory{HostID: id})))
	answer(refuser, mustMarshal(t, Failure("unsupported subject")))
	c := newClient(t, nc)
	ctx := context.Background()

	inv, err := c.Get(ctx, id)
	if err != nil || inv.HostID != id || inv.Labels["hostname"] != "n1" {
		t.Fatalf("Get = %+v, %v", inv, err)
	}
	if _, err := c.Get(ctx, newHostID(t)); !errors.Is(err, ErrHostAbsent) {
		t.Fatalf("absent host: err = %v, want ErrHostAbsent", err)
	}
	if _, err := c.Get(ctx, liar); err == nil {
		t.Fatal("a reply for another host id was accepted")
	}
	if _, err := c.Get(ctx, refuser); err == nil || errors.Is(err, ErrHostAbsent) {
		t.Fatalf("refusal: err = %v", err)
	}
	if _, err := c.Get(ctx, "N.>"); err == nil {
		t.Fatal("a subject wildcard was accepted as host id")
	}
}

func TestWatchEvents(t *testing.T) {
	nc := startNATS(t)
	c := newClient(t, nc)
	ctx, cancel := context.WithCancel(context.Background())
	events, err := c.WatchEvents(ctx, EventHostStarted, EventHostStopped)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(name string, body []byte) {
		t.Helper()
		if err := nc.Publish(EventSubject("default", name), body); err != nil {
			t.Fatal(err)
		}
	}
	pub(EventHostHeartbeat, fixture(t, "event_host_heartbeat.json")) // not watched
	pub(EventHostStarted, []byte("not json"))                        // dropped
	pub(EventHostStarted, fixture(t, "event_host_started.json"))
	stopped, err := NewEvent(EventHostStopped, fixtureHostID, HostStopped{})
	if err != nil {
		t.Fatal(err)
	}
	pub(EventHostStopped, mustMarshal(t, stopped))

	for _, want := range []string{EventHostStarted, EventHostStopped} {
		select {
		case e := <-events:
			if e.Name() != want || e.HostID() != fixtureHostID {
				t.Fatalf("got %s from %s, want %s from %s", e.Name(), e.HostID(), want, fixtureHostID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", want)
		}
	}
	cancel()
	for range events { // must be closed once ctx ends
	}
	if _, err := c.WatchEvents(context.Background(), "host.*"); err == nil {
		t.Fatal("event name with a subject separator accepted")
	}
}

// A census with every inventory host answering ends long before its (hour-long) window, yet
// still sees a host that is not expected and a second host with an expected id, which answer
// at the same pace; the context deadline would turn a missed early end into DeadlineExceeded.
func TestPingAllEndsSoonAfterTheExpectedYetSeesOthers(t *testing.T) {
	nc := startNATS(t)
	a, b, stray := newHostID(t), newHostID(t), newHostID(t)
	fakeHost(t, nc, "default", pingBody(t, a))
	fakeHost(t, nc, "default", pingBody(t, b), pingBody(t, b))
	fakeHost(t, nc, "default", pingBody(t, stray))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hosts, err := newClient(t, nc).PingAll(ctx, []string{a, b}, time.Hour, 50*time.Millisecond)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PingAll waited out its window with every expected host answering: %v", err)
	}
	if len(hosts) != 3 {
		t.Errorf("got %d hosts, want 3 (the stray too): %+v", len(hosts), hosts)
	}
	if !errors.Is(err, ErrDuplicateHost) {
		t.Errorf("err = %v, want ErrDuplicateHost for the second host with id b", err)
	}
}
