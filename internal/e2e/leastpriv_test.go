package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/unit"
	"github.com/latticepush/latticepush/verify"
)

// serviceUsers runs every nats-server as nats and every wasmCloud host as wasmcloud.
func serviceUsers(src string) string {
	for _, role := range []string{"hub", "leaf"} {
		src = strings.Replace(src, "role \""+role+"\" {\n  nats {\n", "role \""+role+"\" {\n  nats {\n    user = \"nats\"\n", 1)
	}
	return strings.Replace(src, "role \"wasmcloud\" {\n  wasmcloud {\n", "role \"wasmcloud\" {\n  wasmcloud {\n    user = \"wasmcloud\"\n", 1)
}

// TestLeastPrivilege_FleetMoved moves a running lab lattice (3 hubs, 1 edge) that runs as
// root to its service users under a KV writer and reader through the edge's leaf, on runit
// and on systemd hosts. plan restarts every nats-server and wasmCloud host saying it runs as
// root and the inventory says otherwise, the hubs one at a time; apply creates the users,
// hands the store directories to nats while each server is stopped, and verify passes the
// user checks. Asserted: every nats-server and wasmCloud process's /proc/PID/status Uid is its
// user's; the store files are nats's; no acknowledged write lost (every key read back); the
// next plan is empty.
func TestLeastPrivilege_FleetMoved(t *testing.T) {
	for _, init := range labtest.Inits {
		t.Run(init, func(t *testing.T) { testLeastPrivilege(t, init) })
	}
}

func testLeastPrivilege(t *testing.T, init string) {
	began := time.Now()
	sd := init == lab.InitSystemd
	env := labtest.Up(t, labtest.Spec{Init: init, Become: sd, Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply as root: %v %s", err, res.VerifyError)
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second) // a baseline before the change

	env.Edit(t, serviceUsers)
	s2 := newSession(t, env, plan.Options{})
	before := s2.verify(ctx)
	if r := resultOf(before, verify.CheckNATSUser, "hub-1"); r == nil || r.OK || !strings.Contains(r.Evidence, "runs as root") {
		t.Errorf("verify with the setting on, servers still root: %s on hub-1: %+v, want a failure naming root", verify.CheckNATSUser, r)
	} else {
		t.Logf("before the move: %s on hub-1 fails: %s; fix: %s", verify.CheckNATSUser, r.Evidence, r.Fix)
	}
	p := s2.plan(ctx)
	for _, u := range p.Units {
		want := "runs as root, the inventory says nats"
		if u.Service == plan.ServiceWasmcloud {
			want = "runs as root, the inventory says wasmcloud"
		}
		if u.Action != plan.Restart || !strings.Contains(strings.Join(u.Reasons, "; "), want) {
			t.Errorf("%s: %s %v, want a restart because it %s", u.ID(), u.Action, u.Reasons, want)
		}
	}
	for _, w := range p.Waves {
		if w.Name == "hub" && len(w.Batches) != 3 {
			t.Errorf("hub wave %v: the hubs restart one at a time", w.Batches)
		}
	}
	applied := time.Now()
	res, err := s2.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("apply with service users: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	done := time.Now()
	time.Sleep(2 * time.Second)
	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("moved to service users in %s: %d writes acknowledged, %d write errors, longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		done.Sub(applied).Round(100*time.Millisecond), st.acked, st.writeErrs, st.writeGap.Round(time.Millisecond),
		st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Fatalf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}

	// Every process of the two binaries, as /proc says, and the users' uids on that host.
	const procs = `for d in /proc/[0-9]*; do
  case $(readlink "$d/exe" 2>/dev/null) in
  */nats-server|*/wasmcloud) echo "$(basename "$(readlink "$d/exe")") ${d#/proc/} $(awk '/^Uid:/ {print $3}' "$d/status")" ;;
  esac
done
echo "uid nats $(id -u nats)"; id -u wasmcloud >/dev/null 2>&1 && echo "uid wasmcloud $(id -u wasmcloud)"
true`
	for _, h := range s2.Inv.Hosts {
		out, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", procs)
		if err != nil {
			t.Fatalf("%s: reading /proc: %v %s", h.Name, err, out)
		}
		uids, seen := map[string]string{}, map[string]int{}
		var lines [][]string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "uid" {
				uids[f[1]] = f[2]
			} else if len(f) == 3 {
				lines = append(lines, f)
			}
		}
		for _, f := range lines {
			user := map[string]string{"nats-server": "nats", "wasmcloud": "wasmcloud"}[f[0]]
			seen[f[0]]++
			if uids[user] == "" || f[2] != uids[user] {
				t.Errorf("%s: %s pid %s runs as uid %s, want %s's (%s)", h.Name, f[0], f[1], f[2], user, uids[user])
			}
		}
		wantWasm := 0
		if h.Wasmcloud != nil {
			wantWasm = 1
		}
		if seen["nats-server"] != 1 || seen["wasmcloud"] != wantWasm {
			t.Errorf("%s: processes %v, want 1 nats-server and %d wasmCloud host:\n%s", h.Name, seen, wantWasm, out)
		}
		t.Logf("%s: %s", h.Name, strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "; "))
		if sd && h.Wasmcloud != nil {
			// The wasmCloud host writes only to its temporary directory: a read-only system
			// but for a private /tmp, and it runs (its gate passed, its process is above).
			out, err := env.Lab.Exec(ctx, h.Name, "systemctl", "show", "-p", "ProtectSystem,PrivateTmp,ProtectHome,NoNewPrivileges,ReadWritePaths", "wasmcloud.service")
			want := "NoNewPrivileges=yes\nPrivateTmp=yes\nProtectHome=yes\nProtectSystem=strict\nReadWritePaths="
			if got := sortedLines(string(out)); err != nil || got != want {
				t.Errorf("%s: wasmcloud.service sandbox:\n%s\nwant:\n%s (%v)", h.Name, got, want, err)
			}
		}
		if h.Hub != nil {
			store := h.Hub.StoreDir
			out, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", fmt.Sprintf("find %s ! -user nats | head -3; stat -c %%U %s/jetstream", store, store))
			if err != nil || strings.TrimSpace(string(out)) != "nats" {
				t.Errorf("%s: files of %s not nats's, or no JetStream state: %v %q", h.Name, store, err, out)
			}
		}
	}
	// A reload still reaches the server (systemd runs ExecReload as the user): same process.
	sup, err := supervisor.For(s2.Inv.Hosts[0].ServiceManager)
	if err != nil {
		t.Fatal(err)
	}
	pidOf := func() string {
		out, err := env.Lab.Exec(ctx, "edge-1", "sh", "-c", "cat "+unit.PIDFileUser)
		if err != nil {
			t.Fatalf("edge-1: pid file: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	pid := pidOf()
	if out, err := env.Lab.Exec(ctx, "edge-1", sup.Commands(30*time.Second).Reload(unit.ServiceNATS)...); err != nil {
		t.Errorf("edge-1: reload as nats: %v %s", err, out)
	}
	time.Sleep(time.Second)
	if after := pidOf(); after != pid {
		t.Errorf("edge-1: reload replaced the server: pid %s, then %s", pid, after)
	}
	rep := newSession(t, env, plan.Options{}).verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, h := range s2.Inv.Hosts {
		if r := resultOf(rep, verify.CheckNATSUser, h.Name); r == nil || !r.OK {
			t.Errorf("after: %s on %s: %+v", verify.CheckNATSUser, h.Name, r)
		}
	}
	if r := resultOf(rep, verify.CheckWasmcloudUser, "edge-1"); r == nil || !r.OK {
		t.Errorf("after: %s on edge-1: %+v", verify.CheckWasmcloudUser, r)
	}
	if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() {
		for _, u := range p.Units {
			if u.Action != plan.Noop {
				t.Errorf("plan after the move: %s %s %v", u.ID(), u.Action, u.Reasons)
			}
		}
	}
	t.Logf("test %s in all", time.Since(began).Round(time.Second))
}

// sortedLines is s's lines, trimmed and sorted.
func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
