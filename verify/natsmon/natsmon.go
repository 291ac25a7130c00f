// Package natsmon reads a nats-server's HTTP monitoring endpoints (/varz, /jsz, /leafz,
// /routez, /healthz): one typed model of the replies, holding only the fields latticepush
// reads under the names nats-server v2.15.2 gives them (server/monitor.go), and one client
// that GETs an endpoint through a dialer (an SSH connection's, in production) with a size
// limit. It imports nothing of the project: facts, gates and verify all decode through it.
package natsmon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The endpoints, as paths on the monitoring listener.
const (
	PathVarz    = "/varz"
	PathJsz     = "/jsz"
	PathLeafz   = "/leafz"
	PathRoutez  = "/routez"
	PathHealthz = "/healthz"
	// PathJszStreams is /jsz with every account's streams listed (AccountDetails).
	PathJszStreams = "/jsz?accounts=true&streams=true"
)

// MaxReply is the largest reply body read; a larger one is an error, not a truncated decode.
const MaxReply = 8 << 20

// Varz is /varz.
type Varz struct {
	ServerName   string `json:"server_name"`
	Version      string `json:"version"`
	ConfigDigest string `json:"config_digest"` // nats-server 2.11+: the digest -t prints
	Host         string `json:"host"`          // client listen host
	Port         int    `json:"port"`          // client port
	HTTPHost     string `json:"http_host"`     // monitoring listen host
	HTTPPort     int    `json:"http_port"`
	Leafnodes    int    `json:"leafnodes"` // leaf connections
	// TLS of the client port: whether it requires TLS, and its certificate's end.
	TLSRequired     bool      `json:"tls_required"`
	TLSCertNotAfter time.Time `json:"tls_cert_not_after"`
	Cluster         struct {
		Name            string    `json:"name"`
		Port            int       `json:"port"`
		TLSRequired     bool      `json:"tls_required"`
		TLSVerify       bool      `json:"tls_verify"` // peers must present a certificate
		TLSCertNotAfter time.Time `json:"tls_cert_not_after"`
	} `json:"cluster"`
	Leaf struct {
		Host            string    `json:"host"` // leafnode listen host
		Port            int       `json:"port"` // leafnode listen port, 0 without one
		TLSRequired     bool      `json:"tls_required"`
		TLSCertNotAfter time.Time `json:"tls_cert_not_after"`
	} `json:"leaf"`
	JetStream struct {
		// Config is absent on a server without JetStream.
		Config *struct {
			Domain string `json:"domain"`
		} `json:"config"`
	} `json:"jetstream"`
}

// Domain is the server's JetStream domain, and whether it runs JetStream at all.
func (v *Varz) Domain() (string, bool) {
	if v.JetStream.Config == nil {
		return "", false
	}
	return v.JetStream.Config.Domain, true
}

// Jsz is /jsz. Meta is only authoritative about peers on the meta leader: a follower shows
// the other peers as current:false, active:0.
type Jsz struct {
	Disabled bool `json:"disabled"`
	Config   struct {
		Domain string `json:"domain"`
	} `json:"config"`
	Meta *struct {
		Name     string     `json:"name"`
		Leader   string     `json:"leader"`
		Size     int        `json:"cluster_size"`
		Replicas []MetaPeer `json:"replicas"` // the peers other than the leader
	} `json:"meta_cluster"`
	// AccountDetails is filled by PathJszStreams.
	AccountDetails []struct {
		Name    string `json:"name"`
		Streams []struct {
			Name string `json:"name"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// MetaPeer is one replicas[] entry of /jsz meta_cluster.
type MetaPeer struct {
	Name    string        `json:"name"`
	Peer    string        `json:"peer"` // its peer id in the group
	Current bool          `json:"current"`
	Offline bool          `json:"offline"`
	Active  time.Duration `json:"active"` // nanoseconds since last seen
	Lag     uint64        `json:"lag"`
}

// Leader is the meta leader's server_name as this server knows it, or "".
func (j *Jsz) Leader() string {
	if j.Meta == nil {
		return ""
	}
	return j.Meta.Leader
}

// Leafz is /leafz. On a hub each entry is a leaf (Name = its server_name, Account = the hub
// account it bound to); on a leaf each entry is its remote (Name = the hub node, IsSpoke).
type Leafz struct {
	Leafnodes int `json:"leafnodes"`
	Leafs     []struct {
		ID      uint64 `json:"id"` // the connection's id on this server: a new connection, a new id
		Name    string `json:"name"`
		IsSpoke bool   `json:"is_spoke"`
		Account string `json:"account"`
		IP      string `json:"ip"`
		Port    int    `json:"port"`
		RTT     string `json:"rtt"`
		// Compression is the link's compression mode ("off", "s2_fast", ...).
		Compression string `json:"compression"`
	} `json:"leafs"`
}

// Routez is /routez. /varz routes counts pooled connections (8 on a healthy 3-node cluster:
// 3 per peer plus one for the system account): count distinct RemoteName instead.
type Routez struct {
	Routes []struct {
		RemoteName string    `json:"remote_name"`
		Start      time.Time `json:"start"` // when the connection was made
	} `json:"routes"`
}

// Healthz is /healthz: the HTTP status is the verdict, the body says why.
type Healthz struct {
	Code   int    `json:"-"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// Dialer opens a connection to addr as seen from the host the listener runs on. It has the
// signature of net.Dialer.DialContext and of the SSH client's DialContext.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Options tune a Client.
type Options struct {
	// KeepAlive reuses connections between requests (until CloseIdleConnections); without it
	// each request dials anew and its connection closes with the reply.
	KeepAlive bool
	// HeaderTimeout bounds the wait for a reply's header once the request is sent (0: none;
	// the request's context bounds it anyway).
	HeaderTimeout time.Duration
}

// Client GETs one nats-server's monitoring endpoints.
type Client struct {
	addr string
	hc   *http.Client
}

// New returns a client for the monitoring listener at addr (host:port as seen on its host),
// reached through dial.
func New(addr string, dial Dialer, opts Options) *Client {
	tr := &http.Transport{
		Proxy:                 nil, // the address is on the host, never through a proxy
		DialContext:           dial,
		ResponseHeaderTimeout: opts.HeaderTimeout,
		DisableKeepAlives:     !opts.KeepAlive,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Client{addr: addr, hc: &http.Client{Transport: tr}}
}

// Addr is the listener's host:port as seen on its host.
func (c *Client) Addr() string { return c.addr }

// CloseIdleConnections releases connections kept for reuse (SSH channels in production).
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Reply is an endpoint's answer: its status code and body.
type Reply struct {
	Code int
	Body []byte
}

// Get fetches path. Any status is a Reply; the error is a transport failure (without
// net/http's `Get "http://…":` prefix: callers name the request) or a body over MaxReply.
func (c *Client) Get(ctx context.Context, path string) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+path, nil)
	if err != nil {
		return Reply{}, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxReply+1))
	if err != nil {
		return Reply{}, err
	}
	if len(body) > MaxReply {
		return Reply{}, fmt.Errorf("reply larger than %d MiB", MaxReply>>20)
	}
	return Reply{Code: resp.StatusCode, Body: body}, nil
}

// Decode decodes a 200 reply into v. Another status is an error naming it and the body's
// first line.
func (r Reply) Decode(v any) error {
	if r.Code != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", r.Code, FirstLine(r.Body))
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return nil
}

// Healthz reads a /healthz reply of any status; a body that is not JSON becomes its Error.
func (r Reply) Healthz() Healthz {
	h := Healthz{Code: r.Code}
	if err := json.Unmarshal(r.Body, &h); err != nil {
		h.Error = FirstLine(r.Body)
	}
	return h
}

// getJSON fetches path and decodes a 200 reply into v; errors name the request.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	r, err := c.Get(ctx, path)
	if err == nil {
		err = r.Decode(v)
	}
	if err != nil {
		return fmt.Errorf("GET %s%s: %w", c.addr, path, err)
	}
	return nil
}

// Varz fetches /varz.
func (c *Client) Varz(ctx context.Context) (*Varz, error) {
	v := new(Varz)
	return v, c.getJSON(ctx, PathVarz, v)
}

// Jsz fetches /jsz.
func (c *Client) Jsz(ctx context.Context) (*Jsz, error) {
	v := new(Jsz)
	return v, c.getJSON(ctx, PathJsz, v)
}

// Leafz fetches /leafz.
func (c *Client) Leafz(ctx context.Context) (*Leafz, error) {
	v := new(Leafz)
	return v, c.getJSON(ctx, PathLeafz, v)
}

// Routez fetches /routez.
func (c *Client) Routez(ctx context.Context) (*Routez, error) {
	v := new(Routez)
	return v, c.getJSON(ctx, PathRoutez, v)
}

// FirstLine is the first line of a reply body, trimmed and cut at 200 bytes, for messages.
func FirstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
