package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// The decoders below read only the fields the checks use, as nats-server v2.15.2 names them
// (server/monitor.go).

// varz is /varz.
type varz struct {
	ServerName   string `json:"server_name"`
	Version      string `json:"version"`
	ConfigDigest string `json:"config_digest"`
	Leafnodes    int    `json:"leafnodes"`
	Cluster      struct {
		Name string `json:"name"`
	} `json:"cluster"`
	JetStream struct {
		// Config is absent on a server without JetStream.
		Config *struct {
			Domain string `json:"domain"`
		} `json:"config"`
	} `json:"jetstream"`
}

// domain is the server's JetStream domain, and whether it runs JetStream at all.
func (v *varz) domain() (string, bool) {
	if v.JetStream.Config == nil {
		return "", false
	}
	return v.JetStream.Config.Domain, true
}

// jsz is /jsz. meta_cluster is only authoritative about peers on the meta leader: a follower
// shows the other peers as current:false, active:0.
type jsz struct {
	Disabled bool `json:"disabled"`
	Config   struct {
		Domain string `json:"domain"`
	} `json:"config"`
	Meta *struct {
		Name     string     `json:"name"`
		Leader   string     `json:"leader"`
		Size     int        `json:"cluster_size"`
		Replicas []metaPeer `json:"replicas"` // the peers other than the leader
	} `json:"meta_cluster"`
	// AccountDetails is filled with ?accounts=true; stream names with &streams=true.
	AccountDetails []struct {
		Name    string `json:"name"`
		Streams []struct {
			Name string `json:"name"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// metaPeer is one replicas[] entry of /jsz meta_cluster.
type metaPeer struct {
	Name    string        `json:"name"`
	Current bool          `json:"current"`
	Offline bool          `json:"offline"`
	Active  time.Duration `json:"active"` // nanoseconds since last seen
	Lag     uint64        `json:"lag"`
}

func (j *jsz) leader() string {
	if j.Meta == nil {
		return ""
	}
	return j.Meta.Leader
}

// leafz is /leafz. On a hub each entry is a leaf (name = its server_name, account = the hub
// account it bound to); on a leaf each entry is its remote (name = the hub node, is_spoke).
type leafz struct {
	Leafnodes int `json:"leafnodes"`
	Leafs     []struct {
		Name    string `json:"name"`
		IsSpoke bool   `json:"is_spoke"`
		Account string `json:"account"`
		IP      string `json:"ip"`
		Port    int    `json:"port"`
		RTT     string `json:"rtt"`
	} `json:"leafs"`
}

// routez is /routez. /varz routes counts pooled connections (8 on a healthy 3-node cluster:
// 3 per peer plus one for the system account): count distinct remote_name instead.
type routez struct {
	Routes []struct {
		RemoteName string `json:"remote_name"`
	} `json:"routes"`
}

// healthz is /healthz: the HTTP status is the verdict, the body says why.
type healthz struct {
	Code   int
	Status string `json:"status"`
	Error  string `json:"error"`
}

// monitor fetches a nats-server's monitoring endpoints through a host's dialer. Responses are
// memoised for the monitor's lifetime (one verification round), so checks that share an
// endpoint ask once.
type monitor struct {
	host    string
	base    string // http://addr, addr as seen on the host
	timeout time.Duration
	client  *http.Client

	mu    sync.Mutex
	cache map[string]*fetch
}

type fetch struct {
	once sync.Once
	code int
	body []byte
	err  error
}

func newMonitor(host string, n *inventory.NATS, dial Dialer, timeout time.Duration) *monitor {
	tr := &http.Transport{
		Proxy:                 nil, // the address is on the host, never through a proxy
		DialContext:           dial,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	return &monitor{
		host:    host,
		base:    "http://" + onHost(n.HTTPHost, n.HTTPPort),
		timeout: timeout,
		client:  &http.Client{Transport: tr},
		cache:   map[string]*fetch{},
	}
}

// close releases idle connections (SSH channels in production).
func (m *monitor) close() { m.client.CloseIdleConnections() }

// get returns the status code and body of path, fetched once per monitor.
func (m *monitor) get(ctx context.Context, path string) (int, []byte, error) {
	m.mu.Lock()
	f, ok := m.cache[path]
	if !ok {
		f = &fetch{}
		m.cache[path] = f
	}
	m.mu.Unlock()
	f.once.Do(func() { f.code, f.body, f.err = m.do(ctx, path) })
	return f.code, f.body, f.err
}

func (m *monitor) do(ctx context.Context, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s on %s: %w", path, m.host, timedOut(unwrapURLError(err), m.timeout))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s on %s: %w", path, m.host, err)
	}
	return resp.StatusCode, body, nil
}

// getJSON decodes a 200 response of path into v.
func (m *monitor) getJSON(ctx context.Context, path string, v any) error {
	code, body, err := m.get(ctx, path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s on %s: HTTP %d: %s", path, m.host, code, firstLine(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s on %s: decoding: %w", path, m.host, err)
	}
	return nil
}

func (m *monitor) healthz(ctx context.Context) (healthz, error) {
	code, body, err := m.get(ctx, "/healthz")
	if err != nil {
		return healthz{}, err
	}
	h := healthz{Code: code}
	if err := json.Unmarshal(body, &h); err != nil {
		h.Error = firstLine(body)
	}
	return h, nil
}

func (m *monitor) varz(ctx context.Context) (*varz, error) {
	v := new(varz)
	return v, m.getJSON(ctx, "/varz", v)
}

func (m *monitor) jsz(ctx context.Context) (*jsz, error) {
	v := new(jsz)
	return v, m.getJSON(ctx, "/jsz", v)
}

func (m *monitor) jszStreams(ctx context.Context) (*jsz, error) {
	v := new(jsz)
	return v, m.getJSON(ctx, "/jsz?accounts=true&streams=true", v)
}

func (m *monitor) leafz(ctx context.Context) (*leafz, error) {
	v := new(leafz)
	return v, m.getJSON(ctx, "/leafz", v)
}

func (m *monitor) routez(ctx context.Context) (*routez, error) {
	v := new(routez)
	return v, m.getJSON(ctx, "/routez", v)
}

// onHost is host:port as dialed on the host itself: a wildcard listen address is reached on
// loopback.
func onHost(listen string, port int) string {
	switch listen {
	case "", "0.0.0.0":
		listen = "127.0.0.1"
	case "::", "[::]":
		listen = "::1"
	}
	return net.JoinHostPort(strings.Trim(listen, "[]"), strconv.Itoa(port))
}

// unwrapURLError drops net/http's `Get "http://...": ` prefix: the caller names the request.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// timedOut names the step timeout when err is the step's deadline: "no answer within 5s"
// says more than "context deadline exceeded".
func timedOut(err error, d time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", d, err)
	}
	return err
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
