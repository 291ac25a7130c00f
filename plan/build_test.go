package plan_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"

	"github.com/latticepush/latticepush/inventory"
)

func actions(p *plan.Plan) map[string]plan.Action {
	out := map[string]plan.Action{}
	for _, u := range p.Units {
		out[u.ID()] = u.Action
	}
	return out
}

func TestBuild_EmptyFleetStartsEverythingHubFirst(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	p, err := plan.Build(inv, d, plantest.Empty(inv, d), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range p.Units {
		if u.Action != plan.Start || !u.Start || !u.Enable {
			t.Errorf("%s: action %s start=%v enable=%v, want a first start", u.ID(), u.Action, u.Start, u.Enable)
		}
	}
	var names []string
	for _, w := range p.Waves {
		names = append(names, string(w.Name))
	}
	if want := []string{"hub", "leaf", "wasmcloud"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("waves %v, want %v", names, want)
	}
	// No quorum runs yet: the hubs start together, or none could become healthy.
	if got := p.Waves[0].Batches; len(got) != 1 || len(got[0]) != 3 {
		t.Errorf("hub wave batches %v, want all three hubs in one first start", got)
	}
	// First starts have no client to protect: each wave's go together, whatever the batch.
	for _, w := range p.Waves[1:] {
		if len(w.Batches) != 1 || len(w.Batches[0]) != 3 {
			t.Errorf("%s wave batches %v, want the three first starts together", w.Name, w.Batches)
		}
	}
	if !p.HasChanges() {
		t.Error("HasChanges = false for an empty fleet")
	}
	if p.BucketReplicas != 3 || !p.EnsureBuckets {
		t.Errorf("buckets: ensure=%v replicas=%d, want true/3", p.EnsureBuckets, p.BucketReplicas)
	}
}

func TestBuild_ConvergedFleetIsNoop(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	p, err := plan.Build(inv, d, plantest.Converged(inv, d), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || len(p.Waves) != 0 {
		t.Fatalf("converged fleet: changes=%v waves=%v, want none", p.HasChanges(), p.Waves)
	}
	if got, want := p.Summary(), "Plan: 9 unchanged."; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestBuild_ReloadVersusRestart(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)

	// The leaf's running config lists only two hubs: a remotes change, reloadable on 2.14+.
	leaf := inv.Host("edge-1")
	old := bytes.Replace(plantest.NATSConf(inv, leaf, true), []byte(`, "nats-leaf://leaf:`+inv.Auth.LeafPassword.Reveal()+`@198.18.0.13:7422"`), nil, 1)
	f := facts["edge-1"]
	f.Files[leaf.Leaf.ConfigFile] = plan.FileFact{Exists: true, Mode: 0o600, SHA256: plantest.SHA(old), Content: old}
	facts["edge-1"] = f

	// hub-2 runs an old lame-duck duration: not reloadable.
	hub := inv.Host("hub-2")
	oldHub := bytes.Replace(plantest.NATSConf(inv, hub, true), []byte(`lame_duck_duration: "30s"`), []byte(`lame_duck_duration: "45s"`), 1)
	f = facts["hub-2"]
	f.Files[hub.Hub.ConfigFile] = plan.FileFact{Exists: true, Mode: 0o600, SHA256: plantest.SHA(oldHub), Content: oldHub}
	facts["hub-2"] = f

	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := actions(p)
	if got["edge-1/nats-server"] != plan.Reload {
		t.Errorf("edge-1 leaf remotes change: %s, want reload (%v)", got["edge-1/nats-server"], p.Unit("edge-1/nats-server").Reasons)
	}
	if got["hub-2/nats-server"] != plan.Restart {
		t.Errorf("hub-2 lame_duck_duration change: %s, want restart", got["hub-2/nats-server"])
	}
	if r := strings.Join(p.Unit("hub-2/nats-server").Reasons, ";"); !strings.Contains(r, "lame_duck_duration") {
		t.Errorf("hub-2 reasons %q do not name lame_duck_duration", r)
	}

	// The same remotes change on a 2.12 server needs a restart.
	f = facts["edge-1"]
	f.NATS.Version = "2.12.15"
	p, err = plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(p)["edge-1/nats-server"]; a != plan.Restart {
		t.Errorf("remotes change on 2.12: %s, want restart", a)
	}
}

func TestBuild_HubRestartsFollowersFirstLeaderLast(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", func(s string) string {
		return strings.Replace(s, `cluster_name           = "hub"`, "cluster_name = \"hub\"\n    client_port = 4333", 1)
	})
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	for _, h := range inv.Hubs() {
		f := facts[h.Name]
		old := bytes.Replace(d[h.Name][0].Content, []byte(":4333"), []byte(":4222"), 1)
		f.Files[h.Hub.ConfigFile] = plan.FileFact{Exists: true, Mode: 0o600, SHA256: plantest.SHA(old), Content: old}
		f.NATS.MetaLeader = "hub-1"
		f.NATS.ClientPort = 4222
	}
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"hub-2/nats-server"}, {"hub-3/nats-server"}, {"hub-1/nats-server"}}
	if p.Waves[0].Name != "hub" || !reflect.DeepEqual(p.Waves[0].Batches, want) {
		t.Fatalf("hub wave %v, want %v (meta leader hub-1 last)", p.Waves[0].Batches, want)
	}
}

// A hub added to a running cluster (a new one, or one replacing a lost node) starts first:
// each running node's gate asks every hub of the inventory, the new one too.
func TestBuild_NewHubStartsBeforeRunningNodesChange(t *testing.T) {
	before := plantest.LoadExample(t, "lab", nil)
	inv := plantest.LoadExample(t, "lab", func(s string) string {
		return s + "\nhost \"hub-4\" {\n  address = \"198.18.0.14\"\n  roles   = [\"hub\"]\n}\n"
	})
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	old := plantest.FakeDesired(before, true)
	for _, h := range before.Hubs() {
		f := facts[h.Name]
		conf := plantest.ContentOf(old, h.Name, h.Hub.ConfigFile)
		f.Files[h.Hub.ConfigFile] = plan.FileFact{Exists: true, Mode: 0o600, SHA256: plantest.SHA(conf), Content: conf}
		f.NATS.MetaLeader = "hub-1"
	}
	facts["hub-4"] = plantest.Empty(inv, d)["hub-4"]
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"hub-4/nats-server"}, {"hub-2/nats-server"}, {"hub-3/nats-server"}, {"hub-1/nats-server"}}
	if p.Waves[0].Name != "hub" || !reflect.DeepEqual(p.Waves[0].Batches, want) {
		t.Fatalf("hub wave %v, want %v (the new node first, meta leader hub-1 last)", p.Waves[0].Batches, want)
	}
}

func TestBuild_DomainChangeIsACutoverNeverARoll(t *testing.T) {
	inv := plantest.LoadExample(t, "domain-change", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	for _, h := range inv.Hubs() {
		facts[h.Name].NATS.Domain = "hub"
		facts[h.Name].NATS.RunningDigest = "sha256:old"
	}
	_, err := plan.Build(inv, d, facts, plan.Options{})
	if err == nil || !strings.Contains(err.Error(), "-allow-domain-change") || !strings.Contains(err.Error(), `from "hub" to "central"`) {
		t.Fatalf("domain change without -allow-domain-change: err %v", err)
	}
	p, err := plan.Build(inv, d, facts, plan.Options{AllowDomainChange: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Cutover == nil || p.Cutover.From != "hub" || p.Cutover.To != "central" || !p.Cutover.Alias {
		t.Fatalf("cutover %+v", p.Cutover)
	}
	for _, w := range p.Waves {
		if w.Name == "hub" {
			t.Fatalf("a domain change produced a node-by-node hub wave: %v", w.Batches)
		}
	}
	if w := p.Waves[0]; w.Name != "cutover" || len(w.Batches) != 1 || len(w.Batches[0]) != 3 {
		t.Fatalf("first wave %+v, want one cutover step holding all 3 hubs", w)
	}
	leafWave := p.Waves[1]
	if leafWave.Name != "leaf" || len(leafWave.GateOnly) != 3 {
		t.Errorf("after a cutover every leaf is gated: %+v", leafWave)
	}

	// A cutover needs every hub in scope.
	_, err = plan.Build(inv, d, facts, plan.Options{AllowDomainChange: true, Excludes: []string{"hub-3"}})
	if err == nil || !strings.Contains(err.Error(), "hub-3") {
		t.Errorf("cutover without hub-3: err %v, want it named", err)
	}
}

func TestBuild_RefusesHubIdentityChange(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["hub-2"].NATS.ServerName = "old-hub-2"
	facts["hub-2"].NATS.JetStream = true
	_, err := plan.Build(inv, d, facts, plan.Options{})
	want := `hub-2: server_name would change from "old-hub-2" to "hub-2" and JetStream is enabled on the running server, ` +
		`which keeps a node's name: this is a node replacement: restore server_name = "old-hub-2", or re-run with ` +
		`-replace hub-2 after draining the node`
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	p, err := plan.Build(inv, d, facts, plan.Options{Replace: []string{"hub-2"}})
	if err != nil {
		t.Fatalf("with -replace hub-2: %v", err)
	}
	// The old name leaves the meta group once the node runs under the new one.
	for _, u := range p.Units {
		want := ""
		if u.Host == "hub-2" && u.Service == plan.ServiceNATS {
			want = "old-hub-2"
		}
		if u.LeavesMetaGroup != want {
			t.Errorf("%s: leaves the meta group as %q, want %q", u.ID(), u.LeavesMetaGroup, want)
		}
	}
	// Not in the plan of a domain change, whose cutover gates on the whole group at once.
	inv.Lattice.JSDomain = "edge"
	_, err = plan.Build(inv, d, facts, plan.Options{Replace: []string{"hub-2"}, AllowDomainChange: true})
	if want := "the JetStream domain changes (hub → edge) and hub-2 change server_name (-replace): make one change at a time: " +
		"rename the nodes first, then change the domain"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("rename with a cutover: err %v\nwant %s", err, want)
	}
	// A server without JetStream is no member: nothing to remove.
	inv.Lattice.JSDomain = "hub"
	facts["hub-2"].NATS.JetStream = false
	facts["hub-2"].NATS.StoreState = true
	if p, err = plan.Build(inv, d, facts, plan.Options{Replace: []string{"hub-2"}}); err != nil {
		t.Fatal(err)
	}
	if u := p.Unit("hub-2/nats-server"); u == nil || u.LeavesMetaGroup != "" {
		t.Errorf("hub-2 without JetStream running: %+v, want no name to remove", u)
	}
}

func TestBuild_Unreachable(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["edge-2"] = plan.Facts{Host: "edge-2", Err: "dial tcp: connection refused"}
	_, err := plan.Build(inv, d, facts, plan.Options{})
	if err == nil || !strings.Contains(err.Error(), "1 leaf host unreachable, more than leaf rollout.max_unreachable = 0") {
		t.Fatalf("err %v", err)
	}
	p, err := plan.Build(inv, d, facts, plan.Options{Excludes: []string{"edge-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Unit("edge-2/nats-server") != nil || len(p.Unreachable) != 0 {
		t.Errorf("excluded host still planned")
	}
	p, err = plan.Build(plantest.LoadExample(t, "lab", func(s string) string {
		s = strings.Replace(s, `batch = "50%"`, "batch = \"50%\"\n    max_unreachable = 1", 1)
		return strings.Replace(s, `batch = 1`, "batch = 1\n    max_unreachable = 1", 1)
	}), d, facts, plan.Options{})
	if err != nil {
		t.Fatalf("within max_unreachable: %v", err)
	}
	if len(p.Unreachable) != 1 || p.Unreachable[0].Host != "edge-2" || !strings.Contains(p.Summary(), "1 host unreachable") {
		t.Errorf("unreachable %+v, summary %q", p.Unreachable, p.Summary())
	}
}

// A lock found on a converged fleet changes nothing, but the plan names it, and the
// fingerprint ignores it (apply observes again holding its own lock).
func TestBuild_LockFound(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	before, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := facts["hub-2"]
	f.Lock = `ops@laptop (pid 4242, since 2026-12-06T09:00:00Z, running "latticepush apply inventory.hcl")`
	facts["hub-2"] = f
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() {
		t.Errorf("a lock made changes: %s", p.Summary())
	}
	if len(p.Locked) != 1 || p.Locked[0].Host != "hub-2" || p.Locked[0].Holder != f.Lock {
		t.Errorf("locked %+v, want hub-2 held by %s", p.Locked, f.Lock)
	}
	want := "hub-2 holds a latticepush lock taken by " + f.Lock
	if len(p.Warnings) != 1 || !strings.HasPrefix(p.Warnings[0], want) || !strings.Contains(p.Warnings[0], "`latticepush force-unlock INVENTORY hub-2`") {
		t.Errorf("warnings %q, want one starting %q and naming force-unlock", p.Warnings, want)
	}
	if p.Fingerprints["hub-2"] != before.Fingerprints["hub-2"] {
		t.Errorf("the lock changed hub-2's fingerprint")
	}
}

func TestBuild_PendingReloadFromLiveState(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["edge-3"].NATS.RunningDigest = "sha256:previous"
	facts["hub-3"].NATS.RunningDigest = "sha256:previous"
	facts["hub-3"].NATS.ClientPort = 4999
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(p)["edge-3/nats-server"]; a != plan.Reload {
		t.Errorf("files in place, running digest differs: %s, want reload", a)
	}
	if a := actions(p)["hub-3/nats-server"]; a != plan.Restart {
		t.Errorf("running on another client port: %s, want restart", a)
	}
	facts = plantest.Converged(inv, d)
	f := facts["edge-1"]
	f.Services[plan.ServiceWasmcloud] = plan.ServiceFact{Enabled: true}
	if p, _ = plan.Build(inv, d, facts, plan.Options{}); actions(p)["edge-1/wasmcloud"] != plan.Start {
		t.Errorf("stopped wasmCloud host: %s, want start", actions(p)["edge-1/wasmcloud"])
	}
}

func TestBuild_SecretsNeverInPlanOrDiff(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	// A rotated leaf password: the host holds an old value the inventory no longer knows.
	h := inv.Host("hub-1")
	old := bytes.ReplaceAll(d["hub-1"][0].Content, []byte(inv.Auth.LeafPassword.Reveal()), []byte("OLD-secret-value"))
	facts["hub-1"].Files[h.Hub.ConfigFile] = plan.FileFact{Exists: true, Mode: 0o600, SHA256: plantest.SHA(old), Content: old}
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := plan.Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(p)
	for _, secret := range []string{inv.Auth.LeafPassword.Reveal(), "OLD-secret-value", inv.Host("edge-1").Wasmcloud.HostSeed.Reveal()} {
		if bytes.Contains(buf.Bytes(), []byte(secret)) || bytes.Contains(js, []byte(secret)) {
			t.Errorf("a secret value appears in the plan")
		}
	}
	diff := p.Unit("hub-1/nats-server").Files[0].Diff
	if !strings.Contains(diff, "-accounts { LATTICE { jetstream: enabled, users: [ {user: leaf, password: "+inventory.Redacted+"} ] } }") ||
		!strings.Contains(diff, "+accounts { LATTICE { jetstream: enabled, users: [ {user: leaf, password: \"${secret:passwords.leaf}\"} ] } }") {
		t.Errorf("diff does not show the rotation redacted:\n%s", diff)
	}
}

func TestBuild_ChangedHostKeyStopsThePlan(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", func(s string) string {
		s = strings.Replace(s, `batch = "50%"`, "batch = \"50%\"\n    max_unreachable = 3", 1)
		return strings.Replace(s, `batch = 1`, "batch = 1\n    max_unreachable = 3", 1)
	})
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["edge-2"] = plan.Facts{Host: "edge-2", Err: "host key mismatch for 198.18.0.22", Refused: true}
	_, err := plan.Build(inv, d, facts, plan.Options{})
	if err == nil || !strings.Contains(err.Error(), "edge-2: host key mismatch") {
		t.Fatalf("a changed host key within max_unreachable: err %v, want the plan stopped naming edge-2", err)
	}
	facts["edge-2"] = plan.Facts{Host: "edge-2", Err: "dial tcp 198.18.0.22:22: connect: no route to host"}
	facts["edge-3"] = plan.Facts{Host: "edge-3", Err: "dial tcp 198.18.0.23:22: i/o timeout"}
	inv2 := plantest.LoadExample(t, "lab", nil)
	_, err = plan.Build(inv2, d, facts, plan.Options{})
	if err == nil || !strings.Contains(err.Error(), "edge-2 (dial tcp 198.18.0.22:22: connect: no route to host)") ||
		!strings.Contains(err.Error(), "edge-3 (dial tcp") {
		t.Fatalf("unreachable hosts not named with their errors: %v", err)
	}
}

func TestBuild_RestartDueWhenAFileChangedAfterStart(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	h := inv.Host("edge-1")
	// The env file is in place, but the running host started before it changed: an earlier
	// apply swapped it in and was cut before the restart.
	sf := facts["edge-1"].Services[plan.ServiceWasmcloud]
	sf.Started = 1000
	facts["edge-1"].Services[plan.ServiceWasmcloud] = sf
	ff := facts["edge-1"].Files[h.Wasmcloud.EnvFile]
	ff.MTime = 1005
	facts["edge-1"].Files[h.Wasmcloud.EnvFile] = ff
	// A nats config newer than its server is normal after a reload: no restart for that.
	nf := facts["edge-2"].Services[plan.ServiceNATS]
	nf.Started = 1000
	facts["edge-2"].Services[plan.ServiceNATS] = nf
	cf := facts["edge-2"].Files[inv.Host("edge-2").Leaf.ConfigFile]
	cf.MTime = 2000
	facts["edge-2"].Files[inv.Host("edge-2").Leaf.ConfigFile] = cf
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(p)["edge-1/wasmcloud"]; a != plan.Restart {
		t.Errorf("env file newer than the running host: %s, want restart", a)
	}
	if a := actions(p)["edge-2/nats-server"]; a != plan.Noop {
		t.Errorf("reloaded config newer than its server: %s, want noop", a)
	}
}
