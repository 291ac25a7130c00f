package verify

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// Check names of the lattice's TLS (inventory with a tls block).
const (
	CheckHubTLS       = "hub.tls"        // client, route (mutual) and leafnode ports require TLS; certificates not expiring
	CheckLeafTLS      = "leaf.tls"       // the leaf's link ends on a hub or relay of its upstream whose leafnode port requires TLS
	CheckLeafRelayTLS = "leaf.relay-tls" // a relay's leafnode and (in a relay cluster) route (mutual) ports require TLS; certificates not expiring
)

// hubTLSOption makes a NATS client connection to hub h speak TLS and verify h's certificate
// against the fleet CA (by h's name, which its certificate carries: the connection arrives
// through SSH at a loopback address). Nil without TLS.
func hubTLSOption(inv *inventory.Inventory, h *inventory.Host) nats.Option {
	t := inv.Lattice.TLS
	if t == nil || h.Hub == nil {
		return nil
	}
	return nats.Secure(&tls.Config{RootCAs: t.Pool(), ServerName: h.Name, MinVersion: tls.VersionTLS12})
}

// withHubTLS appends hubTLSOption to opts when it applies.
func withHubTLS(inv *inventory.Inventory, h *inventory.Host, opts []nats.Option) []nats.Option {
	if o := hubTLSOption(inv, h); o != nil {
		return append(opts, o)
	}
	return opts
}

// checkHubTLS: the hub's /varz says its cluster port requires TLS and verifies peers (mutual
// TLS), its leafnode and client ports require TLS (a hub with a wasmCloud host on its machine
// also takes plaintext clients: its certificate is still reported), and no certificate
// expires within CertWarnBefore (a warning) or has expired (a failure). /varz reports cluster
// TLS as the server started: after a reload turned it on, the routes made before still run
// plaintext and /varz still says tls_required false, so this fails until the hub restarts.
func (r *round) checkHubTLS(ctx context.Context, h *inventory.Host) Result {
	v, err := r.varzOf(ctx, h)
	if err != nil {
		return fail(CheckHubTLS, h.Name, err.Error(), fixMonitor(h))
	}
	if r.inv.Lattice.TLS.RoutesOnly {
		return r.routesOnly(h, v)
	}
	var missing []string
	if !v.Cluster.TLSRequired || !v.Cluster.TLSVerify {
		missing = append(missing, fmt.Sprintf("cluster port (tls_required %v, tls_verify %v)", v.Cluster.TLSRequired, v.Cluster.TLSVerify))
	}
	if !v.Leaf.TLSRequired {
		missing = append(missing, "leafnode port (tls_required false)")
	}
	if v.TLSCertNotAfter.IsZero() {
		missing = append(missing, "client port (no certificate)")
	}
	if len(missing) > 0 {
		return fail(CheckHubTLS, h.Name, "plaintext: "+strings.Join(missing, ", "),
			"run plan and apply; a running plaintext hub cluster moves in steps (README, TLS: moving a running fleet)")
	}
	return r.expiry(CheckHubTLS, h.Name, "cluster (mutual), leafnode and client ports require TLS", map[string]time.Time{
		"client": v.TLSCertNotAfter, "cluster": v.Cluster.TLSCertNotAfter, "leafnode": v.Leaf.TLSCertNotAfter,
	})
}

// expiry judges certificate ends: the earliest one decides.
func (r *round) expiry(check, host, ev string, ends map[string]time.Time) Result {
	var first time.Time
	var which string
	for k, t := range ends {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first, which = t, k
		}
	}
	now := r.now()
	ev = fmt.Sprintf("%s; certificate valid until %s", ev, first.UTC().Format(time.RFC3339))
	fix := "run plan and apply: a managed certificate is issued again each third of its validity; an operator-supplied one must be replaced in cert_file"
	switch left := first.Sub(now); {
	case left <= 0:
		return fail(check, host, fmt.Sprintf("%s: the %s certificate has EXPIRED", ev, which), fix)
	case left < r.warnBefore():
		res := pass(check, host, fmt.Sprintf("%s: the %s certificate expires in %d days", ev, which, int(left.Hours()/24)))
		res.Warning, res.Fix = true, fix
		return res
	}
	return pass(check, host, ev)
}

// warnBefore is how close to its end a certificate is a warning: the inventory's renewal
// window (tls renew_before), within which plan renews a managed certificate, else 30 days.
func (r *round) warnBefore() time.Duration {
	if r.inv != nil && r.inv.Lattice.TLS != nil && r.inv.Lattice.TLS.RenewBefore > 0 {
		return r.inv.Lattice.TLS.RenewBefore
	}
	return inventory.CertWarnBefore
}

func (r *round) now() time.Time {
	if r.opts.Now != nil {
		return r.opts.Now()
	}
	return time.Now()
}

// checkLeafTLS: the server the leaf's link ends on (the leaf's /leafz), a hub or a relay of the
// leaf's upstream, requires TLS on its leafnode port, so the link is TLS, and the leaf verified
// that server's certificate (its remote has the fleet CA and no insecure setting).
func (r *round) checkLeafTLS(ctx context.Context, leaf *inventory.Host) Result {
	if r.inv.Lattice.TLS.RoutesOnly {
		res := pass(CheckLeafTLS, leaf.Name, "the leaf link stays plaintext while the tls block says links = \"routes\"")
		res.Warning, res.Fix = true, `remove links = "routes" from the tls block and apply (README, TLS)`
		return res
	}
	m, err := r.monitor(leaf)
	var lz *natsmon.Leafz
	if err == nil {
		lz, err = m.leafz(ctx)
	}
	if err != nil {
		return fail(CheckLeafTLS, leaf.Name, err.Error(), fixMonitor(leaf))
	}
	var ev []string
	for _, l := range lz.Leafs {
		if !l.IsSpoke {
			continue
		}
		up, what := r.upstreamByServerName(leaf, l.Name)
		if up == nil {
			return fail(CheckLeafTLS, leaf.Name, fmt.Sprintf("linked to %s, not %s", l.Name, what), fixLeafLink(leaf))
		}
		v, err := r.varzOf(ctx, up)
		if err != nil {
			return fail(CheckLeafTLS, leaf.Name, fmt.Sprintf("linked to %s: %v", up.Name, err), fixMonitor(up))
		}
		if !v.Leaf.TLSRequired {
			return fail(CheckLeafTLS, leaf.Name, fmt.Sprintf("linked to %s, whose leafnode port does not require TLS: the link is plaintext", up.Name),
				"run plan and apply: the inventory's tls block puts TLS on every leafnode listener")
		}
		ev = append(ev, fmt.Sprintf("linked to %s, whose leafnode port requires TLS (certificate until %s)", up.Name, v.Leaf.TLSCertNotAfter.UTC().Format(time.RFC3339)))
	}
	if len(ev) == 0 {
		return fail(CheckLeafTLS, leaf.Name, "no leaf remote connected (/leafz lists no hub or relay)", fixLeafLink(leaf))
	}
	return pass(CheckLeafTLS, leaf.Name, strings.Join(ev, "; "))
}

// upstreamByServerName maps the server_name a leaf's link ends on to the hub or relay of the
// leaf's upstream that runs it; else nil and what it should have been, for the evidence.
func (r *round) upstreamByServerName(leaf *inventory.Host, name string) (*inventory.Host, string) {
	u, ok := r.behindRelays(leaf)
	if !ok {
		return r.hubByServerName(name), "a hub of the inventory"
	}
	for _, relay := range u.Relays {
		if relay.Leaf.ServerName == name {
			return relay, ""
		}
	}
	return nil, fmt.Sprintf("a relay of its upstream %q (%s)", leaf.Leaf.Upstream, strings.Join(u.Names(r.inv), ", "))
}

// checkRelayTLS: the relay's /varz says its leafnode port requires TLS and, in a relay cluster,
// its cluster port requires TLS and verifies peers (mutual TLS), like a hub's; no certificate
// expires within CertWarnBefore (a warning) or has expired (a failure). Its client port serves
// local clients, as a leaf's does, and stays plaintext. Under links = "routes" only a relay
// cluster's routes take TLS, by reload: /varz reports it once the relay restarts (a warning
// until then, like a hub's).
func (r *round) checkRelayTLS(ctx context.Context, relay *inventory.Host) Result {
	v, err := r.varzOf(ctx, relay)
	if err != nil {
		return fail(CheckLeafRelayTLS, relay.Name, err.Error(), fixMonitor(relay))
	}
	clustered := len(r.inv.RelayCluster(relay)) > 0
	if r.inv.Lattice.TLS.RoutesOnly {
		next := `the next step: remove links = "routes" from the tls block and apply (README, TLS)`
		var res Result
		switch {
		case !clustered:
			res = pass(CheckLeafRelayTLS, relay.Name, "the relay's leaf links stay plaintext while the tls block says links = \"routes\"")
		case !v.Cluster.TLSRequired:
			res = pass(CheckLeafRelayTLS, relay.Name, "route TLS configured by reload: the routes made before run plaintext until this relay restarts (links = \"routes\")")
		default:
			res = r.expiry(CheckLeafRelayTLS, relay.Name, "cluster port (mutual) requires TLS; the leafnode port does not yet (links = \"routes\")",
				map[string]time.Time{"cluster": v.Cluster.TLSCertNotAfter})
			if !res.OK || res.Warning {
				return res
			}
		}
		res.Warning, res.Fix = true, next
		return res
	}
	var missing []string
	if clustered && (!v.Cluster.TLSRequired || !v.Cluster.TLSVerify) {
		missing = append(missing, fmt.Sprintf("cluster port (tls_required %v, tls_verify %v)", v.Cluster.TLSRequired, v.Cluster.TLSVerify))
	}
	if !v.Leaf.TLSRequired {
		missing = append(missing, "leafnode port (tls_required false)")
	}
	if len(missing) > 0 {
		return fail(CheckLeafRelayTLS, relay.Name, "plaintext: "+strings.Join(missing, ", "),
			"run plan and apply; a running plaintext fleet moves in steps (README, TLS: moving a running fleet)")
	}
	ev, ends := "leafnode port requires TLS", map[string]time.Time{"leafnode": v.Leaf.TLSCertNotAfter}
	if clustered {
		ev, ends["cluster"] = "cluster (mutual) and leafnode ports require TLS", v.Cluster.TLSCertNotAfter
	}
	return r.expiry(CheckLeafRelayTLS, relay.Name, ev, ends)
}

// routeTLSConfig is how a check speaks to hub h's cluster port: mutual TLS with the fleet CA
// (nil without TLS).
func (r *round) routeTLSConfig(h *inventory.Host) (*tls.Config, error) {
	t := r.inv.Lattice.TLS
	if t == nil {
		return nil, nil
	}
	certs, err := t.ClientCertificates(h)
	if err != nil {
		return nil, fmt.Errorf("a client certificate for %s's cluster port: %w", h.Name, err)
	}
	return &tls.Config{RootCAs: t.Pool(), ServerName: h.Name, Certificates: certs, MinVersion: tls.VersionTLS12}, nil
}

// routesOnly judges a hub under links = "routes", the first step of a move to TLS: its client
// port must have its certificate; its routes take TLS by reload, which /varz reports only once
// the hub restarts (routes made before the reload run plaintext until then): a warning.
func (r *round) routesOnly(h *inventory.Host, v *natsmon.Varz) Result {
	next := `the next step: remove links = "routes" from the tls block and apply one hub at a time (README, TLS)`
	if v.TLSCertNotAfter.IsZero() {
		return fail(CheckHubTLS, h.Name, "plaintext: client port (no certificate)", "run plan and apply: links = \"routes\" puts TLS on every hub's routes and client port, applied by reload")
	}
	if !v.Cluster.TLSRequired {
		res := pass(CheckHubTLS, h.Name, "client port requires TLS; route TLS configured by reload: the routes made before run plaintext until this hub restarts (links = \"routes\")")
		res.Warning, res.Fix = true, next
		return res
	}
	res := r.expiry(CheckHubTLS, h.Name, "cluster (mutual) and client ports require TLS; the leafnode port does not yet (links = \"routes\")", map[string]time.Time{
		"client": v.TLSCertNotAfter, "cluster": v.Cluster.TLSCertNotAfter,
	})
	if res.OK && !res.Warning {
		res.Warning, res.Fix = true, next
	}
	return res
}
