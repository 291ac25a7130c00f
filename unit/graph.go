package unit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// Graph renders inv's topology as Graphviz DOT: the hub cluster (its nodes, routes and the
// domain it homes), every other machine with its leaf node and wasmCloud host, the leaf
// links into the hub cluster and each wasmCloud host's NATS connection. The output is
// deterministic and holds no secrets.
func Graph(inv *inventory.Inventory) []byte {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	l := inv.Lattice

	p("digraph lattice {\n")
	p("  graph [rankdir=LR, compound=true, fontname=\"Helvetica\", labelloc=t, label=%s];\n",
		dotQuote(fmt.Sprintf("lattice %s · JetStream domain %s", l.Name, l.JSDomain)))
	p("  node [fontname=\"Helvetica\", fontsize=11, shape=box, style=\"rounded,filled\", fillcolor=white];\n")
	p("  edge [fontname=\"Helvetica\", fontsize=9];\n")

	hubs := inv.Hubs()
	if len(hubs) > 0 {
		n0 := hubs[0].Hub
		p("\n  subgraph cluster_hub {\n")
		p("    label=%s;\n", dotQuote(fmt.Sprintf("hub cluster %s\nhomes domain %s", n0.ClusterName, l.JSDomain)))
		p("    style=\"rounded,filled\"; fillcolor=\"#e8f0fe\";\n")
		for _, h := range hubs {
			label := fmt.Sprintf("%s\n%s\nnats-server · JetStream", h.Name, h.Address)
			if h.Wasmcloud != nil {
				label += "\n+ wasmCloud host"
			}
			p("    %s [label=%s, fillcolor=\"#c6dafc\"];\n", dotQuote(natsNode(h)), dotQuote(label))
		}
		for i := range hubs {
			for j := i + 1; j < len(hubs); j++ {
				p("    %s -> %s [dir=none, style=dashed, color=\"#5f6368\"];\n",
					dotQuote(natsNode(hubs[i])), dotQuote(natsNode(hubs[j])))
			}
		}
		p("  }\n")
		upstreamNode(p, inv, hubs)
	}

	// Hosts a hosts block generated are drawn inside one box per block.
	var groups []string
	members := map[string][]*inventory.Host{}
	for _, h := range inv.Hosts {
		if h.Hub != nil {
			continue
		}
		if h.Group == "" {
			machine(p, h, "  ")
			continue
		}
		if members[h.Group] == nil {
			groups = append(groups, h.Group)
		}
		members[h.Group] = append(members[h.Group], h)
	}
	for _, g := range groups {
		hs := members[g]
		p("\n  subgraph %s {\n", dotQuote("cluster_group_"+g))
		p("    label=%s; style=\"rounded,dashed\"; color=\"#5f6368\";\n",
			dotQuote(fmt.Sprintf("hosts %q · %d generated", g, len(hs))))
		for _, h := range hs {
			machine(p, h, "    ")
		}
		p("  }\n")
	}

	p("\n")
	for _, h := range inv.Hosts {
		if u, err := inv.UpstreamOf(h); err == nil && !u.Hub {
			relayLinks(p, h, u)
		} else if h.Leaf != nil && len(hubs) > 0 {
			// One edge into the hub cluster box stands for the remote listing every hub.
			p("  %s -> %s [lhead=cluster_hub, label=\"leaf link\", color=\"#188038\"];\n",
				dotQuote(natsNode(h)), dotQuote(natsNode(hubs[len(hubs)/2])))
		}
		if h.Wasmcloud != nil && h.NATS() != nil && h.Hub == nil {
			p("  %s -> %s [label=%s, color=\"#8430ce\"];\n", dotQuote(wasmcloudNode(h)), dotQuote(natsNode(h)),
				dotQuote("client · domain "+l.JSDomain))
		}
	}
	p("}\n")
	return []byte(b.String())
}

func natsNode(h *inventory.Host) string      { return "nats:" + h.Name }
func wasmcloudNode(h *inventory.Host) string { return "wasmcloud:" + h.Name }

func wasmcloudLabel(h *inventory.Host) string {
	label := "wasmCloud host"
	keys := make([]string, 0, len(h.Wasmcloud.Labels))
	for k := range h.Wasmcloud.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		label += "\n" + k + "=" + h.Wasmcloud.Labels[k]
	}
	return label
}

// dotQuote renders s as a DOT double-quoted string; newlines become centred line breaks.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}

// machine draws one non-hub host: a box holding its leaf node and wasmCloud host.
func machine(p func(string, ...any), h *inventory.Host, indent string) {
	p("\n%ssubgraph %s {\n", indent, dotQuote("cluster_host_"+h.Name))
	p("%s  label=%s; style=rounded; color=\"#9aa0a6\";\n", indent, dotQuote(h.Name+"\n"+h.Address))
	if n := h.Leaf; n != nil {
		label := "leaf node\n" + hostPort(n.ClientHost, n.ClientPort)
		fill := "#e6f4ea"
		if h.IsRelay() {
			label = fmt.Sprintf("relay\n%s\nleafnode :%d", hostPort(n.ClientHost, n.ClientPort), n.LeafnodePort)
			fill = "#fce8b2"
		}
		if n.JetStreamDomain != "" {
			label += "\nown JetStream domain " + n.JetStreamDomain
			fill = "#fef7e0"
		}
		p("%s  %s [label=%s, fillcolor=%s];\n", indent, dotQuote(natsNode(h)), dotQuote(label), dotQuote(fill))
	}
	if h.Wasmcloud != nil {
		p("%s  %s [label=%s, fillcolor=\"#f3e8fd\"];\n", indent, dotQuote(wasmcloudNode(h)), dotQuote(wasmcloudLabel(h)))
	}
	p("%s}\n", indent)
}
