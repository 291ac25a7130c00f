package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// Rotation is a password rotation in progress (`latticepush secrets --rotate`), one change
// in three steps. For the leaf password:
//
//  1. the hubs accept the new user beside the old one (reload: account users reload);
//  2. the leaves log in as the new user (reload: a remote whose URL changes is removed and
//     added again, so each link comes back within milliseconds), each confirmed on a new link;
//  3. the hubs drop the old user (reload; nats-server closes the connections of a removed
//     user, so this step waits until no leaf logs in with it).
//
// Steps 1 and 2 are one apply (the hub wave runs before the leaf wave); step 3 is planned
// only once every leaf runs its new config, observed: so it is the next plan's. The system
// and check passwords have no step 2 (latticepush's own connections take the new check user
// at once, falling back to the old one on a hub that does not accept it yet): their step 3 is
// the next plan's once every hub's config accepts the new user.
type Rotation struct {
	Secret  string `json:"secret"`             // "passwords.leaf", or "ca.key" (carotate.go)
	OldUser string `json:"old_user,omitempty"` // the user being retired
	NewUser string `json:"new_user,omitempty"`
	// OldCA and NewCA are a CA rotation's CA certificates' serials (hex): the retiring CA and
	// the one that replaces it.
	OldCA string `json:"old_ca,omitempty"`
	NewCA string `json:"new_ca,omitempty"`
	// Step is what this plan does: "accept-and-switch" (steps 1 and 2), "retire" (step 3),
	// or "complete" (no hub accepts the old user: run `latticepush secrets --finish-rotation`).
	// A CA rotation's: "trust-both", "reissue", "drop-old" or "complete".
	Step string `json:"step"`
	// Waiting names what step 3 waits for, each with why.
	Waiting []string `json:"waiting,omitempty"`

	switching []string // a route rotation's members that accept the new login from this plan on
	members   []string // a route rotation's members in clusters that have not all moved
}

// Moving names the cluster members a route rotation moves to the new login in this plan
// (none while a cluster is held, and none in a plan read back from a file).
func (r *Rotation) Moving() []string { return slices.Clone(r.switching) }

// Leaf reports whether this is the leaf password's rotation (the one with a step 2).
func (r *Rotation) Leaf() bool { return r.Secret == inventory.SecretLeafPassword }

// Rotation steps.
const (
	RotationAcceptAndSwitch = "accept-and-switch"
	RotationRetire          = "retire"
	RotationComplete        = "complete"
)

// login is a user and password a leaf remote logs in with.
type login struct{ user, password string }

// leafLogins returns the logins of a leaf config's remote URLs.
func leafLogins(config []byte) ([]login, error) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return nil, err
	}
	ln, _ := m["leafnodes"].(map[string]any)
	remotes, _ := ln["remotes"].([]any)
	var out []login
	add := func(v any) {
		s, ok := v.(string)
		if !ok {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			return
		}
		pw, _ := u.User.Password()
		l := login{u.User.Username(), pw}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	for _, r := range remotes {
		rm, _ := r.(map[string]any)
		add(rm["url"])
		if us, ok := rm["urls"].([]any); ok {
			for _, u := range us {
				add(u)
			}
		}
	}
	return out, nil
}

// hubLogins returns the users of account in a hub config.
func hubLogins(config []byte, account string) ([]login, error) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return nil, err
	}
	accts, _ := m["accounts"].(map[string]any)
	acct, _ := accts[account].(map[string]any)
	users, _ := acct["users"].([]any)
	return usersOf(users), nil
}

// usersOf reads a parsed config's users list ({user, password} maps).
func usersOf(users []any) []login {
	var out []login
	for _, u := range users {
		um, _ := u.(map[string]any)
		name, _ := um["user"].(string)
		pw, _ := um["password"].(string)
		out = append(out, login{name, pw})
	}
	return out
}

// relayLogins returns the users of a relay config's leafnode listener.
func relayLogins(config []byte) ([]login, error) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return nil, err
	}
	ln, _ := m["leafnodes"].(map[string]any)
	au, _ := ln["authorization"].(map[string]any)
	var out []login
	if u, ok := au["user"].(string); ok {
		pw, _ := au["password"].(string)
		out = append(out, login{u, pw})
	}
	users, _ := au["users"].([]any)
	return append(out, usersOf(users)...), nil
}

// leafUpstreams are the servers leaves log in to: the hubs and the relays.
func leafUpstreams(inv *inventory.Inventory) []*inventory.Host {
	return append(inv.Hubs(), inv.Relays()...)
}

// leafUserLogins returns the leaf users a hub (its lattice account) or a relay (its leafnode
// listener) accepts, from its config.
func leafUserLogins(h *inventory.Host, config []byte) ([]login, error) {
	if h.Hub != nil {
		return hubLogins(config, unit.AccountLattice)
	}
	return relayLogins(config)
}

// accountOf is the account the users of a rotatable password are in.
func accountOf(key string) string {
	if key == "system" {
		return unit.AccountSystem
	}
	return unit.AccountLattice
}

// planRotation decides the step of every recorded password rotation and returns the desired
// files and facts to plan with, and the options every host renders with in this plan: the hubs' re-rendered without the retiring users whose last
// step is due. It refuses what would cut a leaf off: hubs reloaded without a user a running
// leaf still logs in with, and leaves switched to a user that a hub left out of the plan does
// not accept yet.
func planRotation(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options, caStep int) (Desired, map[string]Facts, []*Rotation, unit.Options, error) {
	a := inv.Auth
	renderOpts := unit.Options{CAStep: caStep}
	if !a.LeafPassword.IsSet() {
		return desired, facts, nil, renderOpts, nil // loaded without secrets: nothing to compare
	}
	var rots []*Rotation
	var drop []string
	leafRot, retireLeaf, err := planLeafRotation(inv, desired, facts, opts)
	if err != nil {
		return nil, nil, nil, unit.Options{}, err
	}
	if leafRot != nil {
		rots = append(rots, leafRot)
		if retireLeaf {
			drop = append(drop, "leaf")
		}
	}
	for _, key := range []string{"system", "check"} {
		ru := a.RetiringUser(key)
		if !ru.IsSet() {
			continue
		}
		pw := a.SystemPassword
		if key == "check" {
			pw = a.CheckPassword
		}
		cur := login{a.UserName(key), pw.Reveal()}
		rot := &Rotation{Secret: "passwords." + key, OldUser: ru.User, NewUser: cur.user, Step: RotationAcceptAndSwitch}
		for _, h := range inv.Hubs() {
			f, ok := facts[h.Name]
			if !ok || !f.Reachable() {
				rot.Waiting = append(rot.Waiting, h.Name+" (not observed)")
				continue
			}
			logins, err := hubLogins(fileContent(f, desired[h.Name], h.Hub.ConfigFile), accountOf(key))
			if err != nil || !slices.Contains(logins, cur) {
				rot.Waiting = append(rot.Waiting, h.Name+" (does not accept "+cur.user+" yet)")
			}
		}
		if len(rot.Waiting) == 0 {
			rot.Step = RotationRetire
			drop = append(drop, key)
		}
		rots = append(rots, rot)
	}
	routeRot, routeSteps, err := planRouteRotation(inv, desired, facts, opts)
	if err != nil {
		return nil, nil, nil, unit.Options{}, err
	}
	renderOpts.DropRetiring, renderOpts.RouteSteps = drop, routeSteps
	if len(drop) > 0 || len(routeSteps) > 0 {
		desired, facts, err = rerender(inv, desired, facts, renderOpts)
		if err != nil {
			return nil, nil, nil, unit.Options{}, err
		}
	}
	// Complete: the step 3 is due and no hub's config accepts the old user any more.
	for _, rot := range rots {
		if rot.Step != RotationRetire {
			continue
		}
		key := strings.TrimPrefix(rot.Secret, "passwords.")
		old := login{rot.OldUser, a.RetiringUser(key).Password.Reveal()}
		still := false
		for _, h := range inv.Hubs() {
			logins, _ := hubLogins(fileContent(facts[h.Name], desired[h.Name], h.Hub.ConfigFile), accountOf(key))
			still = still || slices.Contains(logins, old)
		}
		if key == "leaf" {
			for _, h := range inv.Relays() {
				logins, _ := relayLogins(fileContent(facts[h.Name], desired[h.Name], h.Leaf.ConfigFile))
				still = still || slices.Contains(logins, old)
			}
		}
		if !still {
			rot.Step = RotationComplete
		}
	}
	if routeRot != nil {
		rots = append(rots, routeRot)
	}
	return desired, facts, rots, renderOpts, nil
}

// rerender renders again, with opts, the hubs and the members of a route rotation
// (opts.RouteSteps): without the retiring users whose last step is due, at a route rotation's
// step. They were observed against the first render: a file that matched it was not read (it
// is that config), and the digest their nats-server printed is that config's; the facts
// returned say so, and the new config's digest is taken in apply's pre-check.
func rerender(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts unit.Options) (Desired, map[string]Facts, error) {
	out, outFacts := maps.Clone(desired), maps.Clone(facts)
	for _, h := range inv.Hosts {
		n := h.NATS()
		_, routes := opts.RouteSteps[h.Name]
		relayDrop := h.IsRelay() && slices.Contains(opts.DropRetiring, "leaf")
		if n == nil || (h.Hub == nil && !routes && !relayDrop) {
			continue
		}
		files, err := renderHostFiles(inv, h, opts)
		if err != nil {
			return nil, nil, err
		}
		if sameFiles(files, desired[h.Name]) {
			continue // the first render's, and what was observed against it
		}
		out[h.Name] = files
		f, ok := facts[h.Name]
		if !ok {
			continue
		}
		f.Files = maps.Clone(f.Files)
		if ff, ok := f.Files[n.ConfigFile]; ok {
			ff.Content = fileContent(f, desired[h.Name], n.ConfigFile)
			f.Files[n.ConfigFile] = ff
		}
		if f.NATS != nil {
			nf := *f.NATS
			nf.DesiredDigest, nf.DesiredError = "", ""
			// A config that is the file already on the host has the digest an apply
			// recorded for that file, if any: then a server that does not run it is seen.
			if c := fileByPath(files, n.ConfigFile); c != nil && sha256Hex(c.Content) == f.Files[n.ConfigFile].SHA256 {
				nf.DesiredDigest = nf.FileDigest
			}
			f.NATS = &nf
		}
		outFacts[h.Name] = f
	}
	return out, outFacts, nil
}

func fileByPath(files []DesiredFile, path string) *DesiredFile {
	for i := range files {
		if files[i].Path == path {
			return &files[i]
		}
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sameFiles reports whether two renders of a host are the same files with the same content.
func sameFiles(a, b []DesiredFile) bool {
	return slices.EqualFunc(a, b, func(x, y DesiredFile) bool {
		return x.Path == y.Path && bytes.Equal(x.Content, y.Content) && bytes.Equal(x.Display, y.Display)
	})
}

// planLeafRotation decides the leaf password rotation's step; retire is true when step 3 is
// due (every leaf runs the current login).
func planLeafRotation(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options) (rot *Rotation, retire bool, err error) {
	a := inv.Auth
	cur := login{a.LeafUserName(), a.LeafPassword.Reveal()}
	accepted := []login{cur}
	if ru := a.RetiringUser("leaf"); ru.IsSet() {
		accepted = append(accepted, login{ru.User, ru.Password.Reveal()})
		rot = &Rotation{Secret: inventory.SecretLeafPassword, OldUser: ru.User, NewUser: cur.user}
	}

	// Which leaves still log in with something other than the current login.
	var waiting, cutOff []string
	switching := map[string]bool{} // selected leaves whose running login is not the current one
	for _, h := range inv.Hosts {
		if h.Leaf == nil || h.Hub != nil {
			continue
		}
		f, ok := facts[h.Name]
		if !ok || !f.Reachable() {
			waiting = append(waiting, h.Name+" (not observed)")
			continue
		}
		if !f.Services[ServiceNATS].Running {
			continue // starts with the desired config, which logs in as the current user
		}
		have := fileContent(f, desired[h.Name], h.Leaf.ConfigFile)
		logins, err := leafLogins(have)
		if have == nil || err != nil {
			waiting = append(waiting, h.Name+" (its config could not be read)")
			continue
		}
		n := f.NATS
		// It runs its file: the desired config's digest, or the one an apply recorded for the
		// file (a relay's file differs from the desired config once its old user is dropped).
		live := n != nil && n.RunningDigest != "" && (n.RunningDigest == n.DesiredDigest || n.RunningDigest == n.FileDigest)
		onCurrent := len(logins) > 0
		for _, l := range logins {
			if l != cur {
				onCurrent = false
			}
			// A password changed under the same user name is an ordinary change (the link
			// reconnects once both sides have it), and so is a config latticepush did not
			// write (another user name); another name of the pair is a rotation's.
			def := inventory.DefaultLeafUser
			pair := l.user == def || l.user == def+"-a" || l.user == def+"-b"
			if !slices.Contains(accepted, l) && l.user != cur.user && pair {
				cutOff = append(cutOff, fmt.Sprintf("%s (logs in as %s)", h.Name, l.user))
			}
		}
		switch {
		case onCurrent && live:
		case onCurrent:
			waiting = append(waiting, h.Name+" (its config names "+cur.user+" but the running server does not run it yet)")
		default:
			waiting = append(waiting, h.Name+" (logs in as "+loginUsers(logins)+")")
			if opts.Selected(h.Name) {
				switching[h.Name] = true
			}
		}
	}

	// Hubs reloaded now: with the retiring user unless every leaf is on the current one.
	retire = rot != nil && len(waiting) == 0
	var upstreamsChanging bool
	for _, h := range leafUpstreams(inv) {
		upstreamsChanging = upstreamsChanging || opts.Selected(h.Name)
	}
	if len(cutOff) > 0 && upstreamsChanging {
		sort.Strings(cutOff)
		return nil, false, fmt.Errorf("the hubs (and relays) would be reloaded without a leaf user that running leaves still log in with, and nats-server closes "+
			"the connections of a removed user: %s. The secrets file (%s) no longer records that user (rotated twice, or "+
			"`secrets --finish-rotation` run early). If the hubs and relays accept %s already, switch the leaves first: apply with -exclude "+
			"for every hub and relay, then plan again; otherwise put back the secrets file from before. Nothing was changed",
			strings.Join(cutOff, ", "), a.SecretsFile, cur.user)
	}

	// Leaves switched now need every hub to accept the current login already, or to be
	// reloaded with it first in this plan's hub wave.
	if len(switching) > 0 {
		var notYet []string
		for _, h := range leafUpstreams(inv) {
			if opts.Selected(h.Name) {
				continue
			}
			logins, err := leafUserLogins(h, fileContent(facts[h.Name], desired[h.Name], h.NATS().ConfigFile))
			if err != nil || !slices.Contains(logins, cur) {
				notYet = append(notYet, h.Name)
			}
		}
		if len(notYet) > 0 {
			var leaves []string
			for l := range switching {
				leaves = append(leaves, l)
			}
			sort.Strings(leaves)
			return nil, false, fmt.Errorf("leaves %s would log in as %s, which hubs or relays left out of this plan (%s) do not accept yet: "+
				"include them (the hub and relay waves run first and add %s). Nothing was changed",
				strings.Join(leaves, ", "), cur.user, strings.Join(notYet, ", "), cur.user)
		}
	}

	if rot != nil {
		sort.Strings(waiting)
		rot.Waiting = waiting
		rot.Step = RotationAcceptAndSwitch
		if retire {
			rot.Step = RotationRetire
		}
	}
	return rot, retire, nil
}

// fileContent is the content of path on the host: as observed, or, when the observation
// holds only its digest (a file that matches the desired one is not read), the desired content.
func fileContent(f Facts, want []DesiredFile, path string) []byte {
	ff := f.Files[path]
	if ff.Content != nil || !ff.Exists {
		return ff.Content
	}
	for _, df := range want {
		if df.Path == path {
			sum := sha256.Sum256(df.Content)
			if hex.EncodeToString(sum[:]) == ff.SHA256 {
				return df.Content
			}
		}
	}
	return nil
}

func loginUsers(ls []login) string {
	var us []string
	for _, l := range ls {
		if !slices.Contains(us, l.user) {
			us = append(us, l.user)
		}
	}
	if len(us) == 0 {
		return "no user"
	}
	return strings.Join(us, ", ")
}

// annotateRotations gives the units of the rotations their step as a reason, and a leaf
// that switches its login its Relogin.
func annotateRotations(inv *inventory.Inventory, p *Plan, rots []*Rotation) {
	for _, rot := range rots {
		if rot.Secret == inventory.SecretCAKey {
			annotateCARotation(p, rot)
			continue
		}
		for _, u := range p.Units {
			if u.Service != ServiceNATS || !u.Changes() {
				continue
			}
			h := inv.Host(u.Host)
			if h == nil {
				continue
			}
			if rot.Secret == inventory.SecretRoutePassword {
				annotateRouteRotation(u, rot)
				continue
			}
			switch {
			case h.Hub != nil && rot.Step == RotationAcceptAndSwitch:
				u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, step 1 of 3: the hubs accept %s beside %s", rot.Secret, rot.NewUser, rot.OldUser))
			case h.Hub != nil && rot.Step == RotationRetire:
				u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, step 3 of 3: nothing logs in as %s any more; the hubs drop it", rot.Secret, rot.OldUser))
			case h.IsRelay() && rot.Leaf() && rot.Step == RotationAcceptAndSwitch:
				u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, steps 1 and 2 of 3: the relay accepts %s beside %s from the leaves below it "+
					"(a restart: nats-server does not reload a leafnode listener's users) and logs in upstream as %s", rot.Secret, rot.NewUser, rot.OldUser, rot.NewUser))
			case h.IsRelay() && rot.Leaf() && rot.Step == RotationRetire:
				u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, step 3 of 3: nothing logs in as %s any more; the relay drops it (restart)", rot.Secret, rot.OldUser))
			case h.Leaf != nil && rot.Leaf() && rot.Step == RotationAcceptAndSwitch:
				u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, step 2 of 3: the leaf logs in as %s (its link reconnects on reload)", rot.Secret, rot.NewUser))
				if u.Action == Reload {
					u.Relogin = rot.NewUser
				}
			}
		}
	}
	p.Rotations = rots
}

// renderHostFiles renders h's files with and without secrets, as Render does for every host.
func renderHostFiles(inv *inventory.Inventory, h *inventory.Host, opts unit.Options) ([]DesiredFile, error) {
	opts.RevealSecrets = true
	files, err := unit.Host(inv, h, opts)
	if err != nil {
		return nil, err
	}
	opts.RevealSecrets = false
	shown, err := unit.Host(inv, h, opts)
	if err != nil {
		return nil, err
	}
	if len(shown) != len(files) {
		return nil, fmt.Errorf("%s: rendering with and without secrets gave different files", h.Name)
	}
	var out []DesiredFile
	for i, f := range files {
		if shown[i].Path != f.Path {
			return nil, fmt.Errorf("%s: rendering with and without secrets gave different files", h.Name)
		}
		out = append(out, DesiredFile{
			Path: f.Path, Mode: uint32(f.Mode.Perm()), Group: f.Group, Service: f.Service, Kind: f.Kind, Secret: f.Secret,
			Content: f.Content, Display: shown[i].Content,
		})
	}
	return out, nil
}
