package plan_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// rotated rotates passwords.leaf in inv's secrets file and loads the inventory again.
func rotated(t *testing.T, inv *inventory.Inventory) *inventory.Inventory {
	t.Helper()
	r, err := inventory.RotatePassword(inv, inventory.SecretLeafPassword, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OldUser != "leaf" || r.NewUser != "leaf-a" {
		t.Fatalf("first rotation: %s -> %s, want leaf -> leaf-a", r.OldUser, r.NewUser)
	}
	return reload(t, inv)
}

func reload(t *testing.T, inv *inventory.Inventory) *inventory.Inventory {
	t.Helper()
	out, diags := inventory.Load(inv.Filename, inventory.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return out
}

// leafRotation is the plan's rotation of passwords.leaf, or nil.
func leafRotation(p *plan.Plan) *plan.Rotation {
	for _, r := range p.Rotations {
		if r.Secret == inventory.SecretLeafPassword {
			return r
		}
	}
	return nil
}

func render(t *testing.T, inv *inventory.Inventory) plan.Desired {
	t.Helper()
	d, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// applied is d with every config the plan changes replaced by the plan's content: the
// desired files of a fleet that applied p.
func applied(d plan.Desired, p *plan.Plan) plan.Desired {
	out := plan.Desired{}
	for host, files := range d {
		out[host] = append([]plan.DesiredFile(nil), files...)
	}
	for _, u := range p.Units {
		for _, fc := range u.Files {
			for i := range out[u.Host] {
				if out[u.Host][i].Path == fc.Path && fc.Content() != nil {
					out[u.Host][i].Content = fc.Content()
				}
			}
		}
	}
	return out
}

// digestOnly drops the content of the files observed on hosts, which match the desired ones:
// hosts read a file only when its digest differs from the desired one's.
func digestOnly(facts map[string]plan.Facts, hosts ...string) map[string]plan.Facts {
	for _, h := range hosts {
		f := facts[h]
		for path, ff := range f.Files {
			ff.Content = nil
			f.Files[path] = ff
		}
	}
	return facts
}

func configOf(t *testing.T, p *plan.Plan, id string) string {
	t.Helper()
	u := p.Unit(id)
	if u == nil {
		t.Fatalf("no unit %s", id)
	}
	for _, fc := range u.Files {
		if fc.Path == u.ConfigPath {
			return string(fc.Content())
		}
	}
	t.Fatalf("%s changes no config", id)
	return ""
}

func TestRotation_ThreeSteps(t *testing.T) {
	inv0 := plantest.LoadExample(t, "lab", nil)
	d0 := render(t, inv0)
	oldPW := inv0.Auth.LeafPassword.Reveal()
	facts := plantest.Converged(inv0, d0)

	inv := rotated(t, inv0)
	newPW := inv.Auth.LeafPassword.Reveal()
	if newPW == oldPW || inv.Auth.LeafUserName() != "leaf-a" || inv.Auth.RetiringUser("leaf").User != "leaf" {
		t.Fatalf("after rotate: user %s, retiring %s, password changed %v", inv.Auth.LeafUserName(), inv.Auth.RetiringUser("leaf").User, newPW != oldPW)
	}
	d1 := render(t, inv)

	// Steps 1 and 2: the hubs accept both users, then the leaves switch; hub wave first.
	p, err := plan.Build(inv, d1, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if leafRotation(p) == nil || leafRotation(p).Step != plan.RotationAcceptAndSwitch {
		t.Fatalf("rotation %+v, want step %s", leafRotation(p), plan.RotationAcceptAndSwitch)
	}
	got := actions(p)
	for _, id := range []string{"hub-1/nats-server", "hub-2/nats-server", "hub-3/nats-server", "edge-1/nats-server", "edge-2/nats-server", "edge-3/nats-server"} {
		if got[id] != plan.Reload {
			t.Errorf("%s: %s, want reload (%v)", id, got[id], p.Unit(id).Reasons)
		}
	}
	if r := p.Unit("edge-1/nats-server").Relogin; r != "leaf-a" {
		t.Errorf("edge-1 relogin %q, want leaf-a (apply confirms its new link)", r)
	}
	if r := p.Unit("hub-1/nats-server").Relogin; r != "" {
		t.Errorf("hub-1 relogin %q, want none", r)
	}
	hub := configOf(t, p, "hub-1/nats-server")
	if !strings.Contains(hub, `{user: "leaf-a", password: "`+newPW+`"}`) || !strings.Contains(hub, `{user: "leaf", password: "`+oldPW+`"}`) {
		t.Errorf("step 1 hub config does not accept both leaf and leaf-a:\n%s", hub)
	}
	if leaf := configOf(t, p, "edge-1/nats-server"); !strings.Contains(leaf, "leaf-a:"+newPW+"@") || strings.Contains(leaf, oldPW) {
		t.Errorf("step 2 leaf config does not log in as leaf-a only:\n%s", leaf)
	}
	if names := plantest.WaveNames(p); len(names) < 2 || names[0] != string(plan.WaveHub) || names[1] != string(plan.WaveLeaf) {
		t.Errorf("waves %v, want the hubs before the leaves", names)
	}
	raw, _ := json.Marshal(p)
	for _, secret := range []string{oldPW, newPW} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatal("plan JSON holds a leaf password")
		}
	}

	// Step 3, once every leaf runs leaf-a: the hubs drop leaf; the leaves do not change.
	d2 := applied(d1, p)
	p, err = plan.Build(inv, d1, digestOnly(plantest.Converged(inv, d2), "hub-1", "hub-2", "hub-3", "edge-1", "edge-2", "edge-3"), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if leafRotation(p) == nil || leafRotation(p).Step != plan.RotationRetire {
		t.Fatalf("rotation %+v, want step %s", leafRotation(p), plan.RotationRetire)
	}
	got = actions(p)
	for _, id := range []string{"hub-1/nats-server", "hub-2/nats-server", "hub-3/nats-server"} {
		if got[id] != plan.Reload {
			t.Errorf("step 3 %s: %s, want reload", id, got[id])
		}
	}
	for _, id := range []string{"edge-1/nats-server", "edge-2/nats-server", "edge-3/nats-server"} {
		if got[id] != plan.Noop {
			t.Errorf("step 3 %s: %s, want no change", id, got[id])
		}
	}
	if hub := configOf(t, p, "hub-1/nats-server"); strings.Contains(hub, oldPW) || strings.Contains(hub, `user: "leaf",`) || !strings.Contains(hub, `user: "leaf-a"`) {
		t.Errorf("step 3 hub config still accepts leaf, or not leaf-a:\n%s", hub)
	}

	// After step 3 nothing changes: complete, and forgetting the retiring user keeps it so.
	d3 := applied(d2, p)
	facts3 := plantest.Converged(inv, d3)
	for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
		// The hosts are observed against the config with both users: that is what their
		// nats-server -t digest is of.
		facts3[h].NATS.DesiredDigest = "sha256:" + plantest.SHA(plantest.ContentOf(d1, h, "/etc/nats/nats-server.conf"))
	}
	p, err = plan.Build(inv, d1, facts3, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || leafRotation(p) == nil || leafRotation(p).Step != plan.RotationComplete {
		t.Fatalf("after step 3: changes %v, rotation %+v; want none, complete", p.HasChanges(), leafRotation(p))
	}
	if _, err := inventory.FinishRotation(inv, inventory.SecretLeafPassword); err != nil {
		t.Fatal(err)
	}
	inv = reload(t, inv)
	p, err = plan.Build(inv, render(t, inv), plantest.Converged(inv, d3), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || len(p.Rotations) != 0 {
		t.Fatalf("after finishing: changes %v, rotations %+v; want an empty plan", p.HasChanges(), p.Rotations)
	}

	// The next rotation goes back to leaf-b... to leaf-b, then leaf-a: the pair alternates.
	r, err := inventory.RotatePassword(inv, inventory.SecretLeafPassword, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OldUser != "leaf-a" || r.NewUser != "leaf-b" {
		t.Errorf("second rotation: %s -> %s, want leaf-a -> leaf-b", r.OldUser, r.NewUser)
	}
}

// A leaf whose switch failed (its running server does not run the new config) keeps the old
// user on the hubs: step 3 waits for it and names it.
func TestRotation_FailedSwitchKeepsBothUsers(t *testing.T) {
	inv0 := plantest.LoadExample(t, "lab", nil)
	d0 := render(t, inv0)
	inv := rotated(t, inv0)
	d1 := render(t, inv)
	p, err := plan.Build(inv, d1, plantest.Converged(inv0, d0), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	facts := plantest.Converged(inv, applied(d1, p))
	// edge-2's file was written but its reload failed: it still runs the old config.
	f := facts["edge-2"]
	f.NATS.RunningDigest = "sha256:old"
	facts["edge-2"] = f
	// edge-3 was not switched at all.
	old := facts["edge-3"]
	for path, ff := range plantest.Converged(inv0, d0)["edge-3"].Files {
		old.Files[path] = ff
	}
	facts["edge-3"] = old

	p, err = plan.Build(inv, d1, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if leafRotation(p) == nil || leafRotation(p).Step != plan.RotationAcceptAndSwitch {
		t.Fatalf("rotation %+v, want step %s", leafRotation(p), plan.RotationAcceptAndSwitch)
	}
	w := strings.Join(leafRotation(p).Waiting, "; ")
	if !strings.Contains(w, "edge-2 (its config names leaf-a but the running server does not run it yet)") || !strings.Contains(w, "edge-3 (logs in as leaf)") {
		t.Errorf("waiting %q, want edge-2 and edge-3 named", w)
	}
	if a := actions(p)["hub-1/nats-server"]; a != plan.Noop {
		t.Errorf("hub-1: %s, want unchanged (it keeps leaf and leaf-a)", a)
	}
	if a := actions(p)["edge-3/nats-server"]; a != plan.Reload {
		t.Errorf("edge-3: %s, want reload onto leaf-a", a)
	}
}

// Forgetting the retiring user while a leaf still logs in with it is refused: the hubs' reload
// would close that leaf's link. Leaving the hubs out lets the leaves switch first.
func TestRotation_RefusesDroppingAUserInUse(t *testing.T) {
	inv0 := plantest.LoadExample(t, "lab", nil)
	d0 := render(t, inv0)
	inv := rotated(t, inv0)
	d1 := render(t, inv)
	p, err := plan.Build(inv, d1, plantest.Converged(inv0, d0), plan.Options{Targets: []string{"hub-1", "hub-2", "hub-3"}})
	if err != nil {
		t.Fatal(err)
	}
	// Step 1 applied on the hubs only; then the retiring user is forgotten too early.
	facts := plantest.Converged(inv, applied(d1, p))
	for _, e := range []string{"edge-1", "edge-2", "edge-3"} {
		facts[e] = plantest.Converged(inv0, d0)[e]
	}
	if _, err := inventory.FinishRotation(inv, inventory.SecretLeafPassword); err != nil {
		t.Fatal(err)
	}
	inv = reload(t, inv)
	d := render(t, inv)
	_, err = plan.Build(inv, d, facts, plan.Options{})
	if err == nil || !strings.Contains(err.Error(), "edge-1 (logs in as leaf)") || !strings.Contains(err.Error(), "-exclude") {
		t.Fatalf("plan dropping a user in use: %v, want a refusal naming edge-1 and -exclude", err)
	}
	p, err = plan.Build(inv, d, facts, plan.Options{Excludes: []string{"hub-1", "hub-2", "hub-3"}})
	if err != nil {
		t.Fatalf("leaves first, hubs excluded: %v", err)
	}
	if a := actions(p)["edge-1/nats-server"]; a != plan.Reload {
		t.Errorf("edge-1: %s, want reload onto leaf-a", a)
	}
}

// Leaves switched while the hubs that do not accept the new user yet are left out: refused.
func TestRotation_RefusesLeavesBeforeHubs(t *testing.T) {
	inv0 := plantest.LoadExample(t, "lab", nil)
	facts := plantest.Converged(inv0, render(t, inv0))
	inv := rotated(t, inv0)
	_, err := plan.Build(inv, render(t, inv), facts, plan.Options{Targets: []string{"edge-1"}})
	if err == nil || !strings.Contains(err.Error(), "edge-1 would log in as leaf-a") || !strings.Contains(err.Error(), "hub-1, hub-2, hub-3") {
		t.Fatalf("leaves before hubs: %v, want a refusal", err)
	}
}

func TestRotatePassword_Refusals(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	if _, err := inventory.RotatePassword(inv, "passwords.nope", inventory.Options{}); err == nil || !strings.Contains(err.Error(), "passwords.route") {
		t.Errorf("rotating passwords.nope: %v, want a refusal naming what rotates", err)
	}
	rotated(t, inv)
	_, err := inventory.RotatePassword(inv, inventory.SecretLeafPassword, inventory.Options{})
	if err == nil || !strings.Contains(err.Error(), "--finish-rotation") {
		t.Errorf("second rotation before finishing: %v, want a refusal naming --finish-rotation", err)
	}
}

// observed is the facts of a fleet that runs the files d, as a host reports them: the desired
// digest is the digest of inv's first render (what plan asks about), the file's digest the one
// an apply recorded for d.
func observed(inv *inventory.Inventory, d plan.Desired) map[string]plan.Facts {
	facts := plantest.Converged(inv, d)
	first := plantest.FakeDesired(inv, true)
	if r, err := plan.Render(inv); err == nil {
		first = r
	}
	for h, f := range facts {
		if f.NATS == nil {
			continue
		}
		nf := *f.NATS
		nf.DesiredDigest = "sha256:" + plantest.SHA(plantest.ContentOf(first, h, inv.Host(h).NATS().ConfigFile))
		f.NATS = &nf
		facts[h] = f
	}
	return facts
}

// With relays, the leaf password rotates in the same three steps: the relays accept both
// users on their leafnode listener (a restart: nats-server does not reload those users) and
// log in upstream as the new one while the hubs accept both (reload); the leaves below the
// relays switch (reload); then the hubs (reload) and the relays (restart) drop the old user.
func TestRotation_LeafWithRelays(t *testing.T) {
	inv0 := plantest.LoadExample(t, "tiered", nil)
	d := render(t, inv0)
	oldPW := inv0.Auth.LeafPassword.Reveal()
	inv := rotated(t, inv0)
	newPW := inv.Auth.LeafPassword.Reveal()
	want := map[string]plan.Action{"hub-1": plan.Reload, "hub-2": plan.Reload, "hub-3": plan.Reload,
		"relay-1": plan.Restart, "relay-2": plan.Restart, "edge-1": plan.Reload, "edge-2": plan.Reload, "edge-3": plan.Reload, "edge-4": plan.Reload}
	steps := []struct {
		step  string
		nats  map[string]plan.Action
		relay []string // what relay-1's listener must hold
	}{
		{plan.RotationAcceptAndSwitch, want, []string{`users: [`, `{user: "leaf-a", password: "` + newPW + `"}`, `{user: "leaf", password: "` + oldPW + `"}`}},
		{plan.RotationRetire, map[string]plan.Action{"hub-1": plan.Reload, "hub-2": plan.Reload, "hub-3": plan.Reload, "relay-1": plan.Restart, "relay-2": plan.Restart},
			[]string{`user: "leaf-a"`, `password: "` + newPW + `"`}},
	}
	facts := plantest.Converged(inv0, d)
	for i, st := range steps {
		p, err := plan.Build(inv, render(t, inv), facts, plan.Options{})
		if err != nil {
			t.Fatalf("plan %d: %v", i+1, err)
		}
		if r := leafRotation(p); r == nil || r.Step != st.step {
			t.Fatalf("plan %d: rotation %+v, want step %s", i+1, r, st.step)
		}
		for _, u := range p.Units {
			if u.Service != plan.ServiceNATS {
				if u.Changes() {
					t.Errorf("plan %d: %s %s (%v), want unchanged", i+1, u.ID(), u.Action, u.Reasons)
				}
				continue
			}
			if w, ok := st.nats[u.Host]; (ok && u.Action != w) || (!ok && u.Changes()) {
				t.Errorf("plan %d: %s %s (%v), want %s", i+1, u.ID(), u.Action, u.Reasons, w)
			}
		}
		relay := configOf(t, p, "relay-1/nats-server")
		for _, w := range st.relay {
			if !strings.Contains(relay, w) {
				t.Errorf("plan %d: relay-1's config lacks %s:\n%s", i+1, strings.Split(w, ", password")[0], relay)
			}
		}
		if i == 1 && strings.Contains(relay, oldPW) {
			t.Errorf("plan %d: relay-1's config still accepts the old password", i+1)
		}
		if i == 0 && !strings.Contains(configOf(t, p, "edge-1/nats-server"), "leaf-a:") {
			t.Error("edge-1 does not log in as leaf-a in step 2")
		}
		d = applied(d, p)
		facts = observed(inv, d)
	}
	p, err := plan.Build(inv, render(t, inv), facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := leafRotation(p); r == nil || r.Step != plan.RotationComplete || p.HasChanges() {
		t.Fatalf("after step 3: rotation %+v, changes %v; want complete and no change", r, p.HasChanges())
	}
}

// The system and check passwords rotate in two steps: the hubs accept the new user beside the
// old one, then, once every hub's config has it, drop the old one; the leaves never change.
func TestRotation_SystemAndCheck(t *testing.T) {
	inv0 := plantest.LoadExample(t, "lab", nil)
	d0 := render(t, inv0)
	oldSys, oldCheck := inv0.Auth.SystemPassword.Reveal(), inv0.Auth.CheckPassword.Reveal()
	for _, name := range []string{inventory.SecretSystemPassword, inventory.SecretCheckPassword} {
		if _, err := inventory.RotatePassword(inv0, name, inventory.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	inv := reload(t, inv0)
	if inv.Auth.UserName("system") != "sys-a" || inv.Auth.UserName("check") != "latticepush-a" {
		t.Fatalf("users %s, %s; want sys-a, latticepush-a", inv.Auth.UserName("system"), inv.Auth.UserName("check"))
	}
	d1 := render(t, inv)
	p, err := plan.Build(inv, d1, plantest.Converged(inv0, d0), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rotations) != 2 || p.Rotations[0].Step != plan.RotationAcceptAndSwitch || p.Rotations[1].Step != plan.RotationAcceptAndSwitch {
		t.Fatalf("rotations %+v, want system and check at step 1", p.Rotations)
	}
	hub := configOf(t, p, "hub-1/nats-server")
	for _, want := range []string{`{user: "sys-a", password: "` + inv.Auth.SystemPassword.Reveal() + `"}`, `{user: "sys", password: "` + oldSys + `"}`,
		`{user: "latticepush-a", password: "` + inv.Auth.CheckPassword.Reveal() + `"}`, `{user: "latticepush", password: "` + oldCheck + `"}`} {
		if !strings.Contains(hub, want) {
			t.Errorf("step 1 hub config lacks %s", strings.Split(want, ",")[0])
		}
	}
	for _, id := range []string{"edge-1/nats-server", "edge-2/nats-server", "edge-3/nats-server"} {
		if a := actions(p)[id]; a != plan.Noop {
			t.Errorf("%s: %s, want unchanged", id, a)
		}
	}

	// Every hub accepts the new users: they drop the old ones.
	d2 := applied(d1, p)
	p, err = plan.Build(inv, d1, digestOnly(plantest.Converged(inv, d2), "hub-1", "hub-2", "hub-3"), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Rotations {
		if r.Step != plan.RotationRetire {
			t.Errorf("%s: step %s, want %s", r.Secret, r.Step, plan.RotationRetire)
		}
	}
	hub = configOf(t, p, "hub-1/nats-server")
	if strings.Contains(hub, oldSys) || strings.Contains(hub, oldCheck) || !strings.Contains(hub, `user: "sys-a"`) || !strings.Contains(hub, `user: "latticepush-a"`) {
		t.Errorf("step 2 hub config still accepts the old users, or not the new ones:\n%s", hub)
	}

	// Only some hubs accept the new users (hub-3's reload is pending): nothing is dropped.
	facts := plantest.Converged(inv, d2)
	facts["hub-3"] = plantest.Converged(inv0, d0)["hub-3"]
	p, err = plan.Build(inv, d1, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Rotations {
		if r.Step != plan.RotationAcceptAndSwitch || !strings.Contains(strings.Join(r.Waiting, ";"), "hub-3 (does not accept") {
			t.Errorf("%s with hub-3 behind: step %s, waiting %v; want step 1 waiting for hub-3", r.Secret, r.Step, r.Waiting)
		}
	}
	if hub := configOf(t, p, "hub-3/nats-server"); !strings.Contains(hub, oldSys) {
		t.Error("hub-3's config drops the old system user while it does not accept the new one yet")
	}
}
