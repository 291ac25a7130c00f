package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify"
)

// TestTLS_PlaintextFleetMoved moves a running plaintext lab lattice (3 hubs, 1 edge) to the
// managed CA under a KV writer and reader through the edge's leaf. plan refuses the move while
// the hubs run (routes cannot move one node at a time) and changes nothing; once every hub is
// stopped, as the refusal says, plan starts the hubs together with TLS and reloads the leaf
// onto a TLS link (its remote replaced), and apply verifies with hub.tls and leaf.tls. Asserted: no acknowledged
// write lost; the outage (longest stretch without a successful write) is reported.
func TestTLS_PlaintextFleetMoved(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply plaintext: %v %s", err, res.VerifyError)
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second) // a baseline before the change
	env.Edit(t, managedTLS)
	if added, err := runSecrets(env); err != nil || len(added) != 1 {
		t.Fatalf("secrets: %v %v", added, err)
	}
	s2 := newSession(t, env, plan.Options{})
	_, err := s2.Plan(ctx)
	if err == nil || !strings.Contains(err.Error(), "cannot be done one node at a time") || !strings.Contains(err.Error(), "hub-1, hub-2, hub-3") {
		t.Fatalf("plan of a running plaintext hub cluster moving to TLS: %v, want a refusal naming every hub", err)
	}
	t.Logf("plan refuses: %v", err)

	stopped := time.Now()
	errs := make(chan error, 3)
	for _, h := range s2.Inv.Hubs() {
		go func() {
			out, err := env.Lab.Exec(ctx, h.Name, "sv", "-w", "90", "stop", "nats-server")
			if err != nil {
				err = fmt.Errorf("%s: sv stop: %v %s", h.Name, err, out)
			}
			errs <- err
		}()
	}
	for range s2.Inv.Hubs() {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("every hub stopped (lame duck) in %s", time.Since(stopped).Round(100*time.Millisecond))
	s3 := newSession(t, env, plan.Options{})
	p := s3.plan(ctx)
	for _, u := range p.Units {
		want := plan.Noop
		switch {
		case u.Role == "hub":
			want = plan.Start
		case u.ID() == "edge-1/nats-server":
			want = plan.Reload // the remote's URLs change to tls://: a remote replaced
		}
		if u.Action != want {
			t.Errorf("%s: %s %v, want %s", u.ID(), u.Action, u.Reasons, want)
		}
	}
	applied := time.Now()
	res, err := s3.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("apply after stopping the hubs: %v %s", err, res.VerifyError)
	}
	done := time.Now()
	time.Sleep(2 * time.Second)
	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("moved to TLS: hubs stopped at +0s, apply began at +%s and ended at +%s; %d writes acknowledged, %d write errors, longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		applied.Sub(stopped).Round(100*time.Millisecond), done.Sub(stopped).Round(100*time.Millisecond), st.acked, st.writeErrs,
		st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Fatalf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}
	rep := newSession(t, env, plan.Options{}).verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, h := range s3.Inv.Hubs() {
		if r := resultOf(rep, verify.CheckHubTLS, h.Name); r == nil || !r.OK {
			t.Errorf("after: %s on %s: %+v", verify.CheckHubTLS, h.Name, r)
		}
	}
	if r := resultOf(rep, verify.CheckLeafTLS, "edge-1"); r == nil || !r.OK {
		t.Errorf("after: %s on edge-1: %+v", verify.CheckLeafTLS, r)
	}
	t.Logf("test %s in all", time.Since(began).Round(time.Second))
}

// runSecrets completes the env's secrets file as `latticepush secrets` does.
func runSecrets(env *labtest.Env) ([]string, error) {
	inv, diags := inventory.Load(env.Path, inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		return nil, diags
	}
	return inventory.GenerateSecrets(inv, inventory.Options{})
}
