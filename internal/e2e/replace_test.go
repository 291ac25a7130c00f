package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// TestHubs_ReplaceLostNode: hub-2's machine is lost and hub-4, a new machine, takes its place
// in the inventory. While hub-2 still runs, the plan refuses (a member of the meta group
// that no hub of the inventory is, still running). Once hub-2 is gone (its server killed),
// the plan removes it from the meta group and starts hub-4 first in the hub wave (after the
// leaves' bridge reload, which gives them hub-4's listener beside the others'); the apply
// removes hub-2 before the wave, hub-4 joins, every gate and the final verify pass, the meta
// group is hub-1, hub-3 and hub-4, every lattice bucket has a current replica on hub-4, and
// the plan after that is empty.
func TestHubs_ReplaceLostNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := labtest.Up(t, labtest.Spec{Edges: 1, Extra: []string{"hub-4"}})
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("first apply: %v %s", err, verifyError(res))
	}

	h4, _ := env.Lab.Host("hub-4")
	hub2 := regexp.MustCompile(`host "hub-2" \{\n  address = "[^"]+"`)
	env.Edit(t, func(src string) string {
		out := hub2.ReplaceAllString(src, fmt.Sprintf("host \"hub-4\" {\n  address = %q", h4.Addr))
		if out == src {
			t.Fatal("examples/lab changed: no hub-2 host block")
		}
		return out
	})
	s = newSession(t, env, plan.Options{})
	_, err := s.Plan(ctx)
	if err == nil || !strings.Contains(err.Error(), "no hub of the inventory and still run") || !strings.Contains(err.Error(), "hub-2 (") {
		t.Fatalf("plan while hub-2 runs: err %v, want a refusal naming hub-2", err)
	}

	// hub-2 is lost: its server killed, never to come back.
	if out, err := env.Lab.Exec(ctx, "hub-2", "sh", "-c", "sv d nats-server; pkill -KILL -x nats-server; true"); err != nil {
		t.Fatalf("kill hub-2's server: %v %s", err, out)
	}
	var p *plan.Plan
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		// The meta leader stops counting a lost peer as current within seconds (after an
		// election, when it led; meanwhile the plan refuses).
		s = newSession(t, env, plan.Options{})
		p, err = s.Plan(ctx)
		if err == nil && len(p.PeerRemovals) == 0 {
			err = fmt.Errorf("no peer to remove: %s", p.Summary())
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("plan once hub-2 is gone: %v", err)
	}
	if len(p.PeerRemovals) != 1 || p.PeerRemovals[0].Name != "hub-2" || p.PeerRemovals[0].Peer == "" {
		t.Fatalf("peer removals %+v, want hub-2 with its peer id", p.PeerRemovals)
	}
	hubWave := slices.IndexFunc(p.Waves, func(w plan.Wave) bool { return w.Name == plan.WaveHub })
	if hubWave < 0 || !slices.Equal(p.Waves[hubWave].Batches[0], []string{"hub-4/nats-server"}) {
		t.Fatalf("waves %+v, want a hub wave starting hub-4 alone first", p.Waves)
	}
	res, err := s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("replacement apply: %v %s\nresults: %v", err, verifyError(res), results(res))
	}
	removedAt, firstUnit := -1, -1
	for i, e := range s.events {
		if e.Phase == rollout.PhasePeers && removedAt < 0 {
			removedAt = i
		}
		if e.Type == rollout.EventUnitStart && firstUnit < 0 {
			firstUnit = i
		}
	}
	if removedAt < 0 || firstUnit < removedAt {
		t.Fatalf("peers phase at event %d, first unit at %d: want hub-2 removed before any unit", removedAt, firstUnit)
	}

	wantGroupOfThree(t, ctx, s, "hub-4")
	s = newSession(t, env, plan.Options{})
	if p := s.plan(ctx); p.HasChanges() {
		t.Fatalf("plan after the replacement: %s", p.Summary())
	}
}

// wantGroupOfThree checks that verify passes with a meta group of three, and that within a
// minute every stream of the domain has its replicas current, one of them on node.
func wantGroupOfThree(t *testing.T, ctx context.Context, s *session, node string) {
	t.Helper()
	rep := mustVerify(t, ctx, s)
	for _, r := range rep.Results {
		if r.Check == "hub.peers-current" && !strings.Contains(r.Evidence, "cluster size 3") {
			t.Errorf("peers: %s, want a cluster of 3", r.Evidence)
		}
	}
	nc := clientOn(t, ctx, s, "hub-1", nats.UserInfo(s.Inv.Auth.UserName("check"), s.Inv.Auth.CheckPassword.Reveal()))
	js, err := jetstream.NewWithDomain(nc, s.Inv.Lattice.JSDomain)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		short := replicasMissing(ctx, js, node)
		if len(short) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams without a current replica on %s a minute after the apply: %s", node, strings.Join(short, "; "))
		}
	}
}

// verifyError is the apply's final verify failure, if it got that far.
func verifyError(r *rollout.Result) string {
	if r == nil {
		return ""
	}
	return r.VerifyError
}

// replicasMissing lists the streams of the domain that do not have every replica current,
// one of them on node.
func replicasMissing(ctx context.Context, js jetstream.JetStream, node string) []string {
	var short []string
	l := js.ListStreams(ctx)
	for si := range l.Info() {
		c := si.Cluster
		if c == nil {
			short = append(short, si.Config.Name+": no cluster info")
			continue
		}
		names, current := []string{c.Leader}, 1
		for _, r := range c.Replicas {
			names = append(names, r.Name)
			if r.Current && !r.Offline {
				current++
			}
		}
		if current != si.Config.Replicas || !slices.Contains(names, node) {
			short = append(short, fmt.Sprintf("%s: %d of %d replicas current, on %s", si.Config.Name, current, si.Config.Replicas, strings.Join(names, ", ")))
		}
	}
	if err := l.Err(); err != nil {
		short = append(short, "listing the streams: "+err.Error())
	}
	return short
}

// TestHubs_RenameInPlace: hub-2's server_name changes on the same machine. Without -replace
// the plan refuses (JetStream keeps a node's name). With it, the plan restarts hub-2 and names
// its old name to leave the meta group; the apply restarts hub-2 under the new name, its gate
// passes with the old name still in the group, then the apply removes the old name: the final
// verify passes with a group of three, the old name is no member, and the plan after that is
// empty.
func TestHubs_RenameInPlace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("first apply: %v %s", err, verifyError(res))
	}

	hub2 := regexp.MustCompile(`(host "hub-2" \{\n  address = "[^"]+"\n  roles   = \["hub"\]\n)`)
	env.Edit(t, func(src string) string {
		out := hub2.ReplaceAllString(src, "${1}  nats {\n    server_name = \"hub-2b\"\n  }\n")
		if out == src {
			t.Fatal("examples/lab changed: no hub-2 host block with address and roles")
		}
		return out
	})
	s = newSession(t, env, plan.Options{})
	if _, err := s.Plan(ctx); err == nil || !strings.Contains(err.Error(), `server_name would change from "hub-2" to "hub-2b"`) {
		t.Fatalf("plan without -replace: err %v, want the refusal", err)
	}
	s = newSession(t, env, plan.Options{Replace: []string{"hub-2"}})
	p := s.plan(ctx)
	if u := p.Unit("hub-2/nats-server"); u == nil || u.Action != plan.Restart || u.LeavesMetaGroup != "hub-2" {
		t.Fatalf("hub-2's unit %+v, want a restart leaving the meta group as hub-2", u)
	}
	res, err := s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("rename apply: %v %s\nresults: %v", err, verifyError(res), results(res))
	}
	gatePassed, removing := -1, -1
	for i, e := range s.events {
		switch {
		case e.Type == rollout.EventUnitDone && e.Unit == "hub-2/nats-server":
			gatePassed = i
		case e.Type == rollout.EventWait && e.Unit == "hub-2/nats-server" && strings.Contains(e.Message, "removing hub-2, the name hub-2 ran under"):
			removing = i
		case e.Type == rollout.EventWarning:
			t.Errorf("warning: %s", e.Message)
		}
	}
	if removing < 0 || gatePassed < removing {
		t.Fatalf("removal event at %d, hub-2 done at %d: want the removal before hub-2 is done", removing, gatePassed)
	}

	wantGroupOfThree(t, ctx, s, "hub-2b")
	s = newSession(t, env, plan.Options{})
	if p := s.plan(ctx); p.HasChanges() || len(p.PeerRemovals) > 0 {
		t.Fatalf("plan after the rename: %s, peer removals %+v", p.Summary(), p.PeerRemovals)
	}
}
