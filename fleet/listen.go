package fleet

import (
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/remote"
)

// configMonitorAddr returns where the monitoring listener of the nats-server config holds is
// reached from its own host, or "" when the config sets none or does not parse. The facts read
// /varz at the inventory's address first; a server still running its previous config (a
// changed http_host or http_port not yet applied, or restored by a rollback) answers at the
// address its config file on the host names.
func configMonitorAddr(config []byte) string {
	if len(config) == 0 {
		return ""
	}
	m, err := conf.Parse(string(config))
	if err != nil {
		return ""
	}
	keys := map[string]any{}
	for k, v := range m {
		keys[strings.ToLower(k)] = v
	}
	// The monitoring listener's host defaults to the client listener's, as nats-server does.
	host := "0.0.0.0"
	for _, k := range []string{"host", "net"} {
		if s, ok := keys[k].(string); ok && s != "" {
			host = s
		}
	}
	if s, ok := keys["listen"].(string); ok {
		if h, _, err := net.SplitHostPort(s); err == nil && h != "" {
			host = h
		}
	}
	if s, ok := keys["http_host"].(string); ok && s != "" {
		host = s
	}
	port := 0
	for _, k := range []string{"http_port", "monitor_port"} {
		if p, ok := keys[k].(int64); ok {
			port = int(p)
		}
	}
	switch v := keys["http"].(type) {
	case int64:
		port = int(v)
	case string:
		h, p, err := net.SplitHostPort(v)
		if err != nil {
			return ""
		}
		if h != "" {
			host = h
		}
		if port, err = strconv.Atoi(p); err != nil {
			return ""
		}
	}
	if port <= 0 {
		return ""
	}
	return inventory.LocalAddr(host, port)
}

// readPreviousMonitor reads /varz at the monitoring address of the config file on the host
// when that differs from the inventory's (tried), and returns what it read; failed, when it
// names no other address or that one does not answer either.
func readPreviousMonitor(ctx context.Context, c *remote.Client, h *inventory.Host, config []byte, tried string, failed *monitorFacts) *monitorFacts {
	addr := configMonitorAddr(config)
	if addr == "" || addr == tried {
		return failed
	}
	if m := readMonitor(ctx, c, addr, h.Hub != nil); m.ok {
		return m
	}
	return failed
}
