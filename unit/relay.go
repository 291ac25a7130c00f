package unit

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// A relay's config is a leaf's (local clients in $G, one remote) plus a leafnode listener for
// the tier below. The leaves below authenticate as user "leaf" with passwords.leaf, the same
// credentials every leaf presents to the hubs; having no accounts block, the relay binds them
// to $G, which its own remote binds to LATTICE on the hubs (or to $G on the relay above, and
// so on up). So one account spans the chain: a leaf's `$JS.<domain>.API.>` request crosses
// every hop to the hubs, while plain `$JS.API.>` stays denied at each leaf link.

// upstreamListeners returns the "host:port" leafnode listeners leaf or relay h dials, and
// what they are, for the config's comment: every hub, or every relay its upstream names.
// hubs is inv.Hubs().
func upstreamListeners(inv *inventory.Inventory, h *inventory.Host, hubs []*inventory.Host) ([]string, string, error) {
	u, err := inv.UpstreamOf(h)
	if err != nil {
		return nil, "", err
	}
	var out []string
	if u.Hub {
		if len(hubs) == 0 {
			return nil, "", fmt.Errorf("a leaf needs at least one hub to connect to")
		}
		for _, hub := range hubs {
			out = append(out, hostPort(hub.Address, hub.Hub.LeafnodePort))
		}
		return out, "Every hub: a leaf that knows one URL never finds the others if that one is down.", nil
	}
	var names []string
	for _, r := range u.Relays {
		out = append(out, hostPort(r.Address, r.Leaf.LeafnodePort))
		names = append(names, r.Name)
	}
	return out, fmt.Sprintf("Every relay of upstream %q (%s): when one stops, the link moves to another.",
		h.Leaf.Upstream, strings.Join(names, ", ")), nil
}

// relayListener writes a relay's leafnode listener, inside its leafnodes block: the leaves
// below log in as user "leaf" with passwords.leaf, bound to $G. With a tls block the listener
// then requires TLS with the relay's own certificate (leafListenTLS), as a hub's does.
func relayListener(w *confWriter, n *inventory.NATS, users ...relayUser) {
	w.line("# Leaves below this relay dial here, as user " + users[0].name + " (passwords.leaf), bound to $G.")
	w.kv("listen", quote(hostPort(anyAddress, n.LeafnodePort)))
	w.open("authorization {")
	if len(users) == 1 {
		w.kv("user", quote(users[0].name))
		w.kv("password", quote(users[0].password))
	} else {
		// A leaf password rotation: the retiring user stays accepted until nothing logs in
		// with it (a change of these users takes a restart: nats-server does not reload them).
		w.open("users: [")
		for _, u := range users {
			w.line("{user: " + quote(u.name) + ", password: " + quote(u.password) + "}")
		}
		w.close("]")
	}
	w.close("}")
}

// relayUser is a user of a relay's leafnode listener.
type relayUser struct{ name, password string }

// relayLinks draws the leaf links of h to every relay of its upstream, one tier down the
// graph from them.
func relayLinks(p func(string, ...any), h *inventory.Host, u inventory.Upstream) {
	for _, r := range u.Relays {
		p("  %s -> %s [label=\"leaf link\", color=\"#188038\"];\n", dotQuote(natsNode(h)), dotQuote(natsNode(r)))
	}
}

// upstreamRemote writes, in a hub's leafnodes block, the remote to the NATS system above the
// hubs (`upstream {}`), binding the lattice account: the lattice's subjects reach that system,
// while JetStream stays the hubs' own (their domain differs from any the upstream runs, so
// nats-server denies plain $JS.API across the link).
func upstreamRemote(w *confWriter, u *inventory.UpstreamSystem) {
	if u == nil {
		return
	}
	w.line("# The NATS system above the hubs (upstream): every hub dials it, as a leaf.")
	w.open("remotes: [")
	w.open("{")
	w.open("urls: [")
	for _, s := range u.URLs {
		w.line(quote(s))
	}
	w.close("]")
	w.kv("account", quote(AccountLattice))
	if u.CredentialsFile != "" {
		w.kv("credentials", quote(u.CredentialsFile))
	}
	w.close("}")
	w.close("]")
}

// upstreamNode draws the NATS system above the hubs, with one edge from the hub cluster box
// standing for every hub's remote to it.
func upstreamNode(p func(string, ...any), inv *inventory.Inventory, hubs []*inventory.Host) {
	u := inv.UpstreamSystem
	if u == nil || len(hubs) == 0 {
		return
	}
	p("\n  %s [label=%s, shape=box3d, fillcolor=\"#fce8e6\"];\n", dotQuote("upstream"),
		dotQuote("NATS system above the hubs\n"+strings.Join(u.URLs, "\n")))
	p("  %s -> %s [ltail=cluster_hub, label=\"leaf link (every hub)\", color=\"#188038\"];\n",
		dotQuote(natsNode(hubs[len(hubs)/2])), dotQuote("upstream"))
}

// relayCluster writes, for a relay in a relay cluster (cluster_name), the cluster block that
// routes it to the other relays of the cluster, authenticated like the hubs' routes
// (passwords.route, unless route_auth = false) and, with a tls block, mutual TLS like them. The
// relays of a cluster are leaves of the same upstream; routed, leaves below different relays of
// it reach each other without a detour through the tier above.
func (r *Context) relayCluster(w *confWriter, n *inventory.NATS, tf *tlsFiles) error {
	members := r.Inv.RelayCluster(r.Host)
	if len(members) == 0 {
		return nil
	}
	w.line("")
	w.line("# Relay cluster " + quote(n.ClusterName) + ": routes to every relay of it.")
	peers := make([]routePeer, 0, len(members))
	for _, m := range members {
		peers = append(peers, routePeer{m.Name, hostPort(m.Address, m.Leaf.ClusterPort)})
	}
	return r.clusterBlock(w, n, tf, peers)
}
