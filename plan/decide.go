package plan

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// checkNATS refuses what must not happen to a host's nats-server whatever the change: a
// desired config the host's own nats-server rejects, a hub identity change. It records the
// desired config's digest, which reload and restart are confirmed against.
func checkNATS(h *inventory.Host, n *inventory.NATS, u *Unit, f Facts, opts Options) error {
	nf := f.NATS
	if nf == nil {
		nf = &NATSFacts{}
	}
	if nf.DesiredError != "" {
		return fmt.Errorf("%s: the host's nats-server rejects the rendered config: %s", h.Name, nf.DesiredError)
	}
	u.DesiredDigest = nf.DesiredDigest
	if h.Hub != nil && u.WasRunning {
		return checkHubIdentity(h, n, nf, opts)
	}
	return nil
}

// decideNATS decides, for a running nats-server whose files are in place, from what the
// server says: when it does not run its config file (an earlier apply stopped between swap
// and reload, or someone edited and reloaded by hand), a reload or a restart is due.
func decideNATS(inv *inventory.Inventory, h *inventory.Host, n *inventory.NATS, u *Unit, f Facts) {
	nf := f.NATS
	if nf == nil || nf.RunningDigest == "" || nf.DesiredDigest == "" || nf.RunningDigest == nf.DesiredDigest {
		return
	}
	for _, fc := range u.Files {
		if fc.Path == n.ConfigFile && fc.Op != "mode" {
			return // the config itself changes: its kind classified it
		}
	}
	if why := liveMismatch(inv, h, n, nf); why != "" {
		u.Action = Restart
		u.Reasons = append(u.Reasons, "the running server differs from its config file: "+why)
	} else {
		u.Action = Reload
		u.Reasons = append(u.Reasons, "the running server does not run its config file (config_digest differs)")
	}
}

// liveMismatch names what the running server has that only a restart changes.
func liveMismatch(inv *inventory.Inventory, h *inventory.Host, n *inventory.NATS, nf *NATSFacts) string {
	var why []string
	if nf.ServerName != "" && nf.ServerName != n.ServerName {
		why = append(why, fmt.Sprintf("server_name %q, want %q", nf.ServerName, n.ServerName))
	}
	want := n.JetStreamDomain
	if h.Hub != nil {
		want = inv.Lattice.JSDomain
	}
	if nf.Domain != want {
		why = append(why, fmt.Sprintf("JetStream domain %q, want %q", nf.Domain, want))
	}
	ports := []struct {
		name       string
		have, want int
	}{
		{"client port", nf.ClientPort, n.ClientPort},
		{"monitoring port", nf.HTTPPort, n.HTTPPort},
		{"cluster port", nf.ClusterPort, n.ClusterPort},
		{"leafnode port", nf.LeafnodePort, n.LeafnodePort},
	}
	for _, p := range ports {
		if p.have != 0 && p.want != 0 && p.have != p.want {
			why = append(why, fmt.Sprintf("%s %d, want %d", p.name, p.have, p.want))
		}
	}
	return strings.Join(why, "; ")
}

// checkHubIdentity refuses a change of a running hub's server_name or cluster name: JetStream
// keeps both and NATS maintainers say they must never change once set (nats-server PR #7418),
// so only an explicit node replacement may change them.
func checkHubIdentity(h *inventory.Host, n *inventory.NATS, nf *NATSFacts, opts Options) error {
	for _, r := range opts.Replace {
		if r == h.Name {
			return nil
		}
	}
	if nf.ServerName != "" && nf.ServerName != n.ServerName {
		return fmt.Errorf("%s: server_name would change from %q to %q; JetStream keeps a node's name in its "+
			"state, so this is a node replacement: restore server_name = %q, or re-run with -replace %s "+
			"after draining the node", h.Name, nf.ServerName, n.ServerName, nf.ServerName, h.Name)
	}
	if nf.ClusterName != "" && nf.ClusterName != n.ClusterName {
		return fmt.Errorf("%s: the hub cluster name would change from %q to %q; JetStream keeps it in its "+
			"state: restore cluster_name = %q (renaming a JetStream cluster is a migration, not a config change)",
			h.Name, nf.ClusterName, n.ClusterName, nf.ClusterName)
	}
	return nil
}
