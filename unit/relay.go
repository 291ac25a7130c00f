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
func upstreamListeners(inv *inventory.Inventory, h *inventory.Host) ([]string, string, error) {
	u, err := inv.UpstreamOf(h)
	if err != nil {
		return nil, "", err
	}
	var out []string
	if u.Hub {
		hubs := inv.Hubs()
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
// below log in as user "leaf" with passwords.leaf, bound to $G.
func relayListener(w *confWriter, n *inventory.NATS, password string) {
	w.line("# Leaves below this relay dial here, as user " + UserLeaf + " (passwords.leaf), bound to $G.")
	w.kv("listen", quote(hostPort(anyAddress, n.LeafnodePort)))
	w.open("authorization {")
	w.kv("user", quote(UserLeaf))
	w.kv("password", quote(password))
	w.close("}")
}

// relayLinks draws the leaf links of h to every relay of its upstream, one tier down the
// graph from them.
func relayLinks(p func(string, ...any), h *inventory.Host, u inventory.Upstream) {
	for _, r := range u.Relays {
		p("  %s -> %s [label=\"leaf link\", color=\"#188038\"];\n", dotQuote(natsNode(h)), dotQuote(natsNode(r)))
	}
}
