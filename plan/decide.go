package plan

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// decideNATS decides the action of a host's nats-server: the shared service rules first,
// then reload or restart from what changed in the config (or in the running server).
func decideNATS(inv *inventory.Inventory, h *inventory.Host, n *inventory.NATS, u *Unit, files []DesiredFile, f Facts, opts Options, red *redactor) error {
	decideService(h, u, files, f, red)
	nf := f.NATS
	if nf == nil {
		nf = &NATSFacts{}
	}
	if nf.DesiredError != "" {
		return fmt.Errorf("%s: the host's nats-server rejects the rendered config: %s", h.Name, nf.DesiredError)
	}
	u.DesiredDigest = nf.DesiredDigest
	if h.Hub != nil && u.WasRunning {
		if err := checkHubIdentity(h, n, nf, opts); err != nil {
			return err
		}
	}
	if u.Action == Restart {
		return nil
	}
	var cfg *FileChange
	for i := range u.Files {
		if u.Files[i].Path == n.ConfigFile && u.Files[i].Op != "mode" {
			cfg = &u.Files[i]
		}
	}
	switch {
	case cfg != nil:
		old := f.Files[n.ConfigFile].Content
		if old == nil {
			u.Action = Restart
			u.Reasons = append(u.Reasons, "the current config could not be read to tell a reload from a restart")
			return nil
		}
		ch, err := diffNATSConfig(old, cfg.content, nf.Version)
		if err != nil {
			u.Action = Restart
			u.Reasons = append(u.Reasons, err.Error())
			return nil
		}
		if len(ch.NeedsStop) > 0 {
			u.Action = Restart
			u.Reasons = append(u.Reasons, ch.NeedsStop...)
			return nil
		}
		u.Action = Reload
		if len(ch.Keys) > 0 {
			u.Reasons = append(u.Reasons, "reloadable: "+strings.Join(redactKeys(ch.Keys), ", "))
		} else {
			u.Reasons = append(u.Reasons, "formatting only: same parsed config")
		}
	case nf.RunningDigest != "" && nf.DesiredDigest != "" && nf.RunningDigest != nf.DesiredDigest:
		// The file is in place but the server runs something else: an earlier apply stopped
		// between swap and reload, or someone edited and reloaded by hand.
		if why := liveMismatch(inv, h, n, nf); why != "" {
			u.Action = Restart
			u.Reasons = append(u.Reasons, "the running server differs from its config file: "+why)
		} else {
			u.Action = Reload
			u.Reasons = append(u.Reasons, "the running server does not run its config file (config_digest differs)")
		}
	}
	return nil
}

// redactKeys keeps changed key names readable without hinting at secret values: keys are
// names only, never values, so they are safe; this only shortens account user lists.
func redactKeys(keys []string) []string {
	out := make([]string, 0, len(keys))
	seen := map[string]bool{}
	for _, k := range keys {
		if strings.HasPrefix(k, "accounts.") {
			parts := strings.SplitN(k, ".", 3)
			if len(parts) >= 2 {
				k = parts[0] + "." + parts[1]
			}
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
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
