package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
)

// TestSettle_HubRollAndRollbackListeners runs, on one lab with two edges:
//
//   - a hub rolling restart (a lowered max_memory_store) under a KV client through a leaf,
//     with the CLI: exit 0, no acknowledged write lost, and the settle time printed;
//   - the same kind of roll while edge-2 cannot reach any hub, with settle = "3s": the fault
//     outlasts the deadline, so the final verify fails (exit 3) naming edge-2's link, and the
//     JSON result says how long it waited;
//   - a restart of each leaf waits for the wasmCloud host on its machine to answer again
//     before the next batch, and the final verify passes;
//   - a leaf whose link cannot come back after its restart, with the leaf role's
//     gate_timeout = "5s": its gate gives up after it, and the error names the timeout;
//   - per listener kind (a leaf's http_host and client_host on an address the host does not
//     have; a hub's leafnode and cluster port taken by another process), a start that fails,
//     the files restored, and "rolled back" (not "rollback failed") with the host healthy.
func TestSettle_HubRollAndRollbackListeners(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Edges: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s", err, res.VerifyError)
	}
	cli := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return out.String(), 0
		case errors.As(err, &exit):
			return out.String(), exit.ExitCode()
		}
		t.Fatalf("latticepush %v: %v", args, err)
		return "", -1
	}
	memory := func(from, to string) {
		t.Helper()
		env.Edit(t, func(src string) string {
			old := `max_memory_store       = "` + from + `"`
			if !strings.Contains(src, old) {
				t.Fatalf("the lab inventory has no %s: edit this test", old)
			}
			return strings.Replace(src, old, `max_memory_store       = "`+to+`"`, 1)
		})
	}

	t.Run("hub roll under KV load settles, exit 0", func(t *testing.T) {
		l := startLoad(t, ctx, env, "edge-1")
		time.Sleep(2 * time.Second) // a baseline before the change
		memory("256MB", "128MB")
		p := newSession(t, env, plan.Options{}).plan(ctx)
		for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
			if a := actions(p)[h+"/nats-server"]; a != plan.Restart {
				t.Fatalf("%s: %s, want restart (%v)", h, a, p.Unit(h+"/nats-server").Reasons)
			}
		}
		out, code := cli("apply", "--auto-approve", env.Path)
		st := l.stop()
		missing, wrong := l.check(t, ctx)
		settle := regexp.MustCompile(`Settle: every check passed ([0-9.]+)s after the waves`).FindStringSubmatch(out)
		if code != 0 || settle == nil {
			t.Fatalf("apply: exit %d, want 0 with the settle time printed:\n%s", code, out)
		}
		if missing+wrong > 0 || st.acked == 0 {
			t.Fatalf("KV through edge-1: %d acknowledged, %d missing, %d wrong", st.acked, missing, wrong)
		}
		t.Logf("hub roll under KV load: exit 0, %s; %d writes acknowledged, none lost; longest write gap %s\n%s",
			settle[0], st.acked, st.writeGap.Round(time.Millisecond), grepLines(out, "settle"))
	})

	t.Run("a fault past the settle deadline fails the verify", func(t *testing.T) {
		env.Edit(t, func(src string) string {
			old := "rollout {\n    batch = \"50%\"\n  }"
			if !strings.Contains(src, old) {
				t.Fatalf("the lab inventory's leaf rollout block changed: edit this test")
			}
			return strings.Replace(src, old, "rollout {\n    batch  = \"50%\"\n    settle = \"3s\"\n  }", 1)
		})
		memory("128MB", "64MB")
		inv := env.Inventory(t)
		var hubs []string
		for _, h := range inv.Hubs() {
			hubs = append(hubs, h.Address)
		}
		routed := false
		cut := func(op string) {
			t.Helper()
			if routed == (op == "add") {
				return
			}
			routed = op == "add"
			for _, a := range hubs {
				if out, err := env.Lab.Exec(ctx, "edge-2", "ip", "route", op, "blackhole", a+"/32"); err != nil {
					t.Fatalf("edge-2: ip route %s blackhole %s: %v %s", op, a, err, out)
				}
			}
		}
		cut("add")
		defer cut("del")
		start := time.Now()
		out, code := cli("apply", "--json", "--auto-approve", env.Path)
		took := time.Since(start)
		var settled, result map[string]any
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var doc map[string]any
			if json.Unmarshal(sc.Bytes(), &doc) != nil {
				continue
			}
			switch doc["type"] {
			case string(rollout.EventSettled):
				settled = doc
			case "result":
				result, _ = doc["result"].(map[string]any)
			}
		}
		if code != 3 || settled == nil || result == nil {
			t.Fatalf("apply --json: exit %d, want 3 with a settled event and a result:\n%s", code, out)
		}
		verr, _ := result["verify_error"].(string)
		secs, _ := result["settle_seconds"].(float64)
		if !strings.Contains(verr, "edge-2") {
			t.Errorf("verify_error %q, want edge-2's link named", verr)
		}
		if secs < 3 || secs > 60 {
			t.Errorf("settle_seconds %.1f, want the 3s deadline (and the last round's time)", secs)
		}
		if msg, _ := settled["message"].(string); !strings.HasPrefix(msg, "still failing after ") {
			t.Errorf("settled event %q, want it to say what still fails", msg)
		}
		t.Logf("fault past a 3s settle: exit 3 after %.1fs; settle_seconds %.1f; verify_error %s", took.Seconds(), secs, firstLineOf(verr))
		cut("del")
		// The link comes back once the routes are gone; the lattice converges again.
		vs := newSession(t, env, plan.Options{})
		if _, err := verify.LeafGate(ctx, vs.Inv, vs.Fleet.Targets(ctx), "edge-2", verify.Options{GateTimeout: 2 * time.Minute}); err != nil {
			t.Fatalf("edge-2's link after the fault: %v", err)
		}
	})

	t.Run("leaf restarts wait for their wasmCloud hosts", func(t *testing.T) {
		env.Edit(t, func(src string) string {
			old := "role \"leaf\" {\n  nats {\n    lame_duck_duration     = \"30s\"\n    lame_duck_grace_period = \"1s\""
			if !strings.Contains(src, old) {
				t.Fatalf("the lab inventory's leaf role changed: edit this test")
			}
			return strings.Replace(src, old, strings.Replace(old, `"1s"`, `"2s"`, 1), 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		for _, h := range []string{"edge-1", "edge-2"} {
			if a := actions(p)[h+"/nats-server"]; a != plan.Restart || actions(p)[h+"/wasmcloud"] != plan.Noop {
				t.Fatalf("%s: nats-server %s, wasmcloud %s; want a leaf restart only", h, a, actions(p)[h+"/wasmcloud"])
			}
		}
		res, err := s.apply(ctx, p)
		if err != nil || res.VerifyError != "" {
			t.Fatalf("apply: %v %s", err, res.VerifyError)
		}
		var waits []string
		for _, e := range s.events {
			if e.Type == rollout.EventWaited && strings.Contains(e.Message, "answering again") {
				waits = append(waits, e.Message)
			}
		}
		if len(waits) != 2 || !strings.Contains(strings.Join(waits, ";"), "edge-1") || !strings.Contains(strings.Join(waits, ";"), "edge-2") {
			t.Fatalf("waits for the wasmCloud hosts %q, want one after each leaf's batch", waits)
		}
		t.Logf("leaf restarts: %s; final verify %s after %.1fs", strings.Join(waits, "; "), res.Verify, res.Settle)
	})

	t.Run("leaf gate past its role's gate_timeout: given up after it, the timeout named", func(t *testing.T) {
		// edge-1's nats-server restarts (its own lame-duck grace period) while its new
		// connections to the hubs' leafnode port are dropped: it runs, but its link cannot come
		// back, so its gate can only run out of time, which the leaf role sets to 5s.
		role := roleRollout(t, env, "leaf", `    gate_timeout = "5s"`+"\n")
		defer role.undo(t)
		host := hostBlock(t, env, "edge-1", "  nats {\n    lame_duck_grace_period = \"3s\"\n  }\n")
		defer host.undo(t)
		labSh(t, ctx, env, "edge-1", `nft add table inet lp_gate_test
nft add chain inet lp_gate_test out '{ type filter hook output priority 0; }'
nft add rule inet lp_gate_test out tcp dport 7422 drop`)
		unblock := func() {
			_, _ = env.Lab.Exec(context.Background(), "edge-1", "nft", "delete", "table", "inet", "lp_gate_test")
		}
		defer unblock()
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		if a := actions(p)["edge-1/nats-server"]; a != plan.Restart || actions(p)["edge-2/nats-server"] != plan.Noop {
			t.Fatalf("edge-1/nats-server %s, edge-2/nats-server %s: want edge-1's leaf restarted, nothing else", a, actions(p)["edge-2/nats-server"])
		}
		if got := p.GateTimeouts[plan.RoleLeaf]; got != 5 {
			t.Fatalf("the plan's leaf gate timeout %vs, want the role's 5s", got)
		}
		start := time.Now()
		res, err := s.apply(ctx, p)
		took := time.Since(start)
		got := results(res)["edge-1/nats-server"]
		if !errors.Is(err, rollout.ErrRolledBack) || (got != string(rollout.RolledBack) && got != string(rollout.RollbackFailed)) {
			t.Fatalf("edge-1/nats-server %q (%v), want the unit given up", got, err)
		}
		if !strings.Contains(err.Error(), "(the gate timeout is 5s; a role's rollout { gate_timeout") {
			t.Fatalf("err %v, want the gate timeout it ran out of named", err)
		}
		unblock()
		role.undo(t)
		host.undo(t)
		repairLab(t, ctx, env)
		t.Logf("edge-1/nats-server %s after %.1fs (the tests' default gate timeout is %s): %v", got, took.Seconds(), gateTimeout, err)
	})

	// An address in the lab's subnet that no host has: a server told to listen there cannot.
	a := env.Lab.Subnet.Addr().As4()
	a[3] = 250
	absent := fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3])
	rollbacks := []struct {
		name, host, body string
		port             int // taken on the failing host before the apply
	}{
		{"leaf http_host", "edge-1", fmt.Sprintf("  nats {\n    http_host = %q\n  }\n", absent), 0},
		{"leaf client_host", "edge-1", fmt.Sprintf("  nats {\n    client_host = %q\n  }\n", absent), 0},
		{"hub leafnode listen", "hub-1", "  nats {\n    leafnode_port = 7433\n  }\n", 7433},
		{"hub cluster listen", "hub-1", "  nats {\n    cluster_port = 6333\n  }\n", 6333},
	}
	for _, rb := range rollbacks {
		t.Run("rollback: "+rb.name, func(t *testing.T) {
			if rb.port != 0 {
				pid := occupyPort(t, ctx, env, rb.host, rb.port)
				defer env.Lab.Exec(context.Background(), rb.host, "kill", pid)
			}
			before := hashesOn(t, ctx, env, natsConf, wasmEnv)
			edited := hostBlock(t, env, rb.host, rb.body)
			defer edited.undo(t)
			s := newSession(t, env, plan.Options{})
			p := s.plan(ctx)
			id := rb.host + "/nats-server"
			if a := actions(p)[id]; a != plan.Restart && a != plan.Reload {
				t.Fatalf("%s: %s, want a change", id, a)
			}
			start := time.Now()
			res, err := s.apply(ctx, p)
			got := results(res)[id]
			var rolled string
			for _, e := range s.events {
				if e.Type == rollout.EventRolledBack && e.Unit == id {
					rolled = e.Message
				}
			}
			if !errors.Is(err, rollout.ErrRolledBack) || got != string(rollout.RolledBack) {
				t.Fatalf("%s: %q (%v), want rolled back", id, got, err)
			}
			edited.undo(t)
			// Back on the previous inventory: the files as before the apply (a leaf-first bridge
			// step for a hub's leafnode port is undone by the repair apply below) and the host
			// healthy where its restored config listens.
			after := hashesOn(t, ctx, env, natsConf, wasmEnv)
			if k := rb.host + " " + natsConf; after[k] != before[k] {
				t.Errorf("%s's config is not its previous one after the rollback", rb.host)
			}
			vs := newSession(t, env, plan.Options{})
			var gerr error
			if strings.HasPrefix(rb.host, "hub-") {
				_, gerr = verify.HubNodeGate(ctx, vs.Inv, vs.Fleet.Targets(ctx), rb.host, verify.Options{GateTimeout: time.Minute})
			} else {
				_, gerr = verify.LeafGate(ctx, vs.Inv, vs.Fleet.Targets(ctx), rb.host, verify.Options{GateTimeout: time.Minute})
			}
			if gerr != nil {
				t.Fatalf("%s not healthy after the rollback: %v", rb.host, gerr)
			}
			if rp := vs.plan(ctx); rp.HasChanges() {
				if res, err := vs.apply(ctx, rp); err != nil || res.VerifyError != "" {
					t.Fatalf("repair apply: %v %s", err, res.VerifyError)
				}
			}
			t.Logf("%s: %s %s after %.1fs (%s); its config as before, its gate passes", rb.name, id, got,
				time.Since(start).Seconds(), rolled)
		})
	}
}

// roleRollout adds lines to the rollout block of role in the inventory.
func roleRollout(t *testing.T, env *labtest.Env, role, lines string) edit {
	t.Helper()
	var e edit
	env.Edit(t, func(src string) string {
		i := strings.Index(src, `role "`+role+`" {`)
		j := strings.Index(src[max(i, 0):], "  rollout {\n")
		if i < 0 || j < 0 {
			t.Fatalf("no rollout block in role %s of the inventory", role)
		}
		j += i + len("  rollout {\n")
		e = edit{env: env, from: src[i:j], to: src[i:j] + lines}
		return src[:j] + lines + src[j:]
	})
	return e
}
