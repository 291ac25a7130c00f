package verify

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// routeInfo is what checkRouteAuth reads of the INFO a nats-server sends first on its cluster
// port.
type routeInfo struct {
	ServerName   string `json:"name"`
	Cluster      string `json:"cluster"`
	AuthRequired bool   `json:"auth_required"`
}

// checkRouteAuth: the node's cluster port requires the route credentials (route_auth), so a
// server without them cannot join the hub cluster. /varz has no field for it; the INFO a
// nats-server sends to whatever connects to its cluster port says so (auth_required), as the
// running server sees it: a reload that turns route authorization on or off updates it. The
// check reads that line and hangs up before sending anything (the server logs a route
// connection created and closed). With route_auth = false it passes with a warning.
func (r *round) checkRouteAuth(ctx context.Context, h *inventory.Host) Result {
	dial, err := r.dialer(h)
	if err != nil {
		return fail(CheckHubRouteAuth, h.Name, err.Error(), fixUnreachable(h))
	}
	addr := inventory.LocalAddr("0.0.0.0", h.Hub.ClusterPort)
	tc, err := r.routeTLSConfig(h)
	if err != nil {
		return fail(CheckHubRouteAuth, h.Name, err.Error(), "run `latticepush secrets` for the fleet CA, or fix the tls block")
	}
	info, err := readRouteInfo(ctx, dial, addr, r.opts.Timeout, tc)
	if err != nil {
		return fail(CheckHubRouteAuth, h.Name, fmt.Sprintf("cluster port %s: %v", addr, err),
			fmt.Sprintf("check that nats-server runs on %s with its cluster listener on port %d", h.Name, h.Hub.ClusterPort))
	}
	switch {
	case r.inv.Lattice.RouteAuth && !info.AuthRequired:
		return fail(CheckHubRouteAuth, h.Name,
			fmt.Sprintf("cluster port %s does not require route credentials (INFO auth_required false): any server that reaches it can join the cluster", addr),
			"run plan and apply: the hub config's cluster block gets authorization (passwords.route), applied by reload")
	case !r.inv.Lattice.RouteAuth && !info.AuthRequired:
		res := pass(CheckHubRouteAuth, h.Name,
			fmt.Sprintf("cluster port %s accepts routes without credentials (route_auth = false)", addr))
		res.Warning = true
		res.Fix = "any server that reaches the cluster port can join the hub cluster: remove route_auth = false from the lattice block, run `latticepush secrets`, then plan and apply"
		return res
	case !r.inv.Lattice.RouteAuth && info.AuthRequired:
		return fail(CheckHubRouteAuth, h.Name,
			fmt.Sprintf("cluster port %s requires route credentials, but the inventory says route_auth = false", addr),
			"run plan and apply to render the inventory's cluster block, or remove route_auth = false")
	}
	return pass(CheckHubRouteAuth, h.Name, fmt.Sprintf("cluster port %s requires route credentials (INFO auth_required true)", addr))
}

// readRouteInfo connects to a cluster port, reads the server's first line, "INFO {...}", and
// closes the connection without a CONNECT. With tc, the route port is TLS first: the
// handshake (mutual, verifying the hub's certificate) comes before the INFO.
func readRouteInfo(ctx context.Context, dial Dialer, addr string, timeout time.Duration, tc *tls.Config) (routeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return routeInfo{}, timedOut(err, timeout)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			conn.Close() // a forwarded connection may ignore deadlines
		case <-done:
		}
	}()
	if tc != nil {
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return routeInfo{}, fmt.Errorf("TLS handshake: %w", timedOut(err, timeout))
		}
		conn = tconn
	}
	// At most 64 KiB: an INFO line is far shorter, and whatever answers is not trusted.
	b, err := bufio.NewReaderSize(conn, 64<<10).ReadSlice('\n')
	if err != nil {
		return routeInfo{}, fmt.Errorf("no INFO line: %w", timedOut(err, timeout))
	}
	line := string(b)
	body, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "INFO ")
	if !ok {
		return routeInfo{}, fmt.Errorf("first line is not INFO: %.40q", line)
	}
	var info routeInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		return routeInfo{}, fmt.Errorf("INFO: %w", err)
	}
	return info, nil
}
