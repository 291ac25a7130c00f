package verify

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// checkHealthz: the node's default /healthz is 200 (listeners up, meta leader known, its
// streams current). It says nothing about leaf links: it stays 200 while one is down.
func (r *round) checkHealthz(ctx context.Context, h *inventory.Host) Result {
	m, err := r.monitor(h)
	if err != nil {
		return fail(CheckHubHealthz, h.Name, err.Error(), fixUnreachable(h))
	}
	hz, err := m.healthz(ctx)
	if err != nil {
		return fail(CheckHubHealthz, h.Name, err.Error(), fixMonitor(h))
	}
	if hz.Code != http.StatusOK {
		return fail(CheckHubHealthz, h.Name,
			fmt.Sprintf("/healthz %d %s: %s", hz.Code, hz.Status, hz.Error),
			fmt.Sprintf("read the nats-server log on %s; a node needs a meta leader and current streams to be healthy", h.Name))
	}
	ev := "/healthz 200 ok"
	if v, err := m.varz(ctx); err == nil {
		ev += fmt.Sprintf(" (server %s, nats-server %s)", v.ServerName, v.Version)
	}
	return pass(CheckHubHealthz, h.Name, ev)
}

// checkDomain: the node's /varz JetStream domain is the lattice's. A node restarted alone with
// another domain leaves /healthz at 200 everywhere while the cluster is split.
func (r *round) checkDomain(ctx context.Context, h *inventory.Host) Result {
	want := r.inv.Lattice.JSDomain
	v, err := r.varzOf(ctx, h)
	if err != nil {
		return fail(CheckHubDomain, h.Name, err.Error(), fixUnreachable(h))
	}
	got, js := v.Domain()
	switch {
	case !js:
		return fail(CheckHubDomain, h.Name, "JetStream is not enabled on this hub node",
			fmt.Sprintf("the hub config of %s needs a jetstream block with domain %q; run apply", h.Name, want))
	case got != want:
		return fail(CheckHubDomain, h.Name, fmt.Sprintf("JetStream domain %q, inventory says %q", got, want),
			"a hub domain changes only by a full-cluster stop and start: run plan and apply (-allow-domain-change)")
	}
	return pass(CheckHubDomain, h.Name, fmt.Sprintf("JetStream domain %q", got))
}

// checkRoutes: the node has a route to every other hub node, counted as distinct remote_name
// in /routez (/varz routes counts pooled connections: 8 on a healthy 3-node cluster).
func (r *round) checkRoutes(ctx context.Context, h *inventory.Host) Result {
	m, err := r.monitor(h)
	if err != nil {
		return fail(CheckHubRoutes, h.Name, err.Error(), fixUnreachable(h))
	}
	rz, err := m.routez(ctx)
	if err != nil {
		return fail(CheckHubRoutes, h.Name, err.Error(), fixMonitor(h))
	}
	var have []string
	for _, rt := range rz.Routes {
		if rt.RemoteName != "" && !slices.Contains(have, rt.RemoteName) {
			have = append(have, rt.RemoteName)
		}
	}
	slices.Sort(have)
	var want, missing, extra []string
	for _, p := range r.inv.Hubs() {
		if p.Name != h.Name {
			want = append(want, p.Hub.ServerName)
			if !slices.Contains(have, p.Hub.ServerName) {
				missing = append(missing, p.Hub.ServerName)
			}
		}
	}
	for _, n := range have {
		if !slices.Contains(want, n) {
			extra = append(extra, n)
		}
	}
	ev := fmt.Sprintf("routes to %s", names(have))
	switch {
	case len(missing) > 0:
		return fail(CheckHubRoutes, h.Name, ev+"; missing "+names(missing),
			"check that "+names(missing)+" run(s) and that the cluster port is reachable between hub nodes")
	case len(extra) > 0:
		return fail(CheckHubRoutes, h.Name, ev+"; not in the inventory: "+names(extra),
			"a server outside the inventory joined the hub cluster: remove it, or add it to the inventory")
	}
	return pass(CheckHubRoutes, h.Name, ev)
}

// metaView is what each hub node says about the JetStream meta leader.
type metaView struct {
	leader  string            // server_name the nodes agree on, "" if none
	seen    map[string]string // host -> the leader it names ("" = none)
	errs    map[string]error  // host -> why its /jsz could not be read
	agreers []string
}

func (r *round) metaView(ctx context.Context) metaView {
	mv := metaView{seen: map[string]string{}, errs: map[string]error{}}
	votes := map[string]int{}
	for _, h := range r.inv.Hubs() {
		j, err := r.jszOf(ctx, h)
		if err != nil {
			mv.errs[h.Name] = err
			continue
		}
		mv.seen[h.Name] = j.Leader()
		if j.Leader() != "" {
			votes[j.Leader()]++
		}
	}
	best := 0
	for name, n := range votes {
		if n > best || (n == best && name < mv.leader) {
			mv.leader, best = name, n
		}
	}
	for host, l := range mv.seen {
		if l != "" && l == mv.leader {
			mv.agreers = append(mv.agreers, host)
		}
	}
	slices.Sort(mv.agreers)
	return mv
}

// checkMetaLeader: the node knows the meta leader, and it is the one leader all nodes agree on
// and an inventory hub.
func (r *round) checkMetaLeader(ctx context.Context, h *inventory.Host, mv metaView) Result {
	if err, ok := mv.errs[h.Name]; ok {
		return fail(CheckHubMetaLeader, h.Name, err.Error(), fixUnreachable(h))
	}
	seen := mv.seen[h.Name]
	switch {
	case seen == "":
		return fail(CheckHubMetaLeader, h.Name, "this node knows no JetStream meta leader",
			"a meta leader needs a quorum of hub nodes running with the same domain and routes between them")
	case seen != mv.leader:
		return fail(CheckHubMetaLeader, h.Name,
			fmt.Sprintf("this node names meta leader %s; %s name %s", seen, names(mv.agreers), mv.leader),
			"the hub cluster is split: check routes (hub.routes) and that every node has the same domain and cluster name")
	case r.hubByServerName(seen) == nil:
		return fail(CheckHubMetaLeader, h.Name, fmt.Sprintf("meta leader %s is not an inventory hub", seen),
			"a server outside the inventory leads the JetStream cluster: remove it, or add it to the inventory")
	}
	return pass(CheckHubMetaLeader, h.Name,
		fmt.Sprintf("meta leader %s, agreed by %d/%d nodes", seen, len(mv.agreers), len(r.inv.Hubs())))
}

// checkPeersCurrent asks the meta leader's /jsz: only the leader's view of peers is
// meaningful (a follower shows the others as current:false). Every other hub must be a
// current, online peer, and the cluster size must be the number of hubs.
func (r *round) checkPeersCurrent(ctx context.Context, mv metaView) Result {
	leader := r.hubByServerName(mv.leader)
	if leader == nil {
		return fail(CheckHubPeersCurrent, "", "no meta leader to ask (see hub.meta-leader)",
			"bring a quorum of hub nodes up; then re-run verify")
	}
	j, err := r.jszOf(ctx, leader)
	if err != nil {
		return fail(CheckHubPeersCurrent, leader.Name, err.Error(), fixUnreachable(leader))
	}
	if j.Leader() != leader.Hub.ServerName {
		return fail(CheckHubPeersCurrent, leader.Name, fmt.Sprintf("%s is no longer the meta leader (now %q)", mv.leader, j.Leader()),
			"leadership is moving: re-run verify")
	}
	var ok, bad []string
	for _, p := range r.inv.Hubs() {
		if p == leader {
			continue
		}
		name := p.Hub.ServerName
		i := slices.IndexFunc(j.Meta.Replicas, func(p natsmon.MetaPeer) bool { return p.Name == name })
		switch {
		case i < 0:
			bad = append(bad, name+" not a peer")
		case j.Meta.Replicas[i].Offline:
			bad = append(bad, fmt.Sprintf("%s offline (last seen %s ago)", name, j.Meta.Replicas[i].Active.Round(time.Millisecond)))
		case !j.Meta.Replicas[i].Current:
			bad = append(bad, fmt.Sprintf("%s not current (lag %d)", name, j.Meta.Replicas[i].Lag))
		default:
			ok = append(ok, name+" current")
		}
	}
	ev := fmt.Sprintf("leader %s: cluster size %d", mv.leader, j.Meta.Size)
	if len(ok) > 0 {
		ev += "; " + strings.Join(ok, ", ")
	}
	if len(bad) > 0 {
		return fail(CheckHubPeersCurrent, leader.Name, ev+"; "+strings.Join(bad, "; "),
			"start nats-server on the hub nodes named, or check their routes; a peer catches up on its own once it runs")
	}
	want := len(r.inv.Hubs())
	for _, name := range r.opts.Leaving {
		if slices.ContainsFunc(j.Meta.Replicas, func(p natsmon.MetaPeer) bool { return p.Name == name }) {
			want++
			ev += fmt.Sprintf("; %s leaving (a renamed node's old name)", name)
		}
	}
	if j.Meta.Size != want {
		return fail(CheckHubPeersCurrent, leader.Name, fmt.Sprintf("%s, inventory has %d hubs", ev, len(r.inv.Hubs())),
			"a server outside the inventory is a JetStream peer (a node replaced or taken out): stop its nats-server and run apply, which removes an offline peer from the group")
	}
	return pass(CheckHubPeersCurrent, leader.Name, ev)
}

func (r *round) varzOf(ctx context.Context, h *inventory.Host) (*natsmon.Varz, error) {
	m, err := r.monitor(h)
	if err != nil {
		return nil, err
	}
	return m.varz(ctx)
}

func (r *round) jszOf(ctx context.Context, h *inventory.Host) (*natsmon.Jsz, error) {
	m, err := r.monitor(h)
	if err != nil {
		return nil, err
	}
	return m.jsz(ctx)
}

func fixUnreachable(h *inventory.Host) string {
	return fmt.Sprintf("check that %s is up and reachable over SSH, and that its nats-server runs", h.Name)
}

func fixMonitor(h *inventory.Host) string {
	n := h.NATS()
	return fmt.Sprintf("check that nats-server runs on %s with monitoring on %s", h.Name, n.LocalMonitorAddr())
}
