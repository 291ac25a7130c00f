package rollout

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"

	"github.com/latticepush/latticepush/inventory"
)

type applyFixture struct {
	inv   *inventory.Inventory
	d     plan.Desired
	opts  plan.Options
	fleet *fakeFleet
	gates *fakeGates
	// settle is Options.Settle (0: the default).
	settle time.Duration
}

func newApplyFixture(t *testing.T, example string, start func(*inventory.Inventory, plan.Desired) map[string]plan.Facts) *applyFixture {
	inv := plantest.LoadExample(t, example, nil)
	d := plantest.FakeDesired(inv, true)
	configs := map[string]string{}
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil {
			configs[h.Name] = n.ConfigFile
		}
	}
	ff := newFakeFleet(start(inv, d), configs)
	// The lattice buckets exist where every hub node runs already.
	made := true
	for _, h := range inv.Hubs() {
		made = made && ff.hosts[h.Name].running[plan.ServiceNATS]
	}
	return &applyFixture{inv: inv, d: d, fleet: ff, gates: &fakeGates{ff: ff, failGate: map[string]bool{}, bucketsMade: made}}
}

func (fx *applyFixture) plan(t *testing.T) (*plan.Plan, []plan.Probe) {
	t.Helper()
	probes := plan.Probes(fx.inv, fx.d, fx.opts)
	p, err := plan.Build(fx.inv, fx.d, fx.fleet.Observe(context.Background(), probes), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, probes
}

func (fx *applyFixture) apply(ctx context.Context, p *plan.Plan, probes []plan.Probe, events func(Event)) (*Result, error) {
	replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return plan.Build(fx.inv, fx.d, facts, fx.opts) }
	return Apply(ctx, Target{Plan: p, Probes: probes, Replan: replan}, fx.fleet, fx.gates, Options{Events: events, GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond, Settle: fx.settle})
}

func results(r *Result) map[string]string {
	out := map[string]string{}
	for _, u := range r.Units {
		out[u.Unit] = string(u.Result)
	}
	return out
}

func (fx *applyFixture) assertUnlockedNoTemps(t *testing.T) {
	t.Helper()
	for name, h := range fx.fleet.hosts {
		if h.locked {
			t.Errorf("%s still locked", name)
		}
	}
	if n := fx.fleet.tempCount(); n != 0 {
		t.Errorf("%d staged temp files left behind", n)
	}
}

func TestApply_EmptyFleetConvergesThenNoop(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	res, err := fx.apply(context.Background(), p, probes, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range results(res) {
		if r != "applied" {
			t.Errorf("%s: %s, want applied", id, r)
		}
	}
	if !fx.gates.verified {
		t.Error("apply did not verify")
	}
	fx.assertUnlockedNoTemps(t)
	// Hubs first: every hub was started before any leaf.
	var order []string
	for _, l := range fx.fleet.log {
		if strings.HasSuffix(l, "nats-server start") {
			order = append(order, strings.Fields(l)[0])
		}
	}
	sort.Strings(order[:3])
	sort.Strings(order[3:]) // first starts of a wave go together
	if want := []string{"hub-1", "hub-2", "hub-3", "edge-1", "edge-2", "edge-3"}; !reflect.DeepEqual(order, want) {
		t.Errorf("start order %v, want %v", order, want)
	}
	if got := fx.fleet.log; !contains(got, "buckets 3") {
		t.Error("lattice buckets were not ensured")
	}

	// The second plan has nothing to do, and applying it touches nothing.
	p2, probes := fx.plan(t)
	if p2.HasChanges() {
		t.Fatalf("second plan has changes: %s", p2.Summary())
	}
	before := len(fx.fleet.log)
	if _, err := fx.apply(context.Background(), p2, probes, nil); err != nil {
		t.Fatal(err)
	}
	if extra := fx.fleet.log[before:]; len(extra) != 0 {
		t.Errorf("no-change apply did %v", extra)
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestApply_StalePlanRefused(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	p, probes := fx.plan(t)
	// Between plan and apply, someone edits a file on edge-2.
	fx.fleet.hosts["edge-2"].files["/etc/sv/wasmcloud/run"] = []byte("#!/bin/sh\nexec edited\n")
	_, err := fx.apply(context.Background(), p, probes, nil)
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "edge-2: what was observed on the host changed") {
		t.Fatalf("err %v, want a stale plan naming edge-2", err)
	}
	if ops := fx.fleet.opsOf("edge-2"); len(ops) != 0 {
		t.Errorf("stale apply touched edge-2: %v", ops)
	}
	fx.assertUnlockedNoTemps(t)

	// A plan made against an empty host is stale once the host is no longer empty.
	fx = newApplyFixture(t, "lab", plantest.Empty)
	p, probes = fx.plan(t)
	fx.fleet.hosts["hub-1"].files["/etc/nats/nats-server.conf"] = []byte("port: 4222\n")
	if _, err := fx.apply(context.Background(), p, probes, nil); !errors.Is(err, ErrStale) {
		t.Fatalf("host empty at plan time, not at apply: err %v", err)
	}
}

func TestApply_GateFailureRollsBackAndStops(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		fx.fleet.hosts[h].files["/etc/sv/wasmcloud/run"] = []byte("#!/bin/sh\nexec old\n")
	}
	fx.gates.failGate["edge-1"] = true
	p, probes := fx.plan(t)
	res, err := fx.apply(context.Background(), p, probes, nil)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "edge-1/wasmcloud") {
		t.Fatalf("err %v, want rolled back naming edge-1/wasmcloud", err)
	}
	got := results(res)
	if got["edge-1/wasmcloud"] != "rollback failed" && got["edge-1/wasmcloud"] != "rolled back" {
		t.Errorf("edge-1: %s", got["edge-1/wasmcloud"])
	}
	if string(fx.fleet.hosts["edge-1"].files["/etc/sv/wasmcloud/run"]) != "#!/bin/sh\nexec old\n" {
		t.Error("edge-1's previous run script was not restored")
	}
	for _, h := range []string{"edge-2", "edge-3"} {
		if got[h+"/wasmcloud"] != "not reached" {
			t.Errorf("%s: %s, want not reached", h, got[h+"/wasmcloud"])
		}
		for _, op := range fx.fleet.opsOf(h) {
			if strings.HasPrefix(op, "swap") || strings.Contains(op, "restart") {
				t.Errorf("%s was changed after the rollout stopped: %s", h, op)
			}
		}
	}
	if fx.gates.verified {
		t.Error("verify ran after a rollback")
	}
	fx.assertUnlockedNoTemps(t)
}

func TestApply_HubStartFailureRollsBackOthersUntouched(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	for _, h := range fx.inv.Hubs() {
		fx.fleet.hosts[h.Name].files["/etc/sv/nats-server/run"] = []byte("#!/bin/sh\nold\n")
	}
	fx.fleet.failOn["hub-2 restart"] = errors.New("once: nats-server exited: address already in use")
	p, probes := fx.plan(t)
	res, err := fx.apply(context.Background(), p, probes, nil)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err %v", err)
	}
	got := results(res)
	if got["hub-1/nats-server"] != "not reached" || got["hub-3/nats-server"] != "not reached" || got["hub-2/nats-server"] != "rolled back" {
		t.Errorf("results %v: hub-2 (first follower) rolled back, hub-3 and hub-1 (leader) not reached", got)
	}
	if string(fx.fleet.hosts["hub-2"].files["/etc/sv/nats-server/run"]) != "#!/bin/sh\nold\n" {
		t.Error("hub-2 not restored")
	}
	for _, h := range []string{"hub-1", "hub-3"} {
		for _, op := range fx.fleet.opsOf(h) {
			if strings.HasPrefix(op, "swap") || strings.Contains(op, "restart") {
				t.Errorf("%s touched: %s", h, op)
			}
		}
	}
	fx.assertUnlockedNoTemps(t)
}

func TestApply_UnconfirmedReloadRollsBack(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	leaf := fx.inv.Host("edge-1")
	old := strings.Replace(string(fx.d["edge-1"][0].Content), `"30s"`, `"31s"`, 1)
	old = strings.Replace(old, "lame_duck_duration", "# x\nlame_duck_duration", 1)
	_ = leaf
	// Make the change reloadable: same parsed config except a comment → reload (formatting).
	fx.fleet.hosts["edge-1"].files["/etc/nats/nats-server.conf"] = []byte("# old\n" + string(fx.d["edge-1"][0].Content))
	fx.fleet.hosts["edge-1"].digest = "sha256:" + plantest.SHA([]byte("# old\n"+string(fx.d["edge-1"][0].Content)))
	fx.fleet.failOn["edge-1 reload-silently"] = errors.New("reload failed, exit 0")
	p, probes := fx.plan(t)
	if a := p.Unit("edge-1/nats-server").Action; a != plan.Reload {
		t.Fatalf("action %s, want reload", a)
	}
	_, err := fx.apply(context.Background(), p, probes, nil)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("err %v, want an unconfirmed reload rolled back", err)
	}
	fx.assertUnlockedNoTemps(t)
}

func TestApply_LockHeldRefusesEverything(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	fx.fleet.hosts["edge-3"].locked = true
	_, err := fx.apply(context.Background(), p, probes, nil)
	if err == nil || !strings.Contains(err.Error(), "edge-3: locked by another apply") {
		t.Fatalf("err %v", err)
	}
	if n := len(fx.fleet.log); n != 0 {
		t.Errorf("a refused apply did %v", fx.fleet.log)
	}
	fx.fleet.hosts["edge-3"].locked = false
	fx.assertUnlockedNoTemps(t)
}

// heldDown lists the services still held down by an early supervise, "host/service".
func (ff *fakeFleet) heldDown() []string {
	var out []string
	for name, h := range ff.hosts {
		for svc := range h.heldDown {
			out = append(out, name+"/"+svc)
		}
	}
	sort.Strings(out)
	return out
}

// A first deployment makes every new service known to its supervisor while its host stages,
// before any wave starts one there; each is enabled before its start.
func TestApply_FirstStartsSupervisedWhileStaging(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	if _, err := fx.apply(context.Background(), p, probes, nil); err != nil {
		t.Fatal(err)
	}
	firstStart, supervised := map[string]int{}, 0
	for i, l := range fx.fleet.log {
		host, _, _ := strings.Cut(l, " ")
		if _, ok := firstStart[host]; !ok && strings.HasSuffix(l, " start") {
			firstStart[host] = i
		}
		if strings.HasSuffix(l, " supervise") {
			supervised++
			if at, ok := firstStart[host]; ok {
				t.Errorf("%s after the host's first start (%s)", l, fx.fleet.log[at])
			}
		}
	}
	if want := len(p.Units); supervised != want {
		t.Errorf("%d services supervised early, want every one of the %d first starts", supervised, want)
	}
	if left := fx.fleet.heldDown(); len(left) > 0 {
		t.Errorf("held down after a successful apply: %v", left)
	}
}

// A failed apply takes every first start it did not reach off the supervisor again, and a
// rolled-back first start is disabled: nothing stays held down.
func TestApply_FailureLeavesNothingSupervised(t *testing.T) {
	for _, fail := range []string{"edge-2 check", "hub-3 start", "edge-1 start"} {
		t.Run(fail, func(t *testing.T) {
			fx := newApplyFixture(t, "lab", plantest.Empty)
			fx.fleet.hosts["edge-2"].unchecked = true // else the pre-check does not run -t there
			p, probes := fx.plan(t)
			fx.fleet.failOn[fail] = errors.New("broken")
			if _, err := fx.apply(context.Background(), p, probes, nil); err == nil {
				t.Fatal("apply passed")
			}
			if left := fx.fleet.heldDown(); len(left) > 0 {
				t.Errorf("held down after a failed apply: %v", left)
			}
			if !slices.ContainsFunc(fx.fleet.log, func(l string) bool { return strings.HasSuffix(l, " supervise") }) {
				t.Errorf("nothing was supervised early: %v", fx.fleet.log)
			}
			fx.assertUnlockedNoTemps(t)
		})
	}
}

// A host that cannot stage stops the apply before anything is swapped in or restarted: a
// hub of a first deployment (the hosts of a first wave of first starts stage first), or any
// host when a service already runs in the first wave.
func TestApply_StageFailureChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, fail string
		start      func(*inventory.Inventory, plan.Desired) map[string]plan.Facts
	}{
		{"first deployment, a hub", "hub-2", plantest.Empty},
		{"hubs running, an edge", "edge-2", plantest.Converged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newApplyFixture(t, "lab", tc.start)
			for name, h := range fx.fleet.hosts { // a change everywhere: every host stages
				svc := "wasmcloud"
				if strings.HasPrefix(name, "hub-") {
					svc = "nats-server"
				}
				if _, ok := h.files["/etc/sv/"+svc+"/run"]; ok {
					h.files["/etc/sv/"+svc+"/run"] = []byte("#!/bin/sh\nexec old\n")
				}
			}
			p, probes := fx.plan(t)
			fx.fleet.failOn[tc.fail+" stage"] = errors.New("no space left on device")
			_, err := fx.apply(context.Background(), p, probes, nil)
			if err == nil || !strings.Contains(err.Error(), "staging failed; nothing was swapped in or restarted") {
				t.Fatalf("err %v", err)
			}
			for _, l := range fx.fleet.log {
				if strings.Contains(l, " swap") || strings.Contains(l, " start") || strings.Contains(l, " restart") {
					t.Errorf("changed after a failed stage: %s", l)
				}
			}
			fx.assertUnlockedNoTemps(t)
		})
	}
}

// A first deployment's hub wave (first starts only) begins once the hubs staged, while the
// edges stage: an edge's staging is held until a hub starts, and the apply passes. The leaf
// wave waits for the edges.
func TestApply_FirstWaveOfFirstStartsOverlapsStaging(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	hubStarted, leafWaveWaits := make(chan struct{}), make(chan struct{})
	var once, onceWait sync.Once
	hold := func(ch chan struct{}, what string) {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Error(what)
		}
	}
	fx.fleet.beforeOp = func(host, op string) {
		switch {
		case strings.HasPrefix(host, "hub-") && op == "nats-server start":
			once.Do(func() { close(hubStarted) })
		case host == "edge-2" && op == "stage":
			hold(hubStarted, "edge-2 staged before any hub started: the hub wave waited for every host's staging")
			hold(leafWaveWaits, "the leaf wave did not wait for edge-2's staging")
		}
	}
	var waits []string
	if _, err := fx.apply(context.Background(), p, probes, func(e Event) {
		if e.Phase == PhaseStage && (e.Type == EventWait || e.Type == EventWaited) {
			waits = append(waits, string(e.Type))
			onceWait.Do(func() { close(leafWaveWaits) })
		}
	}); err != nil {
		t.Fatal(err)
	}
	firstLeaf := slices.IndexFunc(fx.fleet.log, func(l string) bool {
		return strings.HasPrefix(l, "edge-") && strings.HasSuffix(l, " nats-server start")
	})
	lastStage := -1
	for i, l := range fx.fleet.log {
		if strings.HasPrefix(l, "edge-") && strings.Contains(l, " stage ") {
			lastStage = i
		}
	}
	if firstLeaf < 0 || lastStage < 0 || lastStage > firstLeaf {
		t.Errorf("an edge staged (log %d) after the leaf wave began (log %d): %v", lastStage, firstLeaf, fx.fleet.log)
	}
	if !slices.Equal(waits, []string{"wait", "waited"}) {
		t.Errorf("stage wait events %v, want the leaf wave to say it waited for the edges' staging", waits)
	}
}

// Ctrl-C while the hub wave runs and the edges stage is an interruption, not a staging
// failure: no edge is changed and nothing is left behind.
func TestApply_InterruptWhileOthersStage(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hubStarted := make(chan struct{})
	var once sync.Once
	fx.fleet.beforeOp = func(host, op string) {
		switch {
		case strings.HasPrefix(host, "hub-") && op == "nats-server start":
			once.Do(func() { cancel(); close(hubStarted) })
		case host == "edge-2" && op == "stage":
			<-hubStarted
		}
	}
	_, err := fx.apply(ctx, p, probes, nil)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || strings.Contains(err.Error(), "staging the other") {
		t.Fatalf("err %v, want an interruption", err)
	}
	fx.assertEdgesUntouched(t, "the interrupt")
}

// assertEdgesUntouched checks that no edge was swapped in or started after what stopped the
// apply, that nothing is held down, and that every lock and temp file is gone.
func (fx *applyFixture) assertEdgesUntouched(t *testing.T, after string) {
	t.Helper()
	for _, l := range fx.fleet.log {
		if strings.HasPrefix(l, "edge-") && (strings.Contains(l, " swap") || strings.Contains(l, " start")) {
			t.Errorf("an edge changed after %s: %s", after, l)
		}
	}
	if left := fx.fleet.heldDown(); len(left) > 0 {
		t.Errorf("held down after %s: %v", after, left)
	}
	fx.assertUnlockedNoTemps(t)
}

// An edge that cannot stage while a first deployment's hub wave runs stops the apply before
// the leaf wave: the hubs' first starts stay, no edge is changed, and the error says so.
func TestApply_LaterStageFailureKeepsFirstStarts(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	fx.fleet.failOn["edge-2 stage"] = errors.New("no space left on device")
	res, err := fx.apply(context.Background(), p, probes, nil)
	want := "staging the other 3 hosts failed while the hub wave ran; that wave's first starts stay applied (nothing ran there before), nothing else was swapped in or restarted:\nedge-2: stage: no space left on device"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	got := results(res)
	for _, u := range p.Units {
		want := "not reached"
		if u.Role == plan.RoleHub {
			want = "applied"
		}
		if got[u.ID()] != want {
			t.Errorf("%s: %s, want %s", u.ID(), got[u.ID()], want)
		}
	}
	fx.assertEdgesUntouched(t, "the edges' staging failed")
}

func TestApply_InterruptStopsAtBatchBoundary(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := fx.apply(ctx, p, probes, func(e Event) {
		if e.Type == "unit_start" && e.Unit == "edge-1/nats-server" {
			cancel()
		}
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want canceled", err)
	}
	got := results(res)
	if got["edge-1/nats-server"] != "applied" {
		t.Errorf("the unit in progress did not finish: %s", got["edge-1/nats-server"])
	}
	// The leaves' first starts are one batch: it finishes; the next wave is not started.
	if got["edge-2/nats-server"] != "applied" {
		t.Errorf("edge-2: %s, want applied with edge-1 in its batch", got["edge-2/nats-server"])
	}
	if got["edge-1/wasmcloud"] != "not reached" {
		t.Errorf("edge-1/wasmcloud: %s, want not reached", got["edge-1/wasmcloud"])
	}
	if left := fx.fleet.heldDown(); len(left) > 0 {
		t.Errorf("held down after an interrupted apply: %v", left)
	}
	fx.assertUnlockedNoTemps(t)
}

// cutoverFixture is the domain-change example with every hub still running domain "hub":
// the fixture and its cutover plan (from "hub" to "central").
func cutoverFixture(t *testing.T) (*applyFixture, *plan.Plan, []plan.Probe) {
	t.Helper()
	fx := newApplyFixture(t, "domain-change", plantest.Converged)
	for _, h := range fx.inv.Hubs() {
		old := strings.Replace(string(fx.d[h.Name][0].Content), `domain: "central"`, `domain: "hub"`, 1)
		fx.fleet.hosts[h.Name].files[h.Hub.ConfigFile] = []byte(old)
		fx.fleet.hosts[h.Name].digest = "sha256:" + plantest.SHA([]byte(old))
	}
	fx.opts.AllowDomainChange = true
	probes := plan.Probes(fx.inv, fx.d, fx.opts)
	facts := fx.fleet.Observe(context.Background(), probes)
	for _, h := range fx.inv.Hubs() {
		facts[h.Name].NATS.Domain = "hub" // what /varz says
	}
	p, err := plan.Build(fx.inv, fx.d, facts, fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	return fx, p, probes
}

func TestApply_CutoverStopsAllThenStartsAll(t *testing.T) {
	fx, p, probes := cutoverFixture(t)
	replan := func(map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
	_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, fx.fleet, fx.gates, Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// No hub starts before every hub has stopped.
	lastStop, firstStart := -1, len(fx.fleet.log)
	for i, l := range fx.fleet.log {
		if strings.HasPrefix(l, "hub-") && strings.HasSuffix(l, "nats-server stop") {
			lastStop = i
		}
		if strings.HasPrefix(l, "hub-") && strings.HasSuffix(l, "nats-server start") && i < firstStart {
			firstStart = i
		}
	}
	if lastStop < 0 || firstStart < lastStop {
		t.Fatalf("cutover order wrong (last stop %d, first start %d): %v", lastStop, firstStart, fx.fleet.log)
	}
	// A hub that cannot start on the new domain puts every hub back.
	fx = newApplyFixture(t, "domain-change", plantest.Converged)
	fx.fleet.failOn["hub-3 start"] = errors.New("invalid domain")
	for _, h := range fx.inv.Hubs() {
		old := strings.Replace(string(fx.d[h.Name][0].Content), `domain: "central"`, `domain: "hub"`, 1)
		fx.fleet.hosts[h.Name].files[h.Hub.ConfigFile] = []byte(old)
	}
	_, err = Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, fx.fleet, fx.gates, Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("failed cutover: err %v", err)
	}
	for _, h := range []string{"hub-1", "hub-2"} {
		if c := string(fx.fleet.hosts[h].files["/etc/nats/nats-server.conf"]); !strings.Contains(c, `domain: "hub"`) {
			t.Errorf("%s not restored to the old domain", h)
		}
	}
}

func TestApply_FromSavedPlanFile(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	p, probes := fx.plan(t)
	var buf bytes.Buffer
	if err := plan.Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	saved, err := plan.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.apply(context.Background(), saved, probes, nil); err != nil {
		t.Fatalf("apply of a saved plan: %v", err)
	}
	for _, h := range fx.inv.Hosts {
		for _, f := range fx.d[h.Name] {
			if got := fx.fleet.hosts[h.Name].files[f.Path]; !bytes.Equal(got, f.Content) {
				t.Errorf("%s:%s holds %d bytes, want the rendered %d", h.Name, f.Path, len(got), len(f.Content))
			}
		}
	}
}

// TestApply_CutoverSnapshotBeforeAnyStop: with SnapshotDir the buckets are saved on the old
// domain after the preflight and before any hub stops; a failed snapshot changes nothing.
func TestApply_CutoverSnapshotBeforeAnyStop(t *testing.T) {
	for _, fail := range []bool{false, true} {
		fx, p, probes := cutoverFixture(t)
		g := fx.gates
		if fail {
			g.snapErr = errors.New("no responders")
		}
		replan := func(map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
		var events []Event
		_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, fx.fleet, g, Options{GateTimeout: time.Second,
			ConfirmTimeout: 300 * time.Millisecond, SnapshotDir: "/backup", Events: func(e Event) { events = append(events, e) }})
		snap, firstStop := -1, -1
		for i, l := range fx.fleet.log {
			if l == "snapshot hub /backup" {
				snap = i
			}
			if strings.HasSuffix(l, "nats-server stop") && firstStop < 0 {
				firstStop = i
			}
		}
		if snap < 0 {
			t.Fatalf("fail=%v: no snapshot on domain hub: %v", fail, fx.fleet.log)
		}
		if !fail {
			if err != nil || firstStop < snap {
				t.Fatalf("snapshot at %d, first stop at %d, err %v: %v", snap, firstStop, err, fx.fleet.log)
			}
			saved := false
			for _, e := range events {
				saved = saved || (e.Type == "snapshot" && strings.Contains(e.Message, "/backup/LATTICEDATA_default-hub.json"))
			}
			if !saved {
				t.Errorf("no snapshot event naming the file: %+v", events)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "nothing was changed") || errors.Is(err, ErrRolledBack) {
			t.Fatalf("failed snapshot: err %v", err)
		}
		for _, l := range fx.fleet.log {
			if strings.HasSuffix(l, " swap") || strings.HasSuffix(l, " stop") || strings.HasSuffix(l, " start") {
				t.Errorf("a failed snapshot went on to %q", l)
			}
		}
	}
}

// hubRollAndWasmcloudChange is the lab example with a restart pending on every hub node and
// on every wasmCloud host (run scripts changed), the leaves' links taking linkDelay to come
// back after each hub restart.
func hubRollAndWasmcloudChange(t *testing.T, linkDelay time.Duration) (*applyFixture, *plan.Plan, []plan.Probe) {
	t.Helper()
	fx := newApplyFixture(t, "lab", plantest.Converged)
	for _, h := range fx.inv.Hubs() {
		fx.fleet.hosts[h.Name].files["/etc/sv/nats-server/run"] = []byte("#!/bin/sh\nold\n")
	}
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		fx.fleet.hosts[h].files["/etc/sv/wasmcloud/run"] = []byte("#!/bin/sh\nexec old\n")
	}
	fx.fleet.linkDelay = linkDelay
	p, probes := fx.plan(t)
	var names []string
	for _, w := range p.Waves {
		names = append(names, string(w.Name))
	}
	if strings.Join(names, ",") != "hub,wasmcloud" {
		t.Fatalf("waves %v, want hub, wasmcloud", names)
	}
	return fx, p, probes
}

// TestApply_WasmcloudWaveWaitsForLeafLinks: the hub wave restarts hub nodes, so the leaves
// reconnect; before the wasmCloud wave touches a machine, its leaf gate passes again, and the
// wait is reported with its duration.
func TestApply_WasmcloudWaveWaitsForLeafLinks(t *testing.T) {
	fx, p, probes := hubRollAndWasmcloudChange(t, 300*time.Millisecond)
	var events []Event
	res, err := fx.apply(context.Background(), p, probes, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, l := range fx.fleet.log {
		if strings.HasSuffix(l, "started unlinked") {
			t.Errorf("%s: a wasmCloud host was restarted before its leaf's link was back", l)
		}
	}
	var wait, done *Event
	for i, e := range events {
		switch {
		case e.Type == "wait" && e.Wave == "wasmcloud" && e.Unit == "":
			wait = &events[i]
		case e.Type == "waited" && e.Wave == "wasmcloud":
			done = &events[i]
		}
	}
	if wait == nil || done == nil {
		t.Fatalf("no wait for the leaf links before the wasmcloud wave in %+v", events)
	}
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		if !strings.Contains(wait.Message, h) || !strings.Contains(done.Message, h) {
			t.Errorf("the wait does not name %s: %q / %q", h, wait.Message, done.Message)
		}
		if got := results(res)[h+"/wasmcloud"]; got != "applied" {
			t.Errorf("%s/wasmcloud: %s", h, got)
		}
	}
	if done.Elapsed < 0.1 || !strings.Contains(done.Message, "s") {
		t.Errorf("the wait reports %.2fs (%q); the links took 0.3 s to come back", done.Elapsed, done.Message)
	}
	t.Logf("%s / %s", wait.Message, done.Message)

	// Without a hub restart there is nothing to wait for: a wasmCloud-only change has no wait.
	fx = newApplyFixture(t, "lab", plantest.Converged)
	fx.fleet.hosts["edge-2"].files["/etc/sv/wasmcloud/run"] = []byte("#!/bin/sh\nexec old\n")
	p, probes = fx.plan(t)
	events = nil
	if _, err := fx.apply(context.Background(), p, probes, func(e Event) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Type == "waited" {
			t.Errorf("a wait without a hub restart: %+v", e)
		}
	}
}

// TestApply_LeafNotBackStopsTheNextWave: a leaf whose link does not come back within the gate
// timeout after the hub wave keeps the wasmCloud wave from touching its machine; with
// max_failures = 0 the wave does not start at all and says why.
func TestApply_LeafNotBackStopsTheNextWave(t *testing.T) {
	fx, p, probes := hubRollAndWasmcloudChange(t, time.Hour)
	res, err := fx.apply(context.Background(), p, probes, nil)
	if err == nil || !strings.Contains(err.Error(), "edge-1") || !strings.Contains(err.Error(), "nothing in this wave was changed") {
		t.Fatalf("err %v, want the wasmcloud wave refused, naming edge-1", err)
	}
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		for _, op := range fx.fleet.opsOf(h) {
			if strings.Contains(op, "wasmcloud") || strings.HasPrefix(op, "swap") {
				t.Errorf("%s changed although its leaf's link is down: %s", h, op)
			}
		}
		if got := results(res)[h+"/wasmcloud"]; got != "not reached" {
			t.Errorf("%s/wasmcloud: %s, want not reached", h, got)
		}
	}
	for _, h := range fx.inv.Hubs() {
		if got := results(res)[h.Name+"/nats-server"]; got != "applied" {
			t.Errorf("%s: %s, want applied", h.Name, got)
		}
	}
	if fx.gates.verified {
		t.Error("verify ran after a wave that did not start")
	}
	fx.assertUnlockedNoTemps(t)
}

// TestApply_GateTimeoutPerRole: a role's gate_timeout bounds its units' gates, here the leaf
// gate that a hub roll makes the wasmCloud wave wait for (whose link never comes back); the
// other roles' gates keep apply's default.
func TestApply_GateTimeoutPerRole(t *testing.T) {
	fx, p, probes := hubRollAndWasmcloudChange(t, time.Hour)
	// apply plans again under the lock, from the inventory: the role's setting is there.
	for _, h := range fx.inv.HostsWithRole(inventory.RoleLeaf) {
		ro := h.Rollout[inventory.RoleLeaf]
		ro.GateTimeout = 200 * time.Millisecond
		h.Rollout[inventory.RoleLeaf] = ro
	}
	_, err := fx.apply(context.Background(), p, probes, nil)
	if err == nil || !strings.Contains(err.Error(), "edge-1") || !strings.Contains(err.Error(), "(the gate timeout is 200ms; a role's rollout { gate_timeout") {
		t.Fatalf("err %v, want the wasmcloud wave refused, naming edge-1 and the gate timeout it ran out of", err)
	}
	leaf, hub := fx.gates.budgets["leaf edge-1"], fx.gates.budgets["hub hub-1"]
	if leaf <= 0 || leaf > 200*time.Millisecond {
		t.Errorf("edge-1's leaf gate had %s, want at most the leaf role's gate_timeout, 200ms", leaf)
	}
	if hub <= 200*time.Millisecond || hub > time.Second {
		t.Errorf("hub-1's gate had %s, want apply's default (1s here), not the leaf role's", hub)
	}
}

// TestApply_LeafWaveNotHeldByItsOwnLeaves: a leaf changed by the leaf wave is not waited for
// before its change (the change may be what links it again); its own gate proves it, and the
// wasmCloud wave after it then has nothing to wait for.
func TestApply_LeafWaveNotHeldByItsOwnLeaves(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	for _, h := range fx.inv.Hubs() {
		fx.fleet.hosts[h.Name].files["/etc/sv/nats-server/run"] = []byte("#!/bin/sh\nold\n")
	}
	for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
		fx.fleet.hosts[h].files["/etc/sv/nats-server/run"] = []byte("#!/bin/sh\nold\n")
		fx.fleet.hosts[h].files["/etc/sv/wasmcloud/run"] = []byte("#!/bin/sh\nexec old\n")
	}
	fx.fleet.linkDelay = time.Hour // links come back only when the leaves restart
	p, probes := fx.plan(t)
	var events []Event
	if _, err := fx.apply(context.Background(), p, probes, func(e Event) { events = append(events, e) }); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, e := range events {
		if e.Type == "waited" {
			t.Errorf("waited for leaf links although the leaf wave restarts and gates them: %+v", e)
		}
	}
	for _, l := range fx.fleet.log {
		if strings.HasSuffix(l, "started unlinked") {
			t.Error(l)
		}
	}
}

// TestApply_GatesExpectWhereServersListenNow: a client and monitoring port change restarts the
// hub nodes one at a time; each hub gate is told that the nodes not yet restarted still listen
// on their old ports, and the restarted ones where the inventory says.
func TestApply_GatesExpectWhereServersListenNow(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Converged)
	moved := plantest.LoadExample(t, "lab", func(src string) string {
		return strings.Replace(src, `cluster_name           = "hub"`, "cluster_name           = \"hub\"\n    client_port            = 4333\n    http_port              = 8333", 1)
	})
	fx.inv, fx.d = moved, plantest.FakeDesired(moved, true)
	p, probes := fx.plan(t)
	if got := len(p.Waves[0].Batches); p.Waves[0].Name != plan.WaveHub || got != 3 {
		t.Fatalf("first wave %s with %d batches, want the hub one node at a time", p.Waves[0].Name, got)
	}
	if _, err := fx.apply(context.Background(), p, probes, nil); err != nil {
		t.Fatal(err)
	}
	order := []string{}
	for _, b := range p.Waves[0].Batches {
		order = append(order, strings.TrimSuffix(b[0], "/nats-server"))
	}
	var hubGates []string
	for _, e := range fx.gates.expects {
		if strings.HasPrefix(e, "hub-") {
			hubGates = append(hubGates, e)
		}
	}
	if len(hubGates) != 3 {
		t.Fatalf("hub gates %v, want one per node", hubGates)
	}
	for i, e := range hubGates {
		var want []string
		for _, h := range order[i+1:] {
			want = append(want, h+"=4222/8222")
		}
		sort.Strings(want)
		if e != order[i]+": "+strings.Join(want, " ") {
			t.Errorf("gate %d: %q, want %s told the old ports of %v", i, e, order[i], want)
		}
	}
}

// TestApply_AdoptTakesOverThenGivesBack: a foreign service is taken over only once the
// managed files are in place, then enabled and started; when the managed server fails to
// start, it is stopped, its files restored and the foreign service given back, running.
func TestApply_AdoptTakesOverThenGivesBack(t *testing.T) {
	foreign := func(inv *inventory.Inventory, d plan.Desired) map[string]plan.Facts {
		facts := plantest.Converged(inv, d)
		f := facts["edge-1"]
		f.Services[plan.ServiceNATS] = plan.ServiceFact{Running: true, Enabled: true, PID: 7, Definition: "/etc/service/nats-server"}
		for p := range f.Files {
			if strings.HasPrefix(p, "/etc/sv/nats-server/") {
				f.Files[p] = plan.FileFact{}
			}
		}
		return facts
	}
	fx := newApplyFixture(t, "lab", foreign)
	p, probes := fx.plan(t)
	if u := p.Unit("edge-1/nats-server"); u.Action != plan.Adopt {
		t.Fatalf("edge-1: %s, want adopt", u.Action)
	}
	fx.fleet.failOn["edge-1 start"] = errors.New("once: keeps exiting right after it starts")
	res, err := fx.apply(context.Background(), p, probes, nil)
	if err == nil || results(res)["edge-1/nats-server"] != string(RolledBack) {
		t.Fatalf("err %v, results %v", err, results(res))
	}
	want := []string{"stage 1", "swap", "nats-server adopt from nats-server", "nats-server enable",
		"nats-server start", "nats-server stop", "restore", "nats-server give back to nats-server", "audit nats-server: adopt rolled back"}
	if got := fx.fleet.opsOf("edge-1"); !reflect.DeepEqual(got, want) {
		t.Errorf("edge-1 operations:\n got %q\nwant %q", got, want)
	}
	h := fx.fleet.hosts["edge-1"]
	if !h.running[plan.ServiceNATS] || h.foreign[plan.ServiceNATS] != "/etc/service/nats-server" {
		t.Errorf("after the rollback: running %v, definition %q; want the foreign service running again", h.running[plan.ServiceNATS], h.foreign[plan.ServiceNATS])
	}
	fx.assertUnlockedNoTemps(t)

	// Again, without the failure: adopted, and the next plan has nothing to do.
	p, probes = fx.plan(t)
	res, err = fx.apply(context.Background(), p, probes, nil)
	if err != nil {
		t.Fatalf("apply: %v %v", err, results(res))
	}
	for _, u := range res.Units {
		if u.Unit == "edge-1/nats-server" && (u.Action != plan.Adopt || u.Result != Applied) {
			t.Errorf("edge-1: %s %s, want adopt applied", u.Action, u.Result)
		}
	}
	if p, _ := fx.plan(t); p.HasChanges() {
		t.Errorf("after the adoption: %s", p.Summary())
	}
}

// The pre-check runs -t only on configs the host's nats-server has not accepted already: a
// config whose planned digest the host printed for the same bytes is not checked again, and
// its digest goes into the host's digest cache as the host is unlocked. A host without that
// digest (its config names a file this apply creates) is checked.
func TestApply_PrecheckSkipsConfigsAcceptedAtObserve(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	fx.fleet.hosts["edge-2"].unchecked = true
	p, probes := fx.plan(t)
	var msgs []string
	if _, err := fx.apply(context.Background(), p, probes, func(e Event) {
		if e.Type == EventPhase && e.Phase == PhasePrecheck {
			msgs = append(msgs, e.Message)
		}
	}); err != nil {
		t.Fatal(err)
	}
	var checked, recorded []string
	for _, l := range fx.fleet.log {
		host, rest, _ := strings.Cut(l, " ")
		switch {
		case strings.HasPrefix(rest, "check "):
			checked = append(checked, host)
		case strings.HasPrefix(rest, "digest sha256:"):
			recorded = append(recorded, host)
		}
	}
	if !slices.Equal(checked, []string{"edge-2"}) {
		t.Errorf("pre-checked on %v, want only edge-2", checked)
	}
	var nats []string
	for _, u := range p.Units {
		if u.ConfigPath != "" && u.Host != "edge-2" {
			nats = append(nats, u.Host)
		}
	}
	sort.Strings(nats)
	sort.Strings(recorded)
	if !slices.Equal(recorded, nats) {
		t.Errorf("digests recorded at unlock on %v, want every nats-server host but edge-2: %v", recorded, nats)
	}
	// The hubs stage first (a first wave of first starts); the edges' configs are checked
	// as the edges finish staging, during the hub wave.
	want := "checking staged configs with each host's nats-server: 0 to check, 3 accepted by the same binary when observed; the other 3 hosts' configs once they staged"
	if len(msgs) != 1 || msgs[0] != want {
		t.Errorf("pre-check phase says %q, want %q", msgs, want)
	}
}

// applyUnderLock applies without a saved plan: apply plans under its lock, with review.
func (fx *applyFixture) applyUnderLock(ctx context.Context, review func(*plan.Plan) error) (*Result, error) {
	replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return plan.Build(fx.inv, fx.d, facts, fx.opts) }
	return Apply(ctx, Target{Probes: plan.Probes(fx.inv, fx.d, fx.opts), Replan: replan, Review: review}, fx.fleet, fx.gates,
		Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond, Settle: fx.settle})
}

// Without a saved plan, apply locks every host first, observes each once, under the lock,
// and shows the plan to its review before anything changes; a second apply finds nothing to
// do and still looks at each host once.
func TestApply_PlansUnderTheLock(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	var reviewed *plan.Plan
	res, err := fx.applyUnderLock(context.Background(), func(p *plan.Plan) error {
		reviewed = p
		if len(fx.fleet.log) != 0 {
			t.Errorf("changed before the review: %v", fx.fleet.log)
		}
		return nil
	})
	if err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s", err, res.VerifyError)
	}
	if reviewed == nil || !reviewed.HasChanges() {
		t.Fatalf("review got %v, want the first deployment's plan", reviewed)
	}
	for name := range fx.fleet.hosts {
		if n := fx.fleet.observed[name]; n != 1 {
			t.Errorf("%s observed %d times, want once", name, n)
		}
		if n := fx.fleet.unlockedLooks[name]; n != 0 {
			t.Errorf("%s observed without the lock", name)
		}
	}
	for _, u := range res.Units {
		if u.Result != Applied {
			t.Errorf("%s: %s", u.Unit, u.Result)
		}
	}
	fx.assertUnlockedNoTemps(t)

	fx.fleet.log, fx.fleet.observed = nil, nil
	var second *plan.Plan
	if _, err := fx.applyUnderLock(context.Background(), func(p *plan.Plan) error { second = p; return nil }); err != nil {
		t.Fatal(err)
	}
	if second == nil || second.HasChanges() {
		t.Fatalf("second review got %v, want a plan without changes", second)
	}
	for _, l := range fx.fleet.log {
		if !strings.Contains(l, " audit ") && !strings.Contains(l, " digest ") {
			t.Errorf("a no-change apply did %s", l)
		}
	}
	fx.assertUnlockedNoTemps(t)
}

// A review that says no stops the apply with nothing changed and every lock released.
func TestApply_ReviewRefusedChangesNothing(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	no := errors.New("apply canceled")
	res, err := fx.applyUnderLock(context.Background(), func(*plan.Plan) error { return no })
	if !errors.Is(err, no) {
		t.Fatalf("apply: %v, want the review's error", err)
	}
	if len(fx.fleet.log) != 0 {
		t.Errorf("changed after a refused review: %v", fx.fleet.log)
	}
	for _, u := range res.Units {
		if u.Result != Unchanged {
			t.Errorf("%s: %s, want unchanged", u.Unit, u.Result)
		}
	}
	fx.assertUnlockedNoTemps(t)
}

// Planning under the lock, a host apply cannot connect to is left to the plan: unreachable,
// and beyond the role's max_unreachable (0 here) the plan refuses, naming it; the others are
// unlocked and nothing changed. A host another run holds (edge-2) stops the apply before any plan.
func TestApply_UnderLockUnreachableAndHeld(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	down := errors.New("dial tcp: connect: no route to host")
	fx.fleet.failOn["edge-3 connect"], fx.fleet.failOn["edge-3 observe"] = down, down
	_, err := fx.applyUnderLock(context.Background(), func(*plan.Plan) error { t.Error("review of a refused plan"); return nil })
	if err == nil || !strings.Contains(err.Error(), "edge-3") {
		t.Fatalf("apply with edge-3 unreachable: %v, want the plan's refusal naming it", err)
	}
	if len(fx.fleet.log) != 0 {
		t.Errorf("changed: %v", fx.fleet.log)
	}
	fx.assertUnlockedNoTemps(t)

	delete(fx.fleet.failOn, "edge-3 connect")
	delete(fx.fleet.failOn, "edge-3 observe")
	fx.fleet.hosts["edge-2"].locked = true // another run's
	fx.fleet.observed = nil
	_, err = fx.applyUnderLock(context.Background(), func(*plan.Plan) error { t.Error("review while edge-2 is held"); return nil })
	if !errors.Is(err, errLocked) {
		t.Fatalf("apply with edge-2 held: %v, want refused", err)
	}
	if len(fx.fleet.observed) != 0 {
		t.Errorf("observed %v although a lock was refused", fx.fleet.observed)
	}
	fx.fleet.hosts["edge-2"].locked = false
	fx.assertUnlockedNoTemps(t)
}

// A host's files go up in one call; each unit gets its own back, also when some failed and
// when two units stage the same path (a leaf's bridge config, then its final one).
func TestStagedByUnit(t *testing.T) {
	a, b := &plan.Unit{Host: "h", Service: "nats-server", Step: "bridge"}, &plan.Unit{Host: "h", Service: "nats-server"}
	c := &plan.Unit{Host: "h", Service: "wasmcloud"}
	files := []StageFile{{Path: "/etc/nats.conf"}, {Path: "/etc/sv/run"}, {Path: "/etc/nats.conf"}, {Path: "/etc/wc.env"}, {Path: "/etc/wc/run"}}
	of := []*plan.Unit{a, a, b, c, c}
	// The second file and the last failed.
	staged := []Staged{{Path: "/etc/nats.conf", Temp: "t1"}, {Path: "/etc/nats.conf", Temp: "t3"}, {Path: "/etc/wc.env", Temp: "t4"}}
	got := stagedByUnit(files, of, staged)
	want := map[*plan.Unit][]string{a: {"t1"}, b: {"t3"}, c: {"t4"}}
	for u, temps := range want {
		var have []string
		for _, s := range got[u] {
			have = append(have, s.Temp)
		}
		if !slices.Equal(have, temps) {
			t.Errorf("%s: %v, want %v", u.ID(), have, temps)
		}
	}
}

// index is where s first is in list, or -1.
func index(list []string, s string) int { return slices.Index(list, s) }

// TestApply_NewHubNodesStartTogether: the nodes of a new hub cluster start at the same moment,
// however late each one's supervisor picks it up, so the cluster holds its first election
// with every node; leaves do not wait for each other.
func TestApply_NewHubNodesStartTogether(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	fx.fleet.enableDelay = map[string]time.Duration{"hub-2": 200 * time.Millisecond, "edge-2": 200 * time.Millisecond}
	p, probes := fx.plan(t)
	if _, err := fx.apply(context.Background(), p, probes, nil); err != nil {
		t.Fatal(err)
	}
	log := fx.fleet.log
	late := index(log, "hub-2 nats-server enable")
	for _, h := range []string{"hub-1", "hub-3"} {
		if i := index(log, h+" nats-server start"); i < late {
			t.Errorf("%s started (log line %d) before hub-2 was enabled (line %d):\n%s", h, i, late, strings.Join(log, "\n"))
		}
	}
	if a, b := index(log, "edge-1 nats-server start"), index(log, "edge-2 nats-server enable"); a > b {
		t.Errorf("edge-1 waited for edge-2's enable (start at line %d, enable at line %d): only hub nodes start together", a, b)
	}
}

// TestApply_BucketsWhileLeavesRoll: the lattice buckets are made while the leaf wave runs,
// and the wasmCloud wave waits for them; when they cannot be made, no wasmCloud host starts.
func TestApply_BucketsWhileLeavesRoll(t *testing.T) {
	fx := newApplyFixture(t, "lab", plantest.Empty)
	fx.gates.bucketsDelay = 300 * time.Millisecond
	p, probes := fx.plan(t)
	if _, err := fx.apply(context.Background(), p, probes, nil); err != nil {
		t.Fatal(err)
	}
	log := fx.fleet.log
	buckets := index(log, "buckets 3")
	if buckets < 0 {
		t.Fatalf("no buckets made:\n%s", strings.Join(log, "\n"))
	}
	if i := index(log, "edge-1 nats-server start"); i > buckets {
		t.Errorf("the leaf wave waited for the buckets (leaf start at line %d, buckets at line %d)", i, buckets)
	}
	for _, e := range []string{"edge-1", "edge-2", "edge-3"} {
		if i := index(log, e+" wasmcloud start"); i < buckets {
			t.Errorf("%s's wasmCloud host started (line %d) before the buckets were made (line %d)", e, i, buckets)
		}
	}
	// New buckets are new streams on every hub node: the final verify is told so, and takes
	// no hub gate's result from before them.
	if c := fx.gates.changed; !c.Hub.After(c.Hosts["hub-1"].Add(200 * time.Millisecond)) {
		t.Errorf("last hub change %v, want the buckets' creation, after hub-1's start (%v)", c.Hub, c.Hosts["hub-1"])
	}

	fx = newApplyFixture(t, "lab", plantest.Empty)
	fx.gates.bucketsErr = errors.New("no JetStream")
	p, probes = fx.plan(t)
	_, err := fx.apply(context.Background(), p, probes, nil)
	if err == nil || !strings.Contains(err.Error(), "ensuring the lattice buckets on the hub: no JetStream") {
		t.Fatalf("apply: %v, want the buckets' error", err)
	}
	for _, l := range fx.fleet.log {
		if strings.HasSuffix(l, "wasmcloud start") {
			t.Errorf("a wasmCloud host started without its buckets: %s", l)
		}
	}
	fx.assertUnlockedNoTemps(t)
}
