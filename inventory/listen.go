package inventory

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// LocalHost is the address that reaches a listener bound to listen from the machine it runs
// on: an IPv4 wildcard ("" or 0.0.0.0) on 127.0.0.1, the IPv6 wildcard (:: or [::]) on ::1,
// which answers whatever the host's bindv6only setting, and any other host as itself (without
// brackets).
func LocalHost(listen string) string {
	h := strings.TrimSuffix(strings.TrimPrefix(listen, "["), "]")
	if h == "" {
		return "127.0.0.1"
	}
	if a, err := netip.ParseAddr(h); err == nil && a.IsUnspecified() {
		if a.Is4() {
			return "127.0.0.1"
		}
		return "::1"
	}
	return h
}

// LocalAddr is LocalHost(listen) and port as host:port (IPv6 in brackets).
func LocalAddr(listen string, port int) string {
	return net.JoinHostPort(LocalHost(listen), strconv.Itoa(port))
}

// LocalClientAddr is where the server's client port is reached from its own host.
func (n *NATS) LocalClientAddr() string { return LocalAddr(n.ClientHost, n.ClientPort) }

// LocalMonitorAddr is where the server's monitoring port is reached from its own host.
func (n *NATS) LocalMonitorAddr() string { return LocalAddr(n.HTTPHost, n.HTTPPort) }
