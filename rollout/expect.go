package rollout

import (
	"sort"

	"github.com/latticepush/latticepush/plan"
)

// The gates must reach each nats-server where it listens now. Until apply swaps a host's
// config in, that is where the running server was observed: during a rollout that changes a
// listener (client, monitoring, cluster or leafnode host or port), the hosts not yet reached
// still listen on the old one, and a host that was rolled back listens there again. After its swap it is the desired one. The run
// knows which is which because it does the swapping; it tells the gates (Expect).

// initPorts records where every nats-server of the plan listens before anything changes: the
// running ports, or for a server that is down (and so starts with its new config) the desired
// ones.
func (r *run) initPorts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ports, r.desired = map[string]plan.Ports{}, map[string]plan.Ports{}
	for _, u := range r.p.Units {
		if u.Step != "" || u.DesiredPorts == (plan.Ports{}) {
			continue
		}
		r.desired[u.Host] = u.DesiredPorts
		r.ports[u.Host] = u.DesiredPorts
		if u.WasRunning && u.RunningPorts != (plan.Ports{}) {
			r.ports[u.Host] = previous(u)
		}
	}
}

// swapped records that u's host now holds u's desired config (new is true) or its previous one
// again (a rollback).
func (r *run) swapped(u *plan.Unit, new bool) {
	if u.DesiredPorts == (plan.Ports{}) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case new:
		r.ports[u.Host] = u.DesiredPorts
	case u.WasRunning && u.RunningPorts != (plan.Ports{}):
		r.ports[u.Host] = previous(u)
	}
}

// previous is where u's server listens on its previous config: every listener as observed
// running (client, monitoring, cluster, leafnode), the desired value where the observation
// has none.
func previous(u *plan.Unit) plan.Ports {
	p, d := u.RunningPorts, u.DesiredPorts
	if p.ClientHost == "" {
		p.ClientHost = d.ClientHost
	}
	if p.Client == 0 {
		p.Client = d.Client
	}
	if p.HTTPHost == "" {
		p.HTTPHost = d.HTTPHost
	}
	if p.HTTP == 0 {
		p.HTTP = d.HTTP
	}
	if p.Cluster == 0 {
		p.Cluster = d.Cluster
	}
	if p.Leafnode == 0 {
		p.Leafnode = d.Leafnode
	}
	return p
}

// expect is what the gates must expect now: the servers that do not listen where the
// inventory says, and domain ("" for the inventory's).
func (r *run) expect(domain string) Expect {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp := Expect{Domain: domain}
	for name := range r.leaving {
		exp.Leaving = append(exp.Leaving, name)
	}
	sort.Strings(exp.Leaving)
	for host, now := range r.ports {
		if now != r.desired[host] {
			if exp.Ports == nil {
				exp.Ports = map[string]plan.Ports{}
			}
			exp.Ports[host] = now
		}
	}
	return exp
}
