package plan

import (
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

// Rotation is a leaf password rotation in progress (`latticepush secrets --rotate
// passwords.leaf`), one change in three steps:
//
//  1. the hubs accept the new user beside the old one (reload: account users reload);
//  2. the leaves log in as the new user (reload: a remote whose URL changes is removed and
//     added again, so each link comes back within milliseconds), each gated on its link;
//  3. the hubs drop the old user (reload; nats-server closes the connections of a removed
//     user, so this step waits until no leaf logs in with it).
//
// Steps 1 and 2 are one apply (the hub wave runs before the leaf wave); step 3 is planned
// only once every leaf runs its new config, observed: so it is the next plan's.
type Rotation struct {
	Secret  string `json:"secret"`   // "passwords.leaf"
	OldUser string `json:"old_user"` // the user being retired
	NewUser string `json:"new_user"`
	// Step is what this plan does: "accept-and-switch" (steps 1 and 2), "retire" (step 3),
	// or "complete" (nothing left: run `latticepush secrets --finish-rotation`).
	Step string `json:"step"`
	// Waiting names the leaves step 3 waits for, each with why.
	Waiting []string `json:"waiting,omitempty"`
}

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

// hubLogins returns the users of a hub config's lattice account.
func hubLogins(config []byte) ([]login, error) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return nil, err
	}
	accts, _ := m["accounts"].(map[string]any)
	acct, _ := accts[unit.AccountLattice].(map[string]any)
	users, _ := acct["users"].([]any)
	var out []login
	for _, u := range users {
		um, _ := u.(map[string]any)
		name, _ := um["user"].(string)
		pw, _ := um["password"].(string)
		out = append(out, login{name, pw})
	}
	return out, nil
}

// planRotation decides the step of a recorded leaf password rotation and returns the desired
// files and facts to plan with: the hubs' re-rendered without the retiring user once every leaf logs in
// as the new one (step 3). It refuses what would cut a leaf off: hubs reloaded without a user
// a running leaf still logs in with, and leaves switched to a user that a hub left out of the
// plan does not accept yet.
func planRotation(inv *inventory.Inventory, desired Desired, facts map[string]Facts, opts Options) (Desired, map[string]Facts, *Rotation, error) {
	a := inv.Auth
	cur := login{a.LeafUserName(), a.LeafPassword.Reveal()}
	accepted := []login{cur}
	var rot *Rotation
	if a.LeafRetiring.IsSet() {
		if r := inv.Relays(); len(r) > 0 {
			return nil, nil, nil, fmt.Errorf("%s records a rotation of %s, but the fleet has relays (%s): a relay takes the leaf password in its "+
				"leafnodes authorization, which nats-server cannot change by reload. Nothing was changed",
				a.SecretsFile, inventory.SecretLeafPassword, r[0].Name)
		}
		accepted = append(accepted, login{a.LeafRetiring.User, a.LeafRetiring.Password.Reveal()})
		rot = &Rotation{Secret: inventory.SecretLeafPassword, OldUser: a.LeafRetiring.User, NewUser: cur.user}
	}
	if !a.LeafPassword.IsSet() {
		return desired, facts, nil, nil // loaded without secrets: nothing to compare
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
		live := n != nil && n.RunningDigest != "" && n.RunningDigest == n.DesiredDigest
		onCurrent := len(logins) > 0
		for _, l := range logins {
			if l != cur {
				onCurrent = false
			}
			// A password changed under the same user name is an ordinary change (the link
			// reconnects once both sides have it); another user name is a rotation's.
			if !slices.Contains(accepted, l) && l.user != cur.user {
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
	retire := rot != nil && len(waiting) == 0
	var hubsChanging bool
	for _, h := range inv.Hubs() {
		hubsChanging = hubsChanging || opts.Selected(h.Name)
	}
	if retire {
		// cutOff cannot hold anything here: every leaf runs the current login.
		out, outFacts := Desired{}, map[string]Facts{}
		for k, v := range desired {
			out[k] = v
		}
		for k, v := range facts {
			outFacts[k] = v
		}
		for _, h := range inv.Hubs() {
			files, err := renderHostFiles(inv, h, unit.Options{DropRetiringLeaf: true})
			if err != nil {
				return nil, nil, nil, err
			}
			out[h.Name] = files
			// The host was observed against the config with both users: a file that matched it
			// was not read (it is that config), and the digest its nats-server printed is that
			// config's. The new config's digest is taken in apply's pre-check.
			f, ok := facts[h.Name]
			if !ok {
				continue
			}
			f.Files = maps.Clone(f.Files)
			if ff, ok := f.Files[h.Hub.ConfigFile]; ok {
				ff.Content = fileContent(f, desired[h.Name], h.Hub.ConfigFile)
				f.Files[h.Hub.ConfigFile] = ff
			}
			if f.NATS != nil {
				nf := *f.NATS
				nf.DesiredDigest = ""
				f.NATS = &nf
			}
			outFacts[h.Name] = f
		}
		desired, facts = out, outFacts
	}
	if len(cutOff) > 0 && hubsChanging {
		sort.Strings(cutOff)
		return nil, nil, nil, fmt.Errorf("the hubs would be reloaded without a leaf user that running leaves still log in with, and nats-server closes "+
			"the connections of a removed user: %s. The secrets file (%s) no longer records that user (rotated twice, or "+
			"`secrets --finish-rotation` run early). If the hubs accept %s already, switch the leaves first: apply with -exclude "+
			"for every hub, then plan again; otherwise put back the secrets file from before. Nothing was changed",
			strings.Join(cutOff, ", "), a.SecretsFile, cur.user)
	}

	// Leaves switched now need every hub to accept the current login already, or to be
	// reloaded with it first in this plan's hub wave.
	if len(switching) > 0 {
		var notYet []string
		for _, h := range inv.Hubs() {
			if opts.Selected(h.Name) {
				continue
			}
			f := facts[h.Name]
			logins, err := hubLogins(fileContent(f, desired[h.Name], h.Hub.ConfigFile))
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
			return nil, nil, nil, fmt.Errorf("leaves %s would log in as %s, which hubs left out of this plan (%s) do not accept yet: "+
				"include the hubs (their wave runs first and adds %s by reload). Nothing was changed",
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
	return desired, facts, rot, nil
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

// annotateRotation gives the units of a rotation their step as a reason, and marks the
// rotation complete when this plan changes nothing for it.
func annotateRotation(inv *inventory.Inventory, p *Plan, rot *Rotation) {
	if rot == nil {
		return
	}
	changed := false
	for _, u := range p.Units {
		if u.Service != ServiceNATS || !u.Changes() {
			continue
		}
		h := inv.Host(u.Host)
		if h == nil {
			continue
		}
		switch {
		case h.Hub != nil && rot.Step == RotationAcceptAndSwitch:
			u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, step 1 of 3: the hubs accept %s beside %s", rot.Secret, rot.NewUser, rot.OldUser))
			changed = true
		case h.Hub != nil:
			u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, step 3 of 3: every leaf logs in as %s; the hubs drop %s", rot.Secret, rot.NewUser, rot.OldUser))
			changed = true
		case h.Leaf != nil && rot.Step == RotationAcceptAndSwitch:
			u.Reasons = append(u.Reasons, fmt.Sprintf("rotation of %s, step 2 of 3: the leaf logs in as %s (its link reconnects on reload)", rot.Secret, rot.NewUser))
			if u.Action == Reload {
				u.Relogin = rot.NewUser
			}
			changed = true
		}
	}
	if rot.Step == RotationRetire && !changed {
		rot.Step = RotationComplete
	}
	p.Rotation = rot
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
			Path: f.Path, Mode: uint32(f.Mode.Perm()), Service: f.Service, Kind: f.Kind, Secret: f.Secret,
			Content: f.Content, Display: shown[i].Content,
		})
	}
	return out, nil
}
