package plan_test

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// routeRotation is the plan's rotation of passwords.route, or nil.
func routeRotation(p *plan.Plan) *plan.Rotation {
	for _, r := range p.Rotations {
		if r.Secret == inventory.SecretRoutePassword {
			return r
		}
	}
	return nil
}

// hubRoutes is what a hub config says of its routes: the user its cluster accepts, and the
// user it dials each peer (by address) with.
type hubRoutes struct {
	accepts string
	dials   map[string]string
}

var (
	routeAuthRE = regexp.MustCompile(`authorization \{\s*user: "([^"]+)"`)
	routeURLRE  = regexp.MustCompile(`"nats-route://([^"]+)"`)
)

func parseHubRoutes(t *testing.T, config string) hubRoutes {
	t.Helper()
	m := routeAuthRE.FindStringSubmatch(config)
	if m == nil {
		t.Fatalf("no cluster authorization in:\n%s", config)
	}
	r := hubRoutes{accepts: m[1], dials: map[string]string{}}
	for _, u := range routeURLRE.FindAllStringSubmatch(config, -1) {
		pu, err := url.Parse("nats-route://" + u[1])
		if err != nil {
			t.Fatal(err)
		}
		r.dials[pu.Host] = pu.User.Username()
	}
	return r
}

// clusterMembers are the clusters whose routes authenticate: the hubs, and each relay
// cluster; for each member its route address.
func clusterMembers(inv *inventory.Inventory) []map[string]string {
	hubs := map[string]string{}
	for _, h := range inv.Hubs() {
		hubs[h.Name] = net.JoinHostPort(h.Address, strconv.Itoa(h.Hub.ClusterPort))
	}
	out := []map[string]string{hubs}
	seen := map[string]bool{}
	for _, r := range inv.Relays() {
		if r.Leaf.ClusterName == "" || seen[r.Leaf.ClusterName] {
			continue
		}
		seen[r.Leaf.ClusterName] = true
		c := map[string]string{}
		for _, m := range inv.RelayCluster(r) {
			c[m.Name] = net.JoinHostPort(m.Address, strconv.Itoa(m.Leaf.ClusterPort))
		}
		out = append(out, c)
	}
	return out
}

// routedPairs checks, for states (member -> its config's routes) and every order in which
// the members in reloading may take their new configs, that every pair of members of a
// cluster keeps a route: one of the two dials the other with the user the other accepts. It
// returns the first pair cut.
func routedPairs(inv *inventory.Inventory, before, after map[string]hubRoutes, reloading []string) string {
	check := func(st map[string]hubRoutes, when string) string {
		for _, c := range clusterMembers(inv) {
			for a := range c {
				for b := range c {
					if a >= b {
						continue
					}
					ab := st[a].dials[c[b]] == st[b].accepts
					ba := st[b].dials[c[a]] == st[a].accepts
					if !ab && !ba {
						return fmt.Sprintf("%s and %s %s: %s dials with %s (%s accepts %s), %s dials with %s (%s accepts %s)", a, b, when,
							a, st[a].dials[c[b]], b, st[b].accepts, b, st[b].dials[c[a]], a, st[a].accepts)
					}
				}
			}
		}
		return ""
	}
	var perms func(rest []string, done []string) string
	perms = func(rest, done []string) string {
		st := maps.Clone(before)
		for _, h := range done {
			st[h] = after[h]
		}
		if cut := check(st, "after reloading "+strings.Join(done, ", ")); cut != "" {
			return cut
		}
		for i, h := range rest {
			next := append(slices.Clone(rest[:i]), rest[i+1:]...)
			if cut := perms(next, append(slices.Clone(done), h)); cut != "" {
				return cut
			}
		}
		return ""
	}
	return perms(reloading, nil)
}

// A route password rotation keeps every pair of hubs routed through every reload, whatever
// the order the hub wave takes them in: each apply moves one hub to accepting the new login,
// every hub dials the hubs that accept it with it and the others with the old one; once every
// hub accepts it, one more apply makes every route URL carry it, and the plan after says the
// rotation is complete. Edges never change.
func TestRotation_RouteOneMemberPerApply(t *testing.T) {
	t.Run("lab", func(t *testing.T) { testRouteRotation(t, "lab", 3) })
	// The tiered example's relay cluster (2 relays) rotates beside the hubs (3): the
	// relays are through after two applies and retire theirs in the third.
	t.Run("tiered", func(t *testing.T) { testRouteRotation(t, "tiered", 3) })
}

func testRouteRotation(t *testing.T, example string, members int) {
	inv0 := plantest.LoadExample(t, example, nil)
	d := render(t, inv0)
	r, err := inventory.RotatePassword(inv0, inventory.SecretRoutePassword, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OldUser != "route" || r.NewUser != "route-a" {
		t.Fatalf("rotation %s -> %s, want route -> route-a", r.OldUser, r.NewUser)
	}
	inv := reload(t, inv0)
	oldPW, newPW := inv0.Auth.RoutePassword.Reveal(), inv.Auth.RoutePassword.Reveal()
	if oldPW == newPW || inv.Auth.RetiringUser("route").Password.Reveal() != oldPW {
		t.Fatal("the rotation did not keep the old password as retiring, or did not change it")
	}
	configs := func(d plan.Desired) map[string]hubRoutes {
		out := map[string]hubRoutes{}
		for _, c := range clusterMembers(inv) {
			for name := range c {
				h := inv.Host(name)
				out[name] = parseHubRoutes(t, string(plantest.ContentOf(d, name, h.NATS().ConfigFile)))
			}
		}
		return out
	}
	isMember := func(host string) bool {
		_, ok := configs(d)[host]
		return ok
	}

	var wantSteps []string
	for range members {
		wantSteps = append(wantSteps, plan.RotationAcceptOne)
	}
	wantSteps = append(wantSteps, plan.RotationRetire, plan.RotationComplete)
	for i, want := range wantSteps {
		facts := plantest.Converged(inv0, d)
		if i > 0 {
			facts = plantest.Converged(inv, d)
		}
		p, err := plan.Build(inv, render(t, inv), facts, plan.Options{})
		if err != nil {
			t.Fatalf("apply %d: %v", i+1, err)
		}
		rot := routeRotation(p)
		if rot == nil || rot.Step != want {
			t.Fatalf("apply %d: rotation %+v, want step %s", i+1, rot, want)
		}
		var reloading []string
		for _, u := range p.Units {
			switch {
			case !isMember(u.Host) && u.Changes():
				t.Errorf("apply %d: %s %s (%v), want unchanged", i+1, u.ID(), u.Action, u.Reasons)
			case u.Changes():
				if u.Action != plan.Reload {
					t.Errorf("apply %d: %s %s, want reload", i+1, u.ID(), u.Action)
				}
				reloading = append(reloading, u.Host)
				if c := configOf(t, p, u.ID()); strings.Contains(c, oldPW) && want == plan.RotationRetire {
					t.Errorf("apply %d (retire): %s still names the old password", i+1, u.ID())
				}
			}
		}
		next := applied(d, p)
		before, after := configs(d), configs(next)
		if i == 0 {
			for h, r := range before {
				if r.accepts != "route" {
					t.Fatalf("before the rotation %s accepts %s", h, r.accepts)
				}
			}
		}
		for _, c := range clusterMembers(inv) {
			switched := 0
			for h := range c {
				if before[h].accepts != after[h].accepts {
					switched++
				}
			}
			if switched > 1 {
				t.Errorf("apply %d switches %d members' accepted login in one cluster, want at most 1 (reloading %v)", i+1, switched, reloading)
			}
		}
		if cut := routedPairs(inv, before, after, reloading); cut != "" {
			t.Errorf("apply %d cuts a route: %s", i+1, cut)
		}
		t.Logf("apply %d: step %s, reloads %v, waiting %v", i+1, rot.Step, reloading, rot.Waiting)
		if want == plan.RotationComplete && len(reloading) > 0 {
			t.Errorf("the complete step reloads %v", reloading)
		}
		d = next
	}
	for h, r := range configs(d) {
		for peer, u := range r.dials {
			if r.accepts != "route-a" || u != "route-a" {
				t.Errorf("at the end %s accepts %s and dials %s as %s", h, r.accepts, peer, u)
			}
		}
	}

	// Finishing forgets the old password: the plan has no rotation and no change.
	if _, err := inventory.FinishRotation(inv, inventory.SecretRoutePassword); err != nil {
		t.Fatal(err)
	}
	done := reload(t, inv)
	p, err := plan.Build(done, render(t, done), plantest.Converged(done, d), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if routeRotation(p) != nil || p.HasChanges() {
		t.Errorf("after --finish-rotation: rotation %+v, changes %v", routeRotation(p), p.HasChanges())
	}
}

// A hub that was not observed holds the rotation: no hub switches in that plan.
func TestRotation_RouteWaitsForEveryHub(t *testing.T) {
	inv0 := plantest.LoadExample(t, "lab", nil)
	d := render(t, inv0)
	if _, err := inventory.RotatePassword(inv0, inventory.SecretRoutePassword, inventory.Options{}); err != nil {
		t.Fatal(err)
	}
	inv := reload(t, inv0)
	facts := plantest.Converged(inv0, d)
	f := facts["hub-3"]
	f.Err = "dial tcp: connection refused"
	facts["hub-3"] = f
	p, err := plan.Build(inv, render(t, inv), facts, plan.Options{Excludes: []string{"hub-3"}})
	if err != nil {
		t.Fatal(err)
	}
	rot := routeRotation(p)
	if rot == nil || rot.Step != plan.RotationAcceptOne || !slices.Contains(rot.Waiting, "hub-3 (not observed: a member left out of the plan, or unreachable)") {
		t.Fatalf("rotation %+v, want accept-one waiting for hub-3, not observed", rot)
	}
	for _, u := range p.Units {
		if u.Changes() {
			t.Errorf("%s: %s (%v), want unchanged while hub-3 is not observed", u.ID(), u.Action, u.Reasons)
		}
	}
}

// A hub whose server does not run its config file (an apply stopped between the file and the
// reload) holds the rotation: the plan reloads it with its file and moves no hub.
func TestRotation_RouteWaitsForAFileNotRunning(t *testing.T) {
	inv, d := routeStepOne(t)
	facts := plantest.Converged(inv, d)
	f := facts["hub-1"]
	nf := *f.NATS
	nf.RunningDigest = "sha256:" + strings.Repeat("0", 64) // still the config from before
	f.NATS = &nf
	facts["hub-1"] = f
	p, err := plan.Build(inv, render(t, inv), facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rot := routeRotation(p)
	if rot == nil || !slices.Contains(rot.Waiting, "hub-1 (does not run its config file yet)") || slices.ContainsFunc(rot.Waiting, func(w string) bool { return strings.Contains(w, "in this apply") }) || len(rot.Moving()) > 0 {
		t.Fatalf("rotation %+v, want it waiting for hub-1 to run its file, no hub switching", rot)
	}
	for _, u := range p.Units {
		switch {
		case u.ID() == "hub-1/nats-server":
			if u.Action != plan.Reload || len(u.Files) > 0 {
				t.Errorf("hub-1: %s %v (files %v), want a reload of the file it has", u.Action, u.Reasons, u.Files)
			}
		case u.Changes():
			t.Errorf("%s: %s (%v), want unchanged while hub-1 does not run its file", u.ID(), u.Action, u.Reasons)
		}
	}
}

func TestRotatePassword_RouteNeedsRouteAuth(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", func(src string) string {
		return strings.Replace(src, "js_domain = \"hub\"\n", "js_domain = \"hub\"\n  route_auth = false\n", 1)
	})
	_, err := inventory.RotatePassword(inv, inventory.SecretRoutePassword, inventory.Options{})
	want := "passwords.route cannot be rotated: routes do not authenticate (route_auth = false in the lattice block). Nothing was changed"
	if err == nil || err.Error() != want {
		t.Fatalf("rotating with route_auth = false: %v\nwant: %s", err, want)
	}
}

// routeStepOne rotates the lab example's route password and returns the inventory and the
// files of the fleet after the rotation's first apply: hub-1 accepts the new login.
func routeStepOne(t *testing.T) (*inventory.Inventory, plan.Desired) {
	t.Helper()
	inv0 := plantest.LoadExample(t, "lab", nil)
	d := render(t, inv0)
	if _, err := inventory.RotatePassword(inv0, inventory.SecretRoutePassword, inventory.Options{}); err != nil {
		t.Fatal(err)
	}
	inv := reload(t, inv0)
	p, err := plan.Build(inv, render(t, inv), plantest.Converged(inv0, d), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return inv, applied(d, p)
}

// A route password the cluster does not run, with no rotation recorded (edited into the
// secrets file, or --finish-rotation run before every hub moved), is refused: every hub would
// take it in one apply. Finishing once every hub accepts the new password is fine.
func TestRotation_RouteRefusesAChangeWithoutRotation(t *testing.T) {
	inv, d := routeStepOne(t) // hub-1 accepts route-a; hub-2 and hub-3 accept route
	if _, err := inventory.FinishRotation(inv, inventory.SecretRoutePassword); err != nil {
		t.Fatal(err)
	}
	early := reload(t, inv)
	_, err := plan.Build(early, render(t, early), plantest.Converged(early, d), plan.Options{})
	want := "the route password (passwords.route) is not the one the cluster runs (hub-2 accepts route, hub-3 accepts route): a cluster accepts one route login, " +
		"so its members would take the new one in one apply and refuse each other's routes. Rotate it with `latticepush secrets --rotate passwords.route`, " +
		"which takes one member per apply: put back the previous value first, or, if `secrets --finish-rotation passwords.route` ran before plan reported " +
		"the rotation complete, the secrets file from before it. Nothing was changed"
	if err == nil || err.Error() != want {
		t.Fatalf("early finish: %v\nwant: %s", err, want)
	}
	// Every hub excluded: nothing would take it, nothing to refuse.
	if _, err := plan.Build(early, render(t, early), plantest.Converged(early, d), plan.Options{Excludes: []string{"hub-1", "hub-2", "hub-3"}}); err != nil {
		t.Errorf("with every hub excluded: %v", err)
	}
}

// A cluster of one (the lab example with one hub) moves in one apply, and the plan after
// reports the rotation complete.
func TestRotation_RouteSingleHub(t *testing.T) {
	inv0 := plantest.LoadExample(t, "lab", func(src string) string {
		for _, h := range []string{"hub-2", "hub-3"} {
			block := fmt.Sprintf("host %q {\n  address = \"198.18.0.1%s\"\n  roles   = [\"hub\"]\n}\n", h, h[len(h)-1:])
			if !strings.Contains(src, block) {
				t.Fatalf("the lab example has no block %q", block)
			}
			src = strings.Replace(src, block, "", 1)
		}
		return src
	})
	if len(inv0.Hubs()) != 1 {
		t.Fatalf("%d hubs, want 1", len(inv0.Hubs()))
	}
	d := render(t, inv0)
	if _, err := inventory.RotatePassword(inv0, inventory.SecretRoutePassword, inventory.Options{}); err != nil {
		t.Fatal(err)
	}
	inv := reload(t, inv0)
	facts := plantest.Converged(inv0, d)
	for i, want := range []string{plan.RotationAcceptOne, plan.RotationComplete} {
		p, err := plan.Build(inv, render(t, inv), facts, plan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r := routeRotation(p); r == nil || r.Step != want {
			t.Fatalf("plan %d: %+v, want step %s", i+1, r, want)
		}
		if changed := p.HasChanges(); changed != (want != plan.RotationComplete) {
			t.Errorf("plan %d (%s): changes %v", i+1, want, changed)
		}
		d = applied(d, p)
		facts = plantest.Converged(inv, d)
	}
}
