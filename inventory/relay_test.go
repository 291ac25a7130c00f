package inventory

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestRelay_Rules loads one bad tiered inventory per rule of the leaf graph and checks the
// exact diagnostics, each at the upstream (or domain) that needs fixing.
func TestRelay_Rules(t *testing.T) {
	tests := []struct {
		file string
		want []wantDiag
	}{
		{"cycle", []wantDiag{
			errorAt(21, "Cycle in the leaf graph", "Relay relay-a is its own upstream through relay-a → relay-b → relay-a"),
			errorAt(37, "Leaf does not reach the hub cluster", "Leaf edge-1 dials relay-a, and its chain does not reach the hub cluster: relay relay-a is in a cycle."),
		}},
		{"unknown-upstream", []wantDiag{errorAt(29, "Unknown upstream",
			`Leaf edge-1 has upstream "relay-est", which names no relay, relay hosts block or role. Did you mean "relay-east"?`)}},
		{"not-a-relay", []wantDiag{errorAt(37, "Upstream is not a relay",
			`Leaf edge-2 has upstream "edge-1", which is host edge-1, which is not a relay (roles leaf, wasmcloud).`)}},
		{"selects-none", []wantDiag{errorAt(30, "Upstream selects no relay",
			`no host with the role "relay" has the labels site=west`)}},
		{"unreachable", []wantDiag{
			errorAt(21, "Unknown upstream", `Relay relay-a has upstream "relay-gone", which names no relay`),
			errorAt(29, "Leaf does not reach the hub cluster", `relay relay-a has an upstream that names nothing usable ("relay-gone")`),
		}},
		{"too-deep", []wantDiag{errorAt(53, "Leaf chain too deep", "Leaf edge-1 is 5 leaf hops from the hub cluster, more than 4")}},
		{"relay-hub-domain", []wantDiag{errorAt(22, "Relay domain equals the hub domain",
			`A relay with its own JetStream needs its own domain (e.g. "relay-east")`)}},
		{"relay-clusters", []wantDiag{
			errorAt(21, "Relay cluster named like the hub cluster", `Relay relay-a is in cluster "default", the hub cluster's name.`),
			errorAt(38, "Relay cluster with two upstreams", `Relays relay-b and relay-c are both in cluster "relays" but dial different upstreams ("" and "relay-a")`),
		}},
		{"hub-upstream", []wantDiag{errorAt(9, "upstream on a hub", "only leaves and relays name an upstream")}},
		{"upstream-bad", []wantDiag{
			errorAt(18, "Password in an upstream URL", `"tls://ngs:xxxxx@connect.ngs.global" carries a password`),
			errorAt(18, "Mixed upstream URLs", "all websocket (ws, wss) or none"),
			errorAt(19, "Relative path", `credentials_file "creds/ngs.creds" is a path on the hubs and must be absolute.`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "relay", tt.file+".hcl")
			inv, diags := Load(path, Options{SkipSecrets: true})
			checkDiags(t, path, diags, tt.want...)
			if inv != nil {
				t.Error("Load returned an inventory along with errors")
			}
		})
	}
}

// TestRelay_Tiers resolves every kind of upstream of a valid three-tier inventory.
func TestRelay_Tiers(t *testing.T) {
	path := filepath.Join("..", "examples", "tiered", "inventory.hcl")
	inv, diags := Load(path, Options{SkipSecrets: true})
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", dumpDiags(diags))
	}
	names := func(hs []*Host) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Name)
		}
		return out
	}
	if got := names(inv.Relays()); !slices.Equal(got, []string{"relay-1", "relay-2"}) {
		t.Fatalf("relays = %v", got)
	}
	for _, tc := range []struct {
		host string
		hub  bool
		up   []string
		hops int
	}{
		{"relay-1", true, nil, 1},
		{"relay-2", true, nil, 1},
		{"edge-1", false, []string{"relay-1", "relay-2"}, 2},
		{"edge-4", false, []string{"relay-1", "relay-2"}, 2},
	} {
		h := inv.Host(tc.host)
		u, err := inv.UpstreamOf(h)
		if err != nil {
			t.Fatal(err)
		}
		if u.Hub != tc.hub || !slices.Equal(names(u.Relays), tc.up) {
			t.Errorf("%s: upstream hub=%v relays=%v, want hub=%v relays=%v", tc.host, u.Hub, names(u.Relays), tc.hub, tc.up)
		}
		if got := inv.Hops(h); got != tc.hops {
			t.Errorf("%s: %d hops, want %d", tc.host, got, tc.hops)
		}
	}
	if got := names(inv.Below(inv.Host("relay-1"))); len(got) != 4 {
		t.Errorf("below relay-1: %v, want the 4 edges", got)
	}
	if r := inv.Host("relay-1"); r.Leaf.LeafnodePort != DefaultLeafnodePort || !r.IsRelay() || r.Leaf.ClusterPort != DefaultClusterPort {
		t.Errorf("relay-1: leafnode_port %d, cluster_port %d, relay %v", r.Leaf.LeafnodePort, r.Leaf.ClusterPort, r.IsRelay())
	}
	if got := names(inv.RelayCluster(inv.Host("relay-2"))); !slices.Equal(got, []string{"relay-1", "relay-2"}) {
		t.Errorf("relay cluster of relay-2: %v", got)
	}
	if e := inv.Host("edge-1"); e.Leaf.ClusterName != "" || e.Leaf.ClusterPort != 0 || e.Leaf.LeafnodePort != 0 {
		t.Errorf("edge-1 has hub or relay settings: %+v", e.Leaf)
	}
}

// TestRelay_Selectors resolves a role, a hosts block and a label selector.
func TestRelay_Selectors(t *testing.T) {
	inv := &Inventory{}
	mk := func(name, group string, labels map[string]string, roles ...string) *Host {
		h := &Host{Name: name, Group: group, Labels: labels, Roles: roles, Leaf: &NATS{}}
		inv.Hosts = append(inv.Hosts, h)
		return h
	}
	mk("r-east-1", "relay-east", map[string]string{"site": "east", "zone": "a"}, RoleRelay)
	mk("r-east-2", "relay-east", map[string]string{"site": "east", "zone": "b"}, RoleRelay)
	mk("r-west-1", "relay-west", map[string]string{"site": "west"}, RoleRelay)
	for _, tc := range []struct {
		up   string
		want []string
	}{
		{"relay", []string{"r-east-1", "r-east-2", "r-west-1"}},
		{"relay-east", []string{"r-east-1", "r-east-2"}},
		{"site=east", []string{"r-east-1", "r-east-2"}},
		{"site=east,zone=b", []string{"r-east-2"}},
		{"r-west-1", []string{"r-west-1"}},
	} {
		u, _, problem := inv.resolveUpstream(tc.up)
		var got []string
		for _, r := range u.Relays {
			got = append(got, r.Name)
		}
		if problem != "" || !slices.Equal(got, tc.want) {
			t.Errorf("upstream %q: %v (%s), want %v", tc.up, got, problem, tc.want)
		}
	}
	if _, _, problem := inv.resolveUpstream("site"); problem == "" {
		t.Error(`upstream "site" resolved`)
	}
	if _, _, problem := inv.resolveUpstream("site=,x"); problem == "" {
		t.Error(`upstream "site=,x" resolved`)
	}
}
