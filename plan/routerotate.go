package plan

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// Route password rotation steps (Rotation.Step of passwords.route; "retire" and "complete"
// as for the other passwords).
const (
	// RotationAcceptOne: one member of each cluster starts accepting the new login.
	RotationAcceptOne = "accept-one"
)

// A cluster's authorization takes one route login (nats-server refuses a second user
// there), so no member can accept the old and the new password side by side, and a member
// that switches to the new one refuses the routes its peers dial with the old one. What keeps
// the cluster whole is that a route is one connection that either end may dial, and a
// member's configured routes carry their own login each (its URL's user and password):
//
//   - S is the members observed accepting the new login. Every member dials the members in
//     S with the new login and the others with the old one, so every dial is accepted.
//   - Each apply switches one member per cluster (next, the first selected member not in S)
//     to accept the new login. Its peers keep dialling it with the old one, which it refuses
//     from then on, but it dials each of them with the login that peer accepts, so every
//     pair stays routed through next's own dial. Two members switched in one apply would
//     each dial the other with the old login and both be refused: hence one per apply.
//   - Once every member accepts the new login (S is the cluster), every member dials every
//     peer with it: the retire step, after which no config names the old login.
//
// The hub wave reloads one member at a time, each gated on routes to every other member, so
// a step that would cut a route is rolled back. The state is read from each member's config
// file. A member whose server does not run its file (an apply stopped between the two; seen
// when the host's digest cache knows the file's digest, as it does for every file an apply
// wrote) holds its cluster: the plan only reloads it, with its file, and moves no member.

// routeState is what one member's observed config says of its routes.
type routeState struct {
	accepts login            // the cluster's authorization
	dials   map[string]login // by peer "host:port"
}

// routeStateOf parses the cluster block of a nats-server config.
func routeStateOf(config []byte) (routeState, error) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return routeState{}, err
	}
	st := routeState{dials: map[string]login{}}
	cl, _ := m["cluster"].(map[string]any)
	if au, ok := cl["authorization"].(map[string]any); ok {
		u, _ := au["user"].(string)
		pw, _ := au["password"].(string)
		st.accepts = login{u, pw}
	}
	routes, _ := cl["routes"].([]any)
	for _, r := range routes {
		s, _ := r.(string)
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			continue
		}
		pw, _ := u.User.Password()
		st.dials[u.Host] = login{u.User.Username(), pw}
	}
	return st, nil
}

// routeMember is a cluster member with its cluster port's address and config file.
type routeMember struct {
	host   *inventory.Host
	addr   string // "host:port" as its peers' route URLs name it
	config string
}

// routeClusters lists the clusters whose routes authenticate with passwords.route: the hub
// cluster and each relay cluster, members in inventory order.
func routeClusters(inv *inventory.Inventory) [][]routeMember {
	var out [][]routeMember
	var hubs []routeMember
	for _, h := range inv.Hubs() {
		hubs = append(hubs, routeMember{h, net.JoinHostPort(h.Address, strconv.Itoa(h.Hub.ClusterPort)), h.Hub.ConfigFile})
	}
	if len(hubs) > 1 {
		out = append(out, hubs)
	}
	seen := map[string]bool{}
	for _, r := range inv.Relays() {
		ms := inv.RelayCluster(r)
		if len(ms) < 2 || seen[r.Leaf.ClusterName] {
			continue
		}
		seen[r.Leaf.ClusterName] = true
		var c []routeMember
		for _, m := range ms {
			c = append(c, routeMember{m, net.JoinHostPort(m.Address, strconv.Itoa(m.Leaf.ClusterPort)), m.Leaf.ConfigFile})
		}
		out = append(out, c)
	}
	return out
}

// planRouteRotation decides the step of a recorded route password rotation and each cluster
// member's RouteStep. Members of a cluster that is not fully observed keep what their files
// say (no member switches there), and the rotation names them.
func planRouteRotation(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options) (*Rotation, map[string]unit.RouteStep, error) {
	a := inv.Auth
	ru := a.RetiringUser("route")
	if !ru.IsSet() || !inv.Lattice.RouteAuth || !a.RoutePassword.IsSet() {
		return nil, nil, nil
	}
	cur := login{a.UserName("route"), a.RoutePassword.Reveal()}
	old := login{ru.User, ru.Password.Reveal()}
	rot := &Rotation{Secret: inventory.SecretRoutePassword, OldUser: old.user, NewUser: cur.user}
	steps := map[string]unit.RouteStep{}
	retiring := true // every member accepts the new login
	namesOld := false
	for _, members := range routeClusters(inv) {
		states := map[string]*routeState{}
		observed := true
		for _, m := range members {
			f, ok := facts[m.host.Name]
			if !ok || !f.Reachable() {
				rot.Waiting = append(rot.Waiting, m.host.Name+" (not observed)")
				observed = false
				continue
			}
			content := fileContent(f, desired[m.host.Name], m.config)
			if content == nil {
				continue // no config yet: it starts with the one rendered for it
			}
			if nf := f.NATS; nf != nil && nf.FileDigest != "" && nf.RunningDigest != "" && nf.FileDigest != nf.RunningDigest {
				// An apply stopped between its file and its reload: the plan reloads it
				// (its file is what it renders while nothing moves), and the next one moves on.
				rot.Waiting = append(rot.Waiting, m.host.Name+" (does not run its config file yet)")
				observed = false
			}
			st, err := routeStateOf(content)
			if err != nil {
				rot.Waiting = append(rot.Waiting, m.host.Name+" (its config could not be read)")
				observed = false
				continue
			}
			states[m.host.Name] = &st
		}
		accepting := map[string]bool{} // S
		for _, m := range members {
			st := states[m.host.Name]
			if st == nil || st.accepts != cur {
				continue
			}
			accepting[m.host.Name] = true
		}
		for _, m := range members {
			if st := states[m.host.Name]; st != nil && (st.accepts == old || slices.Contains(slices.Collect(maps.Values(st.dials)), old)) {
				namesOld = true
			}
		}
		if observed && len(accepting) == len(members) {
			continue // the retire step: every member renders the end (no RouteStep)
		}
		retiring = false
		next := ""
		if observed {
			for _, m := range members {
				if !accepting[m.host.Name] && opts.Selected(m.host.Name) {
					next = m.host.Name
					break
				}
			}
		}
		var dialNew []string
		for _, m := range members {
			if accepting[m.host.Name] {
				dialNew = append(dialNew, m.host.Name)
			}
		}
		for _, m := range members {
			st := unit.RouteStep{AcceptNew: accepting[m.host.Name] || m.host.Name == next, DialNew: dialNew}
			if !observed {
				// Keep what the files say: no member of this cluster moves until every one
				// is seen running its file.
				if s := states[m.host.Name]; s != nil {
					st = unit.RouteStep{AcceptNew: s.accepts == cur}
					for _, p := range members {
						if s.dials[p.addr] == cur {
							st.DialNew = append(st.DialNew, p.host.Name)
						}
					}
				}
			}
			steps[m.host.Name] = st
			switch {
			case m.host.Name == next:
				rot.switching = append(rot.switching, next)
				rot.Waiting = append(rot.Waiting, fmt.Sprintf("%s (accepts %s from this apply on)", m.host.Name, cur.user))
			case !accepting[m.host.Name] && (states[m.host.Name] != nil || observed):
				rot.Waiting = append(rot.Waiting, fmt.Sprintf("%s (accepts %s)", m.host.Name, old.user))
			}
		}
	}
	slices.Sort(rot.Waiting)
	switch {
	case !retiring:
		rot.Step = RotationAcceptOne
	case namesOld:
		rot.Step = RotationRetire
	default:
		rot.Step = RotationComplete
	}
	return rot, steps, nil
}

// annotateRouteRotation gives a changed cluster member's unit the rotation's step as a reason.
func annotateRouteRotation(u *Unit, rot *Rotation) {
	switch {
	case rot.Step == RotationAcceptOne && slices.Contains(rot.switching, u.Host):
		u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s: accepts %s instead of %s from now on, one member of its cluster per apply "+
			"(its peers' routes with %s are refused; it dials each peer with the login that peer accepts, so every route stays up)",
			rot.Secret, rot.NewUser, rot.OldUser, rot.OldUser))
	case rot.Step == RotationAcceptOne:
		u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s: dials the members that accept %s with it", rot.Secret, rot.NewUser))
	case rot.Step == RotationRetire:
		u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, last step: every member accepts %s; every route dials with it", rot.Secret, rot.NewUser))
	}
}
