package wasmcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Defaults taken from the official 1.x tooling.
const (
	// DefaultPingWindow is how long Ping gathers when given no window (wash get hosts: 2 s).
	DefaultPingWindow = 2 * time.Second
	// DefaultRequestTimeout bounds a directed request whose context has no deadline
	// (the Rust control client: 2 s).
	DefaultRequestTimeout = 2 * time.Second
)

// ErrHostAbsent means no process subscribes to the host's directed subject: the host is not
// running in this lattice, or not reachable from where the client is connected.
var ErrHostAbsent = errors.New("host is not in the lattice (no responders)")

// ErrDuplicateHost means two ping replies carried the same host id: two live processes share
// one host seed.
var ErrDuplicateHost = errors.New("more than one process answered with this host id")

// Client asks the hosts of one lattice over an existing NATS connection. Where the connection
// goes matters: a host answers through its own leaf even while the leaf's link to the hub is
// down, so to prove membership in the lattice connect the client to the hub (or to another
// site). A Client is safe for concurrent use; it never closes the connection.
type Client struct {
	nc      *nats.Conn
	lattice string
}

// NewClient returns a client for lattice over nc.
func NewClient(nc *nats.Conn, lattice string) (*Client, error) {
	if nc == nil {
		return nil, errors.New("wasmcloud client: nil NATS connection")
	}
	if err := ValidateLattice(lattice); err != nil {
		return nil, err
	}
	return &Client{nc: nc, lattice: lattice}, nil
}

// Lattice is the lattice the client talks to.
func (c *Client) Lattice() string { return c.lattice }

// Ping gathers the hosts of the lattice. Every host answers a ping with its own message, so
// Ping publishes once with a private inbox and collects replies, one per host id, until window
// (DefaultPingWindow if <= 0) has passed, or until every id in expect has answered, or at once
// when NATS reports that nobody listens. Hosts are sorted by id and include hosts that were not
// expected; a missing expected id is not an error (compare the result yourself).
//
// The returned hosts are valid even when err is not nil: err joins the problems with
// individual replies (not a 1.x envelope, success=false, ErrDuplicateHost; duplicates are
// only seen while Ping still gathers, so use no expect set to look for them). If ctx ends before
// the window, Ping returns what it has gathered with ctx.Err().
func (c *Client) Ping(ctx context.Context, expect []string, window time.Duration) ([]Host, error) {
	return c.ping(ctx, expect, window, -1)
}

// PingAll is Ping for a census: once every id in expect has answered it goes on gathering for
// as long again as that took (at least minGrace), within window, instead of stopping. Every
// host answers the same published ping at about the same pace, so a host that is not
// expected, or a second host with an expected id (ErrDuplicateHost), is seen without waiting
// out the whole window; one that answers more than twice as late as the slowest expected host
// is missed. Without expect it is Ping.
func (c *Client) PingAll(ctx context.Context, expect []string, window, minGrace time.Duration) ([]Host, error) {
	return c.ping(ctx, expect, window, max(minGrace, 0))
}

// ping is Ping, and with grace >= 0 PingAll.
func (c *Client) ping(ctx context.Context, expect []string, window, grace time.Duration) ([]Host, error) {
	start := time.Now()
	if window <= 0 {
		window = DefaultPingWindow
	}
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("ping lattice %s: subscribe reply inbox: %w", c.lattice, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.nc.PublishRequest(PingSubject(c.lattice), inbox, nil); err != nil {
		return nil, fmt.Errorf("ping lattice %s: %w", c.lattice, err)
	}

	gather, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	missing := make(map[string]bool, len(expect))
	for _, id := range expect {
		missing[id] = true
	}
	byID := map[string]Host{}
	var problems []error
	graced := false
	for {
		if len(expect) > 0 && len(missing) == 0 {
			if grace < 0 {
				break
			}
			if !graced { // every expected host answered: as long again for the others
				graced = true
				var cancelGrace context.CancelFunc
				gather, cancelGrace = context.WithTimeout(gather, max(time.Since(start), grace))
				defer cancelGrace()
			}
		}
		msg, err := sub.NextMsgWithContext(gather)
		if err != nil {
			if ctx.Err() != nil {
				return sortedHosts(byID), ctx.Err()
			}
			if gather.Err() != nil {
				break // the window is over
			}
			if errors.Is(err, nats.ErrNoResponders) {
				break // the server's 503: nothing subscribes to the ping subject, no host will answer
			}
			return sortedHosts(byID), fmt.Errorf("ping lattice %s: %w", c.lattice, err)
		}
		h, err := DecodeResponse[Host](msg.Data)
		if err != nil {
			problems = append(problems, fmt.Errorf("ping reply: %w", err))
			continue
		}
		switch _, dup := byID[h.ID]; {
		case h.ID == "":
			problems = append(problems, errors.New("ping reply: host without an id"))
		case dup:
			problems = append(problems, fmt.Errorf("host %s: %w", h.ID, ErrDuplicateHost))
		default:
			byID[h.ID] = *h
			delete(missing, h.ID)
		}
	}
	return sortedHosts(byID), errors.Join(problems...)
}

// Get asks one host for its inventory with the directed request host.get.<hostID>. A host
// that is not running gives ErrHostAbsent at once (no responders), not a timeout. Without a
// deadline on ctx the request is bounded by DefaultRequestTimeout.
func (c *Client) Get(ctx context.Context, hostID string) (*HostInventory, error) {
	if !nkeys.IsValidPublicServerKey(hostID) {
		return nil, fmt.Errorf("host id %q is not a server public key (N…, 56 characters)", hostID)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRequestTimeout)
		defer cancel()
	}
	msg, err := c.nc.RequestWithContext(ctx, HostGetSubject(c.lattice, hostID), nil)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("host %s in lattice %s: %w", hostID, c.lattice, ErrHostAbsent)
	}
	if err != nil {
		return nil, fmt.Errorf("get host %s in lattice %s: %w", hostID, c.lattice, err)
	}
	inv, err := DecodeResponse[HostInventory](msg.Data)
	if err != nil {
		return nil, fmt.Errorf("get host %s: %w", hostID, err)
	}
	if inv.HostID != hostID {
		return nil, fmt.Errorf("get host %s: the reply is from host %q", hostID, inv.HostID)
	}
	return inv, nil
}

// WatchEvents subscribes to the lattice's events named names (EventHostStarted, …), or to
// all of them when names is empty, and delivers them until ctx ends; then the channel is
// closed. The subscription is in place at the connected server when WatchEvents returns, so
// subscribe before causing the event. Events are fire and forget: a consumer that falls
// behind loses events (NATS slow-consumer rule), and messages that are not CloudEvents are
// dropped.
func (c *Client) WatchEvents(ctx context.Context, names ...string) (<-chan Event, error) {
	subjects := []string{EventSubject(c.lattice, "")}
	if len(names) > 0 {
		subjects = subjects[:0]
		for _, n := range names {
			if !subjectToken.MatchString(n) {
				return nil, fmt.Errorf("watch events: %q is not an event name", n)
			}
			subjects = append(subjects, EventSubject(c.lattice, n))
		}
	}
	msgs := make(chan *nats.Msg, 256)
	subs := make([]*nats.Subscription, 0, len(subjects))
	unsubscribe := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, subject := range subjects {
		s, err := c.nc.ChanSubscribe(subject, msgs)
		if err != nil {
			unsubscribe()
			return nil, fmt.Errorf("watch events on %s: %w", subject, err)
		}
		subs = append(subs, s)
	}
	flushCtx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	if err := c.nc.FlushWithContext(flushCtx); err != nil {
		unsubscribe()
		return nil, fmt.Errorf("watch events: %w", err)
	}

	out := make(chan Event, 64)
	go func() {
		defer close(out)
		defer unsubscribe()
		for {
			var msg *nats.Msg
			select {
			case <-ctx.Done():
				return
			case msg = <-msgs:
			}
			var e Event
			if json.Unmarshal(msg.Data, &e) != nil || !strings.HasPrefix(e.Type, EventTypePrefix) {
				continue
			}
			select {
			case <-ctx.Done():
				return
			case out <- e:
			}
		}
	}()
	return out, nil
}

func sortedHosts(byID map[string]Host) []Host {
	hosts := make([]Host, 0, len(byID))
	for _, h := range byID {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b Host) int { return strings.Compare(a.ID, b.ID) })
	return hosts
}
