package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/latticepush/latticepush/inventory"
)

// Names fixed by the auth model (config-mode accounts, see package unit): the hub account the
// lattice lives in, and the user latticepush's own checks connect to the hubs as.
const (
	hubAccount = "LATTICE"
	checkUser  = "latticepush"
)

// round is one verification pass over the live system. Monitoring responses and the hub-side
// NATS connection are shared by the checks of the round and fetched at most once, so a round
// is a consistent-enough snapshot and costs one request per endpoint per host.
type round struct {
	inv     *inventory.Inventory
	opts    Options
	targets map[string]Target

	mu       sync.Mutex
	monitors map[string]*monitor

	hubOnce sync.Once
	hubConn *nats.Conn
	hubHost string
	hubErr  error

	bucketOnce   sync.Once
	bucketResult Result

	pingOnce sync.Once
	ping     pingView

	// reuse holds results taken instead of checking again (RunReusing).
	reuse map[key]Result
}

func newRound(inv *inventory.Inventory, targets []Target, opts Options) *round {
	r := &round{
		inv:      inv,
		opts:     opts.withDefaults(),
		targets:  make(map[string]Target, len(targets)),
		monitors: map[string]*monitor{},
		reuse:    map[key]Result{},
	}
	for _, t := range targets {
		if t.Host != nil {
			r.targets[t.Host.Name] = t
		}
	}
	return r
}

// close releases the round's connections.
func (r *round) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.monitors {
		m.close()
	}
	if r.hubConn != nil {
		r.hubConn.Close()
	}
}

// dialer returns how to reach host, or why it cannot be reached.
func (r *round) dialer(host *inventory.Host) (Dialer, error) {
	t, ok := r.targets[host.Name]
	switch {
	case !ok:
		return nil, fmt.Errorf("no connection to %s (the host was not dialed)", host.Name)
	case t.Err != nil:
		return nil, fmt.Errorf("unreachable: %w", t.Err)
	case t.Dial == nil:
		return nil, fmt.Errorf("no connection to %s (no dialer)", host.Name)
	}
	return t.Dial, nil
}

// monitor returns the monitoring client of host's nats-server.
func (r *round) monitor(host *inventory.Host) (*monitor, error) {
	n := host.NATS()
	if n == nil {
		return nil, fmt.Errorf("%s runs no nats-server", host.Name)
	}
	dial, err := r.dialer(host)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.monitors[host.Name]
	if !ok {
		m = newMonitor(host.Name, n, dial, r.opts.Timeout)
		r.monitors[host.Name] = m
	}
	return m, nil
}

// connect opens a NATS connection to host's client port, as seen on the host.
func (r *round) connect(ctx context.Context, host *inventory.Host, extra ...nats.Option) (*nats.Conn, error) {
	dial, err := r.dialer(host)
	if err != nil {
		return nil, err
	}
	return connectNATS(ctx, dial, host.NATS(), r.opts.Timeout, withHubTLS(r.inv, host, extra)...)
}

// hubSide returns a connection to the first hub node that accepts user latticepush in account
// LATTICE: where the lattice is observed "from the hub side".
func (r *round) hubSide(ctx context.Context) (*nats.Conn, string, error) {
	r.hubOnce.Do(func() {
		nc, hub, err := ConnectHub(ctx, r.inv, func(_ context.Context, h *inventory.Host) (Dialer, error) {
			return r.dialer(h)
		}, r.opts.Timeout)
		r.mu.Lock()
		r.hubConn, r.hubHost, r.hubErr = nc, hub, err
		r.mu.Unlock()
	})
	return r.hubConn, r.hubHost, r.hubErr
}

// hubByServerName maps a server_name to its inventory hub.
func (r *round) hubByServerName(name string) *inventory.Host {
	for _, h := range r.inv.Hubs() {
		if h.Hub.ServerName == name {
			return h
		}
	}
	return nil
}

// hubCluster is the hub cluster's name, what a hub-homed stream reports as its cluster.
func (r *round) hubCluster() string {
	for _, h := range r.inv.Hubs() {
		if h.Hub.ClusterName != "" {
			return h.Hub.ClusterName
		}
	}
	return ""
}

// step bounds one network step.
func (r *round) step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.opts.Timeout)
}

// names joins host or server names for evidence.
func names(ns []string) string {
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}
