package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify"
)

// TestTiersTLS_ManagedCA: the tiered lab (edges that cannot reach the hubs) with the managed
// fleet CA goes from empty to verified, every TLS check passing without a warning: hub.tls on
// every hub, leaf.relay-tls on both relays (leafnode port and mutual-TLS routes), leaf.tls on
// the relays (linked to a hub) and on every edge (linked to a relay); the relays hold a
// certificate and key named by serial; KV through the hub's domain works from an edge across
// two TLS leaf hops; a second plan changes nothing; and a plaintext client on relay-1's
// leafnode port is refused (relay-1's log shows the TLS handshake failing).
func TestTiersTLS_ManagedCA(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := tieredLabEdited(t, managedTLS)
	s := newSession(t, env, plan.Options{})
	start := time.Now()
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	t.Logf("apply from empty: %s", time.Since(start).Round(100*time.Millisecond))

	rep := s.verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	want := map[string][]string{
		verify.CheckHubTLS:       {"hub-1", "hub-2", "hub-3"},
		verify.CheckLeafRelayTLS: {"relay-1", "relay-2"},
		verify.CheckLeafTLS:      {"relay-1", "relay-2", "edge-1", "edge-2", "edge-3", "edge-4"},
	}
	for _, check := range []string{verify.CheckHubTLS, verify.CheckLeafRelayTLS, verify.CheckLeafTLS} {
		for _, host := range want[check] {
			r := resultOf(rep, check, host)
			if r == nil || !r.OK || r.Warning {
				t.Errorf("%s on %s: %+v", check, host, r)
				continue
			}
			t.Logf("verify %s %s: %s", r.Check, r.Host, r.Evidence)
			if check == verify.CheckLeafTLS && strings.HasPrefix(host, "edge-") && !strings.HasPrefix(r.Evidence, "linked to relay-") {
				t.Errorf("%s on %s: %q, want linked to a relay", check, host, r.Evidence)
			}
		}
	}

	out, err := env.Lab.Exec(ctx, "relay-1", "sh", "-c", "stat -c '%a %n' /etc/nats/tls/*")
	if err != nil {
		t.Fatalf("relay-1's TLS files: %v %s", err, out)
	}
	if !strings.Contains(string(out), "600 /etc/nats/tls/relay-1-") || !strings.Contains(string(out), ".key") {
		t.Errorf("relay-1 has no certificate and key named by serial: %s", out)
	}

	kv := kvOn(t, ctx, clientOn(t, ctx, s, "edge-1"), "hub", "tiers_tls", true)
	if _, err := kv.PutString(ctx, "k", "two tls hops"); err != nil {
		t.Fatalf("KV put from edge-1: %v", err)
	}
	if e, err := kvOn(t, ctx, clientOn(t, ctx, s, "edge-4"), "hub", "tiers_tls", false).Get(ctx, "k"); err != nil || string(e.Value()) != "two tls hops" {
		t.Errorf("KV read from edge-4: %v", err)
	}

	if p := s.plan(ctx); p.HasChanges() {
		t.Errorf("a second plan has changes: %v", actions(p))
	}

	// A plaintext client speaks NATS to relay-1's leafnode port from edge-1.
	relay1 := s.Inv.Host("relay-1")
	from := hubLogLines(t, ctx, env, "relay-1")
	script := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d && head -c 4 <&3 && printf 'CONNECT {"verbose":false}\r\nPING\r\n' >&3 && sleep 1; exec 3<&-`,
		relay1.Address, relay1.Leaf.LeafnodePort)
	if b, err := env.Lab.Exec(ctx, "edge-1", "bash", "-c", script); err != nil {
		t.Logf("plaintext client on relay-1's leafnode port: %v %s", err, b)
	}
	var refused string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		b, err := env.Lab.Exec(ctx, "relay-1", "sh", "-c",
			fmt.Sprintf("tail -n +%d /var/log/nats-server/current | grep 'Leafnode connection closed: TLS Handshake Failure' || true", from+1))
		if err != nil {
			t.Fatal(err)
		}
		if refused = strings.TrimSpace(string(b)); refused != "" {
			break
		}
	}
	if refused == "" {
		b, _ := env.Lab.Exec(ctx, "relay-1", "sh", "-c", fmt.Sprintf("tail -n +%d /var/log/nats-server/current | tail -n 20", from+1))
		t.Fatalf("relay-1's log shows no refused plaintext leaf connection:\n%s", b)
	}
	t.Logf("relay-1's log: %s", firstLines(refused, 2))
	t.Logf("TestTiersTLS_ManagedCA took %s", time.Since(began).Round(time.Second))
}
