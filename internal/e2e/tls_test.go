package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify"
)

// managedTLS gives the lab inventory the managed fleet CA.
func managedTLS(src string) string {
	return strings.Replace(src, "js_domain = \"hub\"\n", "js_domain = \"hub\"\n  tls { ca = \"managed\" }\n", 1)
}

// TestTLS_ManagedCA deploys a lab lattice with the managed fleet CA from empty: apply and
// verify pass with hub.tls on every hub and leaf.tls on every leaf; the hubs' key files are
// 0600 and named by serial; a second plan changes nothing (issuance is deterministic); a
// plaintext client on hub-1's leafnode port is refused (hub-1's log shows the TLS handshake
// failing); and new certificates (another validity) reload every hub, the process unchanged.
func TestTLS_ManagedCA(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 2, Edit: managedTLS})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}

	rep := s.verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, h := range s.Inv.Hubs() {
		if r := resultOf(rep, verify.CheckHubTLS, h.Name); r == nil || !r.OK || r.Warning {
			t.Errorf("%s on %s: %+v", verify.CheckHubTLS, h.Name, r)
		} else {
			t.Logf("verify %s %s: %s", r.Check, r.Host, r.Evidence)
		}
	}
	for _, name := range []string{"edge-1", "edge-2"} {
		if r := resultOf(rep, verify.CheckLeafTLS, name); r == nil || !r.OK {
			t.Errorf("%s on %s: %+v", verify.CheckLeafTLS, name, r)
		} else {
			t.Logf("verify %s %s: %s", r.Check, r.Host, r.Evidence)
		}
	}

	out, err := env.Lab.Exec(ctx, "hub-1", "sh", "-c", "stat -c '%a %n' /etc/nats/tls/*")
	if err != nil {
		t.Fatalf("hub-1's TLS files: %v %s", err, out)
	}
	t.Logf("hub-1's TLS files:\n%s", out)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(l, "600 /etc/nats/tls/") {
			t.Errorf("hub-1: %s, want mode 600", l)
		}
	}
	if !strings.Contains(string(out), "/etc/nats/tls/hub-1-") || !strings.Contains(string(out), ".key") {
		t.Errorf("hub-1 has no certificate and key named by serial: %s", out)
	}

	if p := s.plan(ctx); p.HasChanges() {
		t.Errorf("a second plan has changes: %v", actions(p))
	}

	// A plaintext client speaks NATS to hub-1's leafnode port from edge-1.
	hub1 := s.Inv.Host("hub-1")
	from := hubLogLines(t, ctx, env, "hub-1")
	script := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d && head -c 4 <&3 && printf 'CONNECT {"verbose":false}\r\nPING\r\n' >&3 && sleep 1; exec 3<&-`,
		hub1.Address, hub1.Hub.LeafnodePort)
	if b, err := env.Lab.Exec(ctx, "edge-1", "bash", "-c", script); err != nil {
		t.Logf("plaintext client on hub-1's leafnode port: %v %s", err, b)
	}
	var refused string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		b, err := env.Lab.Exec(ctx, "hub-1", "sh", "-c",
			fmt.Sprintf("tail -n +%d /var/log/nats-server/current | grep 'Leafnode connection closed: TLS Handshake Failure' || true", from+1))
		if err != nil {
			t.Fatal(err)
		}
		if refused = strings.TrimSpace(string(b)); refused != "" {
			break
		}
	}
	if refused == "" {
		b, _ := env.Lab.Exec(ctx, "hub-1", "sh", "-c", fmt.Sprintf("tail -n +%d /var/log/nats-server/current | tail -n 20", from+1))
		t.Fatalf("hub-1's log shows no refused plaintext leaf connection:\n%s", b)
	}
	t.Logf("hub-1's log: %s", firstLines(refused, 2))
	if r := resultOf(s.verify(ctx), verify.CheckLeafTLS, "edge-1"); r == nil || !r.OK {
		t.Errorf("after the plaintext attempt, %s on edge-1: %+v", verify.CheckLeafTLS, r)
	}

	// A new certificate (here: another validity) is a reload of each hub: new files under the
	// new serial, the same nats-server process, and /varz reports the new end.
	pids := map[string]string{}
	for _, h := range s.Inv.Hubs() {
		b, err := env.Lab.Exec(ctx, h.Name, "cat", "/run/nats-server.pid")
		if err != nil {
			t.Fatal(err)
		}
		pids[h.Name] = strings.TrimSpace(string(b))
	}
	env.Edit(t, func(src string) string {
		return strings.Replace(src, `tls { ca = "managed" }`, `tls {
    ca       = "managed"
    validity = "60d"
  }`, 1)
	})
	s2 := newSession(t, env, plan.Options{})
	p := s2.plan(ctx)
	for _, u := range p.Units {
		want := plan.Noop
		if u.Role == "hub" {
			want = plan.Reload
		}
		if u.Action != want {
			t.Errorf("new certificates: %s %s %v, want %s", u.ID(), u.Action, u.Reasons, want)
		}
	}
	if res, err := s2.apply(ctx, p); err != nil || res.VerifyError != "" {
		t.Fatalf("apply new certificates: %v %s", err, res.VerifyError)
	}
	rep = s2.verify(ctx)
	for _, h := range s2.Inv.Hubs() {
		b, _ := env.Lab.Exec(ctx, h.Name, "cat", "/run/nats-server.pid")
		if got := strings.TrimSpace(string(b)); got != pids[h.Name] {
			t.Errorf("%s: nats-server pid %s after the new certificate, was %s: not a reload", h.Name, got, pids[h.Name])
		}
		r := resultOf(rep, verify.CheckHubTLS, h.Name)
		if r == nil || !r.OK {
			t.Errorf("after new certificates: %s on %s: %+v", verify.CheckHubTLS, h.Name, r)
			continue
		}
		t.Logf("after new certificates (reload, same pid): %s %s: %s", r.Check, r.Host, r.Evidence)
	}
	t.Logf("TestTLS_ManagedCA took %s", time.Since(began).Round(time.Second))
}

// TestTLS_ManagedCA_Systemd: the same deployment on systemd hosts (latticepush's default
// service manager, its hardened unit), logged into as the sudo user with become: every hub
// reads its TLS files, and verify passes with hub.tls and leaf.tls.
func TestTLS_ManagedCA_Systemd(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1, Init: lab.InitSystemd, Become: true, Edit: managedTLS})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	rep := s.verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, c := range []struct{ check, host string }{
		{verify.CheckHubTLS, "hub-1"}, {verify.CheckHubTLS, "hub-2"}, {verify.CheckHubTLS, "hub-3"}, {verify.CheckLeafTLS, "edge-1"},
	} {
		if r := resultOf(rep, c.check, c.host); r == nil || !r.OK || r.Warning {
			t.Errorf("%s on %s: %+v", c.check, c.host, r)
		}
	}
	t.Logf("TestTLS_ManagedCA_Systemd took %s", time.Since(began).Round(time.Second))
}
