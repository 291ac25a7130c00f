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
	"github.com/latticepush/latticepush/verify/natsmon"
)

// TestTLS_CARotation rotates the managed fleet CA of a running lab lattice (3 hubs, 1 edge,
// TLS on every link) while a KV writer and reader go through the leaf: `secrets --rotate
// ca.key`, then plan and apply until the plan reports the rotation complete. Asserted: the
// plans take the steps in order, one each (trust both CAs, certificates of the new CA, drop the
// old CA), every change a reload; no acknowledged write is lost; no server logs a TLS handshake
// failure; every nats-server keeps its process; only the new CA's file is left on every server;
// every hub presents a certificate of the new CA;
// after `secrets --finish-rotation ca.key` verify passes and the plan is empty.
func TestTLS_CARotation(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1, Edit: managedTLS})
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	var servers []string
	pids, logFrom := map[string]string{}, map[string]int{}
	for _, h := range s.Inv.Hosts {
		if h.NATS() != nil {
			servers = append(servers, h.Name)
			pids[h.Name] = hubPID(t, ctx, env, h.Name)
			logFrom[h.Name] = hubLogLines(t, ctx, env, h.Name)
		}
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second) // a baseline before the change

	oldSerial, newSerial, err := inventory.RotateCA(s.Inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CA %s -> %s", oldSerial, newSerial)
	want := []string{plan.CARotationTrustBoth, plan.CARotationReissue, plan.CARotationDropOld, plan.RotationComplete}
	var took []string
	for i, step := range want {
		s = newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		var r *plan.Rotation
		for _, x := range p.Rotations {
			if x.Secret == inventory.SecretCAKey {
				r = x
			}
		}
		if r == nil || r.Step != step || r.OldCA != oldSerial || r.NewCA != newSerial {
			t.Fatalf("plan %d: rotation %+v, want step %s", i+1, r, step)
		}
		if step == plan.RotationComplete {
			if p.HasChanges() {
				t.Fatalf("plan %d (complete): changes %v", i+1, actions(p))
			}
			break
		}
		var reloads int
		for _, u := range p.Units {
			if !u.Changes() {
				continue
			}
			if u.Service != plan.ServiceNATS || u.Action != plan.Reload {
				t.Fatalf("plan %d (%s): %s %s %v, want nats-server reloads only", i+1, step, u.ID(), u.Action, u.Reasons)
			}
			reloads++
		}
		if reloads == 0 {
			t.Fatalf("plan %d (%s): nothing to reload", i+1, step)
		}
		start := time.Now()
		res, err := s.apply(ctx, p)
		if err != nil || res.VerifyError != "" {
			t.Fatalf("apply step %s: %v %s\nresults: %v", step, err, res.VerifyError, results(res))
		}
		took = append(took, fmt.Sprintf("%s: %d reloads in %s", step, reloads, time.Since(start).Round(100*time.Millisecond)))
	}
	time.Sleep(2 * time.Second)
	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("CA rotation under load (%s): %d writes acknowledged, %d write errors, longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		strings.Join(took, "; "), st.acked, st.writeErrs, st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Errorf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}

	for _, host := range servers {
		if pid := hubPID(t, ctx, env, host); pid != pids[host] {
			t.Errorf("%s: nats-server pid %s, was %s: not a reload", host, pid, pids[host])
		}
		b, err := env.Lab.Exec(ctx, host, "sh", "-c", fmt.Sprintf(
			"tail -n +%d /var/log/nats-server/current | grep -iE 'handshake (error|fail)|x509:|bad certificate|unknown (certificate )?authority' || true", logFrom[host]+1))
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.TrimSpace(string(b)); lines != "" {
			t.Errorf("%s's log has TLS handshake failures during the rotation:\n%s", host, firstLines(lines, 6))
		}
		n, _ := env.Lab.Exec(ctx, host, "sh", "-c", fmt.Sprintf(
			"tail -n +%d /var/log/nats-server/current | grep -c 'Reloaded' || true", logFrom[host]+1))
		t.Logf("%s: same pid %s, no TLS handshake failure in its log, %s reload line(s)", host, pids[host], strings.TrimSpace(string(n)))
	}

	// Each step swept the CA files its config stopped naming: the new CA's is the only one left.
	for _, host := range servers {
		out, err := env.Lab.Exec(ctx, host, "sh", "-c", "cd /etc/nats/tls && ls ca-*.pem")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if cas := strings.Fields(string(out)); len(cas) != 1 || strings.Count(cas[0], "-") != 1 {
			t.Errorf("%s keeps the CA files %v, want the new CA's only", host, cas)
		}
	}

	if _, err := inventory.FinishCARotation(s.Inv); err != nil {
		t.Fatal(err)
	}
	after := newSession(t, env, plan.Options{})
	newCA, err := inventory.ParseCACert(after.Inv.Lattice.TLS.CACert)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range after.Fleet.Targets(ctx) {
		if tg.Err != nil {
			t.Fatal(tg.Err)
		}
		if tg.Host.Hub == nil {
			continue
		}
		c, err := natsmon.ServedCert(ctx, tg.Dial, fmt.Sprintf("127.0.0.1:%d", tg.Host.Hub.LeafnodePort))
		if err != nil {
			t.Fatalf("%s: read the certificate on its leafnode port: %v", tg.Host.Name, err)
		}
		if err := c.CheckSignatureFrom(newCA); err != nil {
			t.Errorf("%s presents a certificate (serial %x) the new CA did not sign: %v", tg.Host.Name, c.SerialNumber, err)
		}
	}
	for _, r := range after.verify(ctx).Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	if p := after.plan(ctx); p.HasChanges() || len(p.Rotations) != 0 {
		t.Errorf("the plan after the rotation is not empty: %v, rotations %+v", actions(p), p.Rotations)
	}
	t.Logf("TestTLS_CARotation took %s", time.Since(began).Round(time.Second))
}
