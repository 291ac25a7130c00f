package plan

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
// cluster and each relay cluster (a single server too: its cluster block has the login),
// members in inventory order.
func routeClusters(inv *inventory.Inventory) [][]routeMember {
	var out [][]routeMember
	var hubs []routeMember
	for _, h := range inv.Hubs() {
		hubs = append(hubs, routeMember{h, net.JoinHostPort(h.Address, strconv.Itoa(h.Hub.ClusterPort)), h.Hub.ConfigFile})
	}
	if len(hubs) > 0 {
		out = append(out, hubs)
	}
	seen := map[string]bool{}
	for _, r := range inv.Relays() {
		ms := inv.RelayCluster(r)
		if len(ms) == 0 || seen[r.Leaf.ClusterName] {
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

// observeRoutes reads what each member's config says of its routes. A member is left out of
// the map when it has no config yet (it starts with the one rendered for it); hold names the
// members that keep their cluster from moving, each with why.
func observeRoutes(members []routeMember, desired Desired, facts map[string]Facts) (states map[string]*routeState, hold []string) {
	states = map[string]*routeState{}
	for _, m := range members {
		f, ok := facts[m.host.Name]
		if !ok || !f.Reachable() {
			hold = append(hold, m.host.Name+" (not observed: a member left out of the plan, or unreachable)")
			continue
		}
		content := fileContent(f, desired[m.host.Name], m.config)
		if content == nil {
			if f.Files[m.config].Exists || f.Services[ServiceNATS].Running {
				hold = append(hold, m.host.Name+" (its config could not be read)")
			}
			continue
		}
		if nf := f.NATS; nf != nil && nf.FileDigest != "" && nf.RunningDigest != "" && nf.FileDigest != nf.RunningDigest {
			// An apply stopped between its file and its reload: the plan reloads it (its file
			// is what it renders while nothing moves), and the next one moves on.
			hold = append(hold, m.host.Name+" (does not run its config file yet)")
		}
		st, err := routeStateOf(content)
		if err != nil {
			hold = append(hold, m.host.Name+" (its config could not be read)")
			continue
		}
		states[m.host.Name] = &st
	}
	return states, hold
}

// planRouteRotation decides the step of a recorded route password rotation and each cluster
// member's RouteStep. With no rotation recorded it refuses a route password that some member
// does not accept yet: every member would take it in one apply.
func planRouteRotation(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options) (*Rotation, map[string]unit.RouteStep, error) {
	a := inv.Auth
	if !inv.Lattice.RouteAuth || !a.RoutePassword.IsSet() {
		return nil, nil, nil
	}
	cur := login{a.UserName("route"), a.RoutePassword.Reveal()}
	ru := a.RetiringUser("route")
	if !ru.IsSet() {
		return nil, nil, refuseRouteChange(inv, desired, facts, opts, cur)
	}
	old := login{ru.User, ru.Password.Reveal()}
	rot := &Rotation{Secret: inventory.SecretRoutePassword, OldUser: old.user, NewUser: cur.user}
	steps := map[string]unit.RouteStep{}
	retiring := true // every member accepts the new login
	namesOld := false
	for _, members := range routeClusters(inv) {
		states, hold := observeRoutes(members, desired, facts)
		rot.Waiting = append(rot.Waiting, hold...)
		accepting := map[string]bool{} // S
		for _, m := range members {
			st := states[m.host.Name]
			if st == nil {
				continue
			}
			accepting[m.host.Name] = st.accepts == cur
			namesOld = namesOld || st.accepts == old || slices.Contains(slices.Collect(maps.Values(st.dials)), old)
		}
		count := 0
		for _, ok := range accepting {
			if ok {
				count++
			}
		}
		if len(hold) == 0 && count == len(members) {
			continue // the retire step: every member renders the end (no RouteStep)
		}
		retiring = false
		next := ""
		if len(hold) == 0 {
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
			rot.members = append(rot.members, m.host.Name)
			st := unit.RouteStep{AcceptNew: accepting[m.host.Name] || m.host.Name == next, DialNew: dialNew}
			if s := states[m.host.Name]; len(hold) > 0 && s != nil {
				// Keep what the files say: no member of this cluster moves until every one
				// is seen running its file.
				st = unit.RouteStep{AcceptNew: s.accepts == cur}
				for _, p := range members {
					if s.dials[p.addr] == cur {
						st.DialNew = append(st.DialNew, p.host.Name)
					}
				}
			}
			steps[m.host.Name] = st
			switch {
			case m.host.Name == next:
				rot.switching = append(rot.switching, next)
				rot.Waiting = append(rot.Waiting, fmt.Sprintf("%s (moves to %s in this apply)", m.host.Name, cur.user))
			case states[m.host.Name] == nil:
			case !accepting[m.host.Name]:
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

// refuseRouteChange refuses, when no route rotation is recorded, to render a route login that
// a member's observed config does not accept while another member of its cluster would take
// it: a password edited into the secrets file, or `--finish-rotation` run before every member
// moved. A member without route authorization yet is the one-pass introduction (README, Route
// authentication), not a change.
func refuseRouteChange(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options, cur login) error {
	for _, members := range routeClusters(inv) {
		states, _ := observeRoutes(members, desired, facts)
		var other []string
		changing := false
		for _, m := range members {
			st := states[m.host.Name]
			if st == nil || st.accepts.user == "" {
				continue
			}
			if st.accepts != cur {
				other = append(other, fmt.Sprintf("%s accepts %s", m.host.Name, st.accepts.user))
				changing = changing || opts.Selected(m.host.Name)
			}
		}
		if len(other) > 0 && changing {
			return fmt.Errorf("the route password (%s) is not the one the cluster runs (%s): a cluster accepts one route login, so its members "+
				"would take the new one in one apply and refuse each other's routes. Rotate it with `latticepush secrets --rotate %s`, "+
				"which takes one member per apply: put back the previous value first, or, if `secrets --finish-rotation %s` ran "+
				"before plan reported the rotation complete, the secrets file from before it. Nothing was changed",
				inventory.SecretRoutePassword, strings.Join(other, ", "), inventory.SecretRoutePassword, inventory.SecretRoutePassword)
		}
	}
	return nil
}

// annotateRouteRotation gives a changed cluster member's unit the rotation's step as a reason.
func annotateRouteRotation(u *Unit, rot *Rotation) {
	if rot.Step != RotationRetire && !slices.Contains(rot.members, u.Host) {
		return
	}
	switch {
	case rot.Step == RotationAcceptOne && len(rot.switching) == 0:
		return // held: the unit changes for another reason (or runs its file again)
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
