package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// monitor fetches a nats-server's monitoring endpoints through a host's dialer. Responses are
// memoised for the monitor's lifetime (one verification round), so checks that share an
// endpoint ask once.
type monitor struct {
	host    string
	timeout time.Duration
	client  *natsmon.Client

	mu    sync.Mutex
	cache map[string]*fetch
}

type fetch struct {
	once  sync.Once
	reply natsmon.Reply
	err   error
}

func newMonitor(host string, n *inventory.NATS, dial Dialer, timeout time.Duration) *monitor {
	return &monitor{
		host:    host,
		timeout: timeout,
		client:  natsmon.New(n.LocalMonitorAddr(), dial, natsmon.Options{KeepAlive: true, HeaderTimeout: timeout}),
		cache:   map[string]*fetch{},
	}
}

// close releases idle connections (SSH channels in production).
func (m *monitor) close() { m.client.CloseIdleConnections() }

// get returns the reply to path, fetched once per monitor.
func (m *monitor) get(ctx context.Context, path string) (natsmon.Reply, error) {
	m.mu.Lock()
	f, ok := m.cache[path]
	if !ok {
		f = &fetch{}
		m.cache[path] = f
	}
	m.mu.Unlock()
	f.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, m.timeout)
		defer cancel()
		f.reply, f.err = m.client.Get(ctx, path)
		if f.err != nil {
			f.err = fmt.Errorf("GET %s on %s: %w", path, m.host, timedOut(f.err, m.timeout))
		}
	})
	return f.reply, f.err
}

// getJSON decodes a 200 reply to path into v.
func (m *monitor) getJSON(ctx context.Context, path string, v any) error {
	r, err := m.get(ctx, path)
	if err != nil {
		return err
	}
	if err := r.Decode(v); err != nil {
		return fmt.Errorf("GET %s on %s: %w", path, m.host, err)
	}
	return nil
}

func (m *monitor) healthz(ctx context.Context) (natsmon.Healthz, error) {
	r, err := m.get(ctx, natsmon.PathHealthz)
	if err != nil {
		return natsmon.Healthz{}, err
	}
	return r.Healthz(), nil
}

func (m *monitor) varz(ctx context.Context) (*natsmon.Varz, error) {
	v := new(natsmon.Varz)
	return v, m.getJSON(ctx, natsmon.PathVarz, v)
}

func (m *monitor) jsz(ctx context.Context) (*natsmon.Jsz, error) {
	v := new(natsmon.Jsz)
	return v, m.getJSON(ctx, natsmon.PathJsz, v)
}

func (m *monitor) jszStreams(ctx context.Context) (*natsmon.Jsz, error) {
	v := new(natsmon.Jsz)
	return v, m.getJSON(ctx, natsmon.PathJszStreams, v)
}

func (m *monitor) leafz(ctx context.Context) (*natsmon.Leafz, error) {
	v := new(natsmon.Leafz)
	return v, m.getJSON(ctx, natsmon.PathLeafz, v)
}

func (m *monitor) routez(ctx context.Context) (*natsmon.Routez, error) {
	v := new(natsmon.Routez)
	return v, m.getJSON(ctx, natsmon.PathRoutez, v)
}

// timedOut names the step timeout when err is the step's deadline: "no answer within 5s"
// says more than "context deadline exceeded".
func timedOut(err error, d time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", d, err)
	}
	return err
}
