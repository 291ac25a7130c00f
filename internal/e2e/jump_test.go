package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
)

// TestJump_InventoryAlone: every lab host but hub-1 refuses SSH from this machine. With the
// inventory alone — proxy_jump in its defaults, no ssh_config, HOME an empty directory — a
// lattice is planned, applied from empty and verified, and planned again without changes.
// Then the same through a two-hop chain: hub-1, then a bastion outside the inventory that
// only hub-1 may log in to, the only host the others accept; planned again with that bastion
// declared as a bastion block. Each ends with a wrong known_hosts key for the first hop.
func TestJump_InventoryAlone(t *testing.T) {
	fleetHosts := []string{"hub-2", "hub-3", "edge-1"}
	for _, tc := range []struct {
		name  string
		extra []string
		from  map[string][]string
		chain []string // proxy_jump, as lab host names
	}{
		{"one hop", nil, map[string][]string{"hub-2": {"hub-1"}, "hub-3": {"hub-1"}, "edge-1": {"hub-1"}}, []string{"hub-1"}},
		{"two hops", []string{"jump"}, map[string][]string{"jump": {"hub-1"}, "hub-2": {"jump"}, "hub-3": {"jump"}, "edge-1": {"jump"}}, []string{"hub-1", "jump"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			env := labtest.Up(t, labtest.Spec{Edges: 1, Extra: tc.extra, SSHFrom: tc.from})
			up := time.Since(start)
			t.Setenv("HOME", t.TempDir()) // after Up: it finds nats-server through HOME
			t.Setenv("SSH_AUTH_SOCK", "")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()

			// The lab is what the test says: from here, only hub-1 takes a login.
			for _, h := range append([]string{"hub-1"}, append(fleetHosts, tc.extra...)...) {
				c, err := env.Lab.Dial(ctx, h, "root")
				if c != nil {
					c.Close()
				}
				if direct := h == "hub-1"; (err == nil) != direct {
					t.Fatalf("direct login to %s: %v; want it to succeed only for hub-1", h, err)
				}
			}
			var hops []string
			for _, h := range tc.chain {
				lh, _ := env.Lab.Host(h)
				hops = append(hops, "root@"+lh.Addr.String())
			}
			jump := strings.Join(hops, ",")
			env.Edit(t, func(src string) string {
				return strings.Replace(src, "    known_hosts   =", fmt.Sprintf("    proxy_jump    = %q\n    known_hosts   =", jump), 1)
			})
			inv := env.Inventory(t)
			if got := inv.Host("edge-1").SSH; got.ProxyJump != jump || got.ConfigFile != "" {
				t.Fatalf("edge-1 ssh settings %+v: want proxy_jump %q from defaults and no config_file", got, jump)
			}

			s := newSession(t, env, plan.Options{})
			if r, err := s.Pool.Resolve(fleet.Target(inv, inv.Host("edge-1"))); err != nil || len(r.Jumps) != len(tc.chain) {
				t.Fatalf("edge-1 resolves to jumps %+v (%v), want %d", r.Jumps, err, len(tc.chain))
			}
			applyStart := time.Now()
			p := s.plan(ctx)
			if !p.HasChanges() || len(p.Unreachable) > 0 {
				t.Fatalf("plan of an empty lab through %s: %s, unreachable %+v", jump, p.Summary(), p.Unreachable)
			}
			res, err := s.apply(ctx, p)
			if err != nil {
				t.Fatalf("apply through %s: %v\nresults: %v", jump, err, results(res))
			}
			if res.VerifyError != "" {
				t.Fatalf("verify after apply: %s", res.VerifyError)
			}
			rep := s.verify(ctx)
			if !rep.OK() {
				for _, r := range rep.Failed() {
					t.Errorf("verify: %s %s: %s", r.Check, r.Host, r.Evidence)
				}
				t.FailNow()
			}
			if p := s.plan(ctx); p.HasChanges() {
				t.Fatalf("re-plan after apply: %s", p.Summary())
			}
			t.Logf("through %s: lab up %.1fs; plan, apply from empty, verify (%d checks) and re-plan %.1fs",
				jump, up.Seconds(), len(rep.Results), time.Since(applyStart).Seconds())

			if len(tc.extra) > 0 { // the bastion outside the fleet declared as a bastion block
				b, _ := env.Lab.Host(tc.extra[0])
				env.Edit(t, func(src string) string {
					src = strings.Replace(src, fmt.Sprintf("%q", jump), fmt.Sprintf(`"%s,${bastion.edge}"`, hops[0]), 1)
					return src + fmt.Sprintf("\nbastion \"edge\" {\n  address = %q\n}\n", b.Addr)
				})
				if got := env.Inventory(t).Host("edge-1").SSH.ProxyJump; got != hops[0]+","+b.Addr.String() {
					t.Fatalf("proxy_jump through bastion.edge is %q", got)
				}
				if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() || len(p.Unreachable) > 0 {
					t.Fatalf("plan through bastion.edge: %s, unreachable %+v", p.Summary(), p.Unreachable)
				}
			}

			// known_hosts holding another key for the first hop: refused, naming the hop and
			// the key it presented, each host once.
			first, _ := env.Lab.Host(tc.chain[0])
			wrong, presented := swappedKnownHosts(t, env.Lab.KnownHostsPath, first.Addr.String())
			env.Edit(t, func(src string) string { return strings.ReplaceAll(src, env.Lab.KnownHostsPath, wrong) })
			_, err = newSession(t, env, plan.Options{}).Plan(ctx)
			want := fmt.Sprintf("edge-1: via bastion root@%s:22: HOST KEY CHANGED for %s: it presented ssh-ed25519 %s, but known_hosts holds %s:",
				first.Addr, first.Addr, presented, wrong)
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "edge-1: edge-1") {
				t.Fatalf("plan with a wrong key for the bastion:\n%v\nwant it to hold\n%s", err, want)
			}
		})
	}
}

// swappedKnownHosts writes a copy of the known_hosts file at path in which addr's line holds
// the key of the line after it; it returns the copy and the fingerprint of addr's real key.
func swappedKnownHosts(t *testing.T, path, addr string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != addr {
			continue
		}
		real, _, _, _, err := ssh.ParseAuthorizedKey([]byte(f[1] + " " + f[2]))
		if err != nil {
			t.Fatal(err)
		}
		other := strings.Fields(lines[(i+1)%len(lines)])
		lines[i] = addr + " " + other[1] + " " + other[2]
		out := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return out, ssh.FingerprintSHA256(real)
	}
	t.Fatalf("no line for %s in %s", addr, path)
	return "", ""
}
