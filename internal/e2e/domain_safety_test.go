package e2e

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/unit"
	"github.com/latticepush/latticepush/verify"
)

// TestDomainChange_FailuresAndNaiveRoll: what goes wrong around a domain change, in one lab.
//  1. Before the hub restart, a failure changes nothing: hub-3's nats-server rejects its staged
//     config, or hub-3 stops answering at the preflight; every hub keeps its domain, process
//     and config, and no staged file is left.
//  2. After the hub restart, a failure (a wasmCloud gate) leaves the hub on the new domain with
//     the alias answering; a rerun converges without a second cutover. That apply runs with
//     --snapshot: the snapshot holds the 1000 keys written on "hub", and restore-buckets puts
//     deleted keys back on "central".
//  3. Why the planner never rolls a domain node by node: hub-3 restarted by hand on another
//     domain answers /healthz 200 like the others, yet the cluster is split and clients on
//     hub-3 cannot reach the lattice's domain. latticepush plans the repair as a cutover.
func TestDomainChange_FailuresAndNaiveRoll(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply from empty: %v %s", err, res.VerifyError)
	}
	// Keys on "hub", for the snapshot the successful cutover below takes.
	putKeys(t, ctx, kvOn(t, ctx, clientOn(t, ctx, s, "edge-1"), "hub", "LATTICEDATA_default", false))
	env.Edit(t, toCentral)
	conf := s.Inv.Host("hub-3").Hub.ConfigFile
	staged := fmt.Sprintf("%s/.%s.latticepush-tmp-*", path.Dir(conf), path.Base(conf))

	t.Run("precheck rejects a staged config: nothing changes", func(t *testing.T) {
		s := newSession(t, env, plan.Options{AllowDomainChange: true})
		// A config the observation could not check has no planned digest (one naming a
		// certificate this apply creates gets it only once the certificate is in place), so
		// the pre-check runs nats-server -t on its staged copy: here on hub-3's, to which the
		// test adds a key nats-server rejects.
		s.replan = func(facts map[string]plan.Facts) (*plan.Plan, error) {
			p, err := s.Build(facts)
			if err == nil {
				for _, u := range p.Units {
					if u.Host == "hub-3" && u.ConfigPath != "" {
						u.DesiredDigest = ""
					}
				}
			}
			return p, err
		}
		before := hubState(t, ctx, s)
		_, err := applyWith(ctx, s, s.plan(ctx), 0, func(e rollout.Event) {
			if e.Phase == "precheck" {
				run(t, ctx, s, "hub-3", nil, `for f in `+staged+`; do echo "bogus_key: 1" >> "$f"; done`)
			}
		})
		if err == nil || !strings.Contains(err.Error(), "hub-3") {
			t.Fatalf("apply with a rejected config on hub-3: %v", err)
		}
		t.Logf("refused: %v", err)
		assertUnchanged(t, ctx, s, before, staged)
	})

	t.Run("a hub frozen at the preflight: nothing changes", func(t *testing.T) {
		s := newSession(t, env, plan.Options{AllowDomainChange: true})
		before := hubState(t, ctx, s)
		thaw := func() { run(t, context.Background(), s, "hub-3", nil, `kill -CONT "$(cat "$1")"`, unit.PIDFile) }
		t.Cleanup(thaw)
		start := time.Now()
		_, err := applyWith(ctx, s, s.plan(ctx), 0, func(e rollout.Event) {
			if e.Phase == "cutover" && strings.HasPrefix(e.Message, "JetStream domain") {
				run(t, ctx, s, "hub-3", nil, `kill -STOP "$(cat "$1")"`, unit.PIDFile)
			}
		})
		thaw()
		if err == nil || !strings.Contains(err.Error(), "preflight") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("apply with hub-3 frozen: %v", err)
		}
		t.Logf("refused after %.1fs: %.300s", time.Since(start).Seconds(), err)
		if err := s.gates().HubNode(ctx, "hub-3", rollout.Expect{Domain: "hub"}); err != nil {
			t.Fatalf("the hub did not recover on domain hub: %v", err)
		}
		assertUnchanged(t, ctx, s, before, staged)
	})

	t.Run("a wasmCloud gate fails after the hub restart: the hub stays on the new domain", func(t *testing.T) {
		s := newSession(t, env, plan.Options{AllowDomainChange: true})
		s.snapshotDir = t.TempDir()
		snapshotDir := s.snapshotDir
		envFile := s.Inv.Host("edge-2").Wasmcloud.EnvFile
		_, err := applyWith(ctx, s, s.plan(ctx), 20*time.Second, func(e rollout.Event) {
			if e.Type == "unit_start" && e.Unit == "edge-2/wasmcloud" {
				run(t, ctx, s, "edge-2", nil, `for f in "$1"/."$2".latticepush-tmp-*; do sed -i 's/^WASMCLOUD_JS_DOMAIN=.*/WASMCLOUD_JS_DOMAIN=nowhere/' "$f"; done`,
					path.Dir(envFile), path.Base(envFile))
			}
		})
		if err == nil {
			t.Fatal("apply passed with edge-2's wasmCloud host pointed at no domain")
		}
		t.Logf("apply failed after the cutover: %.300s", err)
		for h, st := range hubState(t, ctx, s) {
			if !strings.HasPrefix(st, "central ") {
				t.Errorf("%s after a failure past the cutover: %s, want domain central", h, st)
			}
		}
		// The alias still answers the old domain through a leaf, from the hub.
		js, _ := jetstream.NewWithDomain(clientOn(t, ctx, s, "edge-1"), "hub")
		if ai, err := js.AccountInfo(ctx); err != nil || ai.Domain != "central" {
			t.Errorf("old domain through edge-1 after the failure: %+v %v", ai, err)
		}

		s = newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		if p.Cutover != nil {
			t.Fatalf("the rerun plans a second cutover: %+v", p.Cutover)
		}
		if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
			t.Fatalf("rerun: %v %s\nresults: %v", err, res.VerifyError, results(res))
		}
		if p := s.plan(ctx); p.HasChanges() {
			t.Errorf("after the rerun the plan still has changes: %s", p.Summary())
		}

		// apply --snapshot: taken on "hub" before the hubs stopped, it holds every key;
		// restored on "central" it puts back keys lost since.
		snap := snapshotOf(t, snapshotDir, "LATTICEDATA_default", "hub")
		checkSnapshot(t, snap)
		central := kvOn(t, ctx, clientOn(t, ctx, s, "edge-3"), "central", "LATTICEDATA_default", false)
		for i := range 10 {
			k, _ := keyValue(i)
			if err := central.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		files, _ := filepath.Glob(filepath.Join(snapshotDir, "*.json"))
		n, err := s.gates().RestoreBuckets(ctx, files, 3)
		if err != nil {
			t.Fatalf("restore-buckets: %v", err)
		}
		t.Logf("snapshot: %d files, %d entries in LATTICEDATA_default; restore put %d keys", len(files), len(snap.Entries), n)
		checkKeys(t, ctx, central)
	})

	t.Run("a naive node-by-node roll splits the hub", func(t *testing.T) {
		s := newSession(t, env, plan.Options{})
		// By hand, what a rolling deployer would do: hub-3 alone restarted on another domain.
		rolled := *s.Inv
		rolled.Lattice.JSDomain, rolled.Lattice.AliasOldDomain = "rolled", false
		d, err := plan.Render(&rolled)
		if err != nil {
			t.Fatal(err)
		}
		var cfg []byte
		for _, f := range d["hub-3"] {
			if f.Path == conf {
				cfg = f.Content
			}
		}
		run(t, ctx, s, "hub-3", cfg, `cat > "$1.new" && mv "$1.new" "$1"`, conf)
		h, err := s.Fleet.Host(ctx, "hub-3")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Service(ctx, plan.ServiceNATS, rollout.OpRestart); err != nil {
			t.Fatal(err)
		}

		// /healthz is 200 on every node, yet hub-3 runs another domain and the cluster is split.
		var rep verify.Report
		deadline := time.Now().Add(30 * time.Second)
		for {
			rep = s.verify(ctx)
			if allPass(rep, verify.CheckHubHealthz) || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		for _, r := range rep.Results {
			if strings.HasPrefix(r.Check, "hub.") {
				t.Logf("%-18s %-6s ok=%-5v %s", r.Check, r.Host, r.OK, r.Evidence)
			}
		}
		if !allPass(rep, verify.CheckHubHealthz) {
			t.Errorf("a node's /healthz is not 200 after the naive roll: the split would not hide")
		}
		for _, r := range rep.Results {
			if r.Check == verify.CheckHubDomain && r.OK == (r.Host == "hub-3") {
				t.Errorf("hub.domain on %s: ok=%v (%s)", r.Host, r.OK, r.Evidence)
			}
		}
		// A client on hub-3 cannot reach the lattice's domain; one on hub-1 can.
		auth := nats.UserInfo(unit.UserCheck, s.Inv.Auth.CheckPassword.Reveal())
		for host, reach := range map[string]bool{"hub-1": true, "hub-3": false} {
			js, _ := jetstream.NewWithDomain(clientOn(t, ctx, s, host, auth), "central")
			actx, acancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := js.AccountInfo(actx)
			acancel()
			t.Logf("client on %s, domain central: %v", host, err)
			if (err == nil) != reach {
				t.Errorf("client on %s, domain central: err %v, want reachable=%v", host, err, reach)
			}
		}

		// The planner refuses to continue the roll, and repairs the split with a cutover.
		if _, err := s.Build(s.Fleet.Observe(ctx, s.Probes)); err == nil || !strings.Contains(err.Error(), "-allow-domain-change") {
			t.Fatalf("plan after a naive roll: %v, want a refusal", err)
		}
		s = newSession(t, env, plan.Options{AllowDomainChange: true})
		p := s.plan(ctx)
		if p.Cutover == nil || p.Cutover.From != "central,rolled" || p.Waves[0].Name != "cutover" || len(p.Waves[0].Batches[0]) != 3 {
			t.Fatalf("repair plan: cutover %+v, waves %+v", p.Cutover, p.Waves)
		}
		if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
			t.Fatalf("repair: %v %s\nresults: %v", err, res.VerifyError, results(res))
		}
	})
}

// applyWith applies p like session.apply, calling hook on every event first, with gates that
// wait at most gate (0: gateTimeout).
func applyWith(ctx context.Context, s *session, p *plan.Plan, gate time.Duration, hook func(rollout.Event)) (*rollout.Result, error) {
	replan := rollout.Replanner(s.Build)
	if s.replan != nil {
		replan = s.replan
	}
	return rollout.Apply(ctx, rollout.Target{Plan: p, Probes: s.Probes, Replan: replan}, s.Fleet, s.gates(), rollout.Options{
		Owner: rollout.LockOwner{User: "test", Host: "lab", PID: 1, Command: s.t.Name()}, GateTimeout: cmp.Or(gate, gateTimeout),
		SnapshotDir: s.snapshotDir,
		Events: func(e rollout.Event) {
			hook(e)
			s.events = append(s.events, e)
			s.t.Logf("%s %s %s %s %s", e.Type, e.Phase, e.Unit, e.Action, e.Message)
		},
	})
}

// run runs a shell script as root on host, with stdin when set.
func run(t *testing.T, ctx context.Context, s *session, host string, stdin []byte, script string, args ...string) {
	t.Helper()
	c, err := s.Pool.Connect(ctx, fleet.Target(s.Inv, s.Inv.Host(host)))
	if err != nil {
		t.Fatal(err)
	}
	opts := remote.RunOptions{}
	if stdin != nil {
		opts.Stdin = bytes.NewReader(stdin)
	}
	if res, err := c.Run(ctx, remote.Script(script, args...), opts); err != nil {
		t.Fatalf("%s: %s: %v %s", host, script, err, res.Stderr)
	}
}

// hubState is, per hub node, "<domain> pid <pid> running <config_digest>".
func hubState(t *testing.T, ctx context.Context, s *session) map[string]string {
	t.Helper()
	out := map[string]string{}
	for h, f := range s.Fleet.Observe(ctx, s.Probes) {
		if s.Inv.Host(h).Hub == nil {
			continue
		}
		if !f.Reachable() || f.NATS == nil {
			t.Fatalf("%s: %s", h, f.Err)
		}
		out[h] = fmt.Sprintf("%s pid %d running %s", f.NATS.Domain, f.Services[plan.ServiceNATS].PID, f.NATS.RunningDigest)
	}
	return out
}

// assertUnchanged checks that every hub runs what it ran before and holds no staged file.
func assertUnchanged(t *testing.T, ctx context.Context, s *session, before map[string]string, staged string) {
	t.Helper()
	after := hubState(t, ctx, s)
	for h, st := range before {
		if after[h] != st {
			t.Errorf("%s: %s -> %s", h, st, after[h])
		}
		if !strings.HasPrefix(after[h], "hub ") {
			t.Errorf("%s left domain hub: %s", h, after[h])
		}
		run(t, ctx, s, h, nil, `for f in `+staged+`; do if [ -e "$f" ]; then echo "staged file left: $f" >&2; exit 1; fi; done`)
	}
}

func allPass(rep verify.Report, check string) bool {
	n := 0
	for _, r := range rep.Results {
		if r.Check == check {
			if !r.OK {
				return false
			}
			n++
		}
	}
	return n > 0
}
