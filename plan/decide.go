package plan

import (
	"fmt"
	"path"
	"regexp"
	"slices"
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
	if nf.DesiredError != "" && missingInPlace(nf.DesiredError, u) {
		// The config names TLS files this apply creates: its staged copy is checked, and its
		// digest recorded, once they are in place (apply's pre-check).
		return nil
	}
	if nf.DesiredError != "" && !installPending(n, nf) {
		return fmt.Errorf("%s: the host's nats-server rejects the rendered config: %s", h.Name, nf.DesiredError)
	}
	u.DesiredDigest = nf.DesiredDigest
	if h.Hub != nil && u.WasRunning {
		return checkHubIdentity(h, n, u, nf, opts)
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

// checkHubIdentity refuses a change of a running hub's server_name or cluster name when
// JetStream keeps them: the running server has JetStream enabled, or the store directory
// holds JetStream state. NATS maintainers say they must never change once set (nats-server
// PR #7418), so only an explicit node replacement may change them. A server without
// JetStream state (a hand-made config being adopted, often without server_name, running as
// its generated ID) keeps nothing under its name: the change is noted, not refused.
func checkHubIdentity(h *inventory.Host, n *inventory.NATS, u *Unit, nf *NATSFacts, opts Options) error {
	nameChanges := nf.ServerName != "" && nf.ServerName != n.ServerName
	clusterChanges := nf.ClusterName != "" && nf.ClusterName != n.ClusterName
	if slices.Contains(opts.Replace, h.Name) {
		if nameChanges && nf.JetStream {
			// The running server is a member of the meta group under its old name, which
			// the group keeps (counting it in its size and quorum) once the node restarts
			// under the new one.
			u.LeavesMetaGroup = nf.ServerName
			u.Reasons = append(u.Reasons, fmt.Sprintf("server_name %q becomes %q (-replace): once the node runs as %q, "+
				"apply removes %q from the hub cluster's JetStream meta group", nf.ServerName, n.ServerName, n.ServerName, nf.ServerName))
		}
		return nil
	}
	if !nameChanges && !clusterChanges {
		return nil
	}
	if !nf.JetStream && !nf.StoreState {
		if nameChanges {
			u.Reasons = append(u.Reasons, fmt.Sprintf("server_name %q becomes %q: the running server has no JetStream "+
				"state that keeps its name", nf.ServerName, n.ServerName))
		}
		if clusterChanges {
			u.Reasons = append(u.Reasons, fmt.Sprintf("cluster name %q becomes %q: the running server has no JetStream "+
				"state that keeps it", nf.ClusterName, n.ClusterName))
		}
		return nil
	}
	state := "JetStream is enabled on the running server"
	if !nf.JetStream {
		state = fmt.Sprintf("its store directory %s holds JetStream state", path.Join(n.StoreDir, "jetstream"))
	}
	if nameChanges && generatedName(nf.ServerName) {
		return fmt.Errorf("%s: the running server has no server_name of its own (it runs as its generated ID %q) and %s, "+
			"which keeps that name: to keep the state, set server_name = %q for this host; to start the node afresh "+
			"as %q, drain it and re-run with -replace %s", h.Name, nf.ServerName, state, nf.ServerName, n.ServerName, h.Name)
	}
	if nameChanges {
		return fmt.Errorf("%s: server_name would change from %q to %q and %s, which keeps a node's name: this is a "+
			"node replacement: restore server_name = %q, or re-run with -replace %s after draining the node",
			h.Name, nf.ServerName, n.ServerName, state, nf.ServerName, h.Name)
	}
	return fmt.Errorf("%s: the hub cluster name would change from %q to %q and %s, which keeps it: "+
		"restore cluster_name = %q (renaming a JetStream cluster is a migration, not a config change)",
		h.Name, nf.ClusterName, n.ClusterName, state, nf.ClusterName)
}

// generatedName reports whether a server name is the ID a nats-server without server_name
// runs as: "N" and 55 more characters of base32 (A-Z, 2-7).
func generatedName(s string) bool {
	if len(s) != 56 || s[0] != 'N' {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// missingFileRE is how nats-server -t reports a file its config names that does not exist;
// checkErrRE starts each of the problems it reports (file:line:col).
var (
	missingFileRE = regexp.MustCompile(`open (\S+?): no such file or directory`)
	checkErrRE    = regexp.MustCompile(`\S+:\d+:\d+: `)
)

// missingInPlace reports whether every problem nats-server -t found with the desired config is
// a file the unit creates in place (FileChange.InPlace): its TLS files, not there before apply.
func missingInPlace(checkErr string, u *Unit) bool {
	inPlace := map[string]bool{}
	for _, fc := range u.Files {
		if fc.InPlace {
			inPlace[fc.Path] = true
		}
	}
	starts := checkErrRE.FindAllStringIndex(checkErr, -1)
	if len(inPlace) == 0 || len(starts) == 0 {
		return false
	}
	for i, st := range starts {
		end := len(checkErr)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		m := missingFileRE.FindStringSubmatch(checkErr[st[1]:end])
		if m == nil || !inPlace[m[1]] {
			return false
		}
	}
	return true
}
