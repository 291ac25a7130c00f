package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/verify"
)

// TestSystemd_RollingRestartAndRefusedStart covers, on systemd hosts logged into as a sudo
// user (become), the paths where systemd does the work: a first start refused (the client port taken) is rolled back to no unit and
// no enable links; a hub client-port change restarts the hub nodes one at a time in lame duck
// mode (systemd's KillSignal), each with a new MainPID and no automatic restart, while a KV
// writer through a leaf loses no acknowledged write; a unit file change runs daemon-reload on
// the hosts whose unit changed and nowhere else; and a hub whose new client port is taken
// (a config nats-server -t accepts, that cannot start) fails with an error quoting systemctl
// show and the unit's journal, and is rolled back to a unit running the previous
// config_digest.
func TestSystemd_RollingRestartAndRefusedStart(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Init: lab.InitSystemd, Become: true})
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})

	t.Run("refused first start: rolled back, unit disabled and gone", func(t *testing.T) {
		pid := holdPort(t, ctx, env, "hub-1", 4222)
		// The hubs start in one batch: the other two wait for hub-1 in their gates until the
		// gate timeout, kept short here.
		res, err := applyWith(ctx, s, s.plan(ctx), 15*time.Second, func(rollout.Event) {})
		if _, kerr := env.Lab.Exec(ctx, "hub-1", "kill", pid); kerr != nil {
			t.Fatal(kerr)
		}
		if !errors.Is(err, rollout.ErrRolledBack) || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "ExecMainStatus=1") {
			t.Fatalf("err %v, want rolled back quoting the exit and the journal\nresults: %v", err, results(res))
		}
		if got := results(res)["hub-1/nats-server"]; got != "rolled back" {
			t.Fatalf("hub-1: %s, want rolled back", got)
		}
		script := "systemctl is-active --quiet nats-server && echo active; ls /etc/systemd/system /etc/systemd/system/multi-user.target.wants | grep nats-server; true"
		if out, err := env.Lab.Exec(ctx, "hub-1", "sh", "-c", script); err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("hub-1 after the rolled-back first start: %v %q; want nats-server stopped, its unit and enable links gone", err, out)
		}
	})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	hubs := []string{"hub-1", "hub-2", "hub-3"}

	t.Run("hub client port change: lame duck one node at a time, new MainPID, no acknowledged write lost", func(t *testing.T) {
		before := mainPIDs(t, ctx, env, hubs)
		restarts := map[string]int{}
		for _, h := range hubs {
			restarts[h] = unitState(t, ctx, env, h, plan.ServiceNATS).NRestarts
		}
		reloads := daemonReloads(t, ctx, env)
		ducks := journalCount(t, ctx, env, hubs, plan.ServiceNATS, "Entering lame duck mode")
		load := startLoad(t, ctx, env, "edge-1")
		env.Edit(t, func(src string) string {
			return strings.Replace(src, `cluster_name           = "hub"`, "cluster_name           = \"hub\"\n    client_port            = 4333", 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		if len(p.Waves) == 0 || p.Waves[0].Name != "hub" || len(p.Waves[0].Batches) != 3 {
			t.Fatalf("waves %+v, want a hub wave of three single-node batches", p.Waves)
		}
		if res, err := s.apply(ctx, p); err != nil {
			t.Fatalf("apply: %v\nresults: %v", err, results(res))
		}
		running := 0
		for _, e := range s.events {
			if !strings.HasPrefix(e.Unit, "hub-") {
				continue
			}
			switch e.Type {
			case "unit_start":
				if running++; running > 1 {
					t.Errorf("two hub nodes restarting at once at %s", e.Unit)
				}
			case "unit_done", "rolled_back":
				running--
			}
		}
		after := mainPIDs(t, ctx, env, hubs)
		afterDucks := journalCount(t, ctx, env, hubs, plan.ServiceNATS, "Entering lame duck mode")
		for _, h := range hubs {
			st := unitState(t, ctx, env, h, plan.ServiceNATS)
			if after[h] == before[h] || st.NRestarts != restarts[h] || st.SubState != "running" {
				t.Errorf("%s: MainPID %d -> %d, NRestarts %d -> %d, %s: want a new MainPID started by apply, not by systemd (NRestarts unchanged), running",
					h, before[h], after[h], restarts[h], st.NRestarts, st.SubState)
			}
			if afterDucks[h] != ducks[h]+1 {
				t.Errorf("%s: %d lame duck entries in its journal during the apply, want 1 (systemctl stop sends KillSignal=SIGUSR2)", h, afterDucks[h]-ducks[h])
			}
		}
		if got := daemonReloads(t, ctx, env); !equalMaps(reloads, got) {
			t.Errorf("a config-only change ran daemon-reload: per host %v -> %v", reloads, got)
		}
		st := load.stop()
		missing, wrong := load.check(t, ctx)
		t.Logf("KV load through edge-1 during the rolling hub restart on systemd: %d acknowledged writes, %d write errors, longest write gap %s; %d missing, %d wrong; MainPIDs %v -> %v",
			st.acked, st.writeErrs, st.writeGap.Round(time.Millisecond), missing, wrong, before, after)
		if st.acked == 0 || missing+wrong != 0 {
			t.Fatalf("%d acknowledged writes, %d missing, %d wrong", st.acked, missing, wrong)
		}
	})

	t.Run("unit file change: daemon-reload where the unit changed, nowhere else", func(t *testing.T) {
		reloads := daemonReloads(t, ctx, env)
		stops := map[string]string{}
		for _, h := range env.Lab.Hosts {
			stops[h.Name] = stopTimeout(t, ctx, env, h.Name)
		}
		// The leaves' lame-duck time sets their units' TimeoutStopSec (plus 30 s of slack).
		env.Edit(t, func(src string) string {
			leaf := "role \"leaf\" {\n  nats {\n    lame_duck_duration     = \"30s\""
			if !strings.Contains(src, leaf) {
				t.Fatal("the lab inventory's leaf role changed: edit this test")
			}
			return strings.Replace(src, leaf, strings.Replace(leaf, `"30s"`, `"40s"`, 1), 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		for _, u := range p.Units {
			if u.Changes() && u.DaemonReload != strings.HasPrefix(u.Host, "edge-") {
				t.Errorf("%s: daemon_reload %v (%v)", u.ID(), u.DaemonReload, u.Reasons)
			}
		}
		if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
			for _, h := range []string{"edge-1", "edge-2", "edge-3"} {
				out, _ := env.Lab.Exec(ctx, h, "sh", "-c", "systemctl show -p NRestarts,MainPID,ActiveState wasmcloud; journalctl -u wasmcloud -u nats-server -n 40 -o short-precise --no-pager")
				t.Logf("%s:\n%s", h, out)
			}
			t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
		}
		got := daemonReloads(t, ctx, env)
		for h, n := range got {
			want := reloads[h]
			if strings.HasPrefix(h, "edge-") {
				want++ // its apply reloads systemd once, before the restart (and no rollback)
			}
			if n != want {
				t.Errorf("%s: %d daemon-reloads during the apply, want %d", h, n-reloads[h], want-reloads[h])
			}
			if changed := stopTimeout(t, ctx, env, h) != stops[h]; changed != strings.HasPrefix(h, "edge-") {
				t.Errorf("%s: systemd's TimeoutStopUSec %s -> %s: changed = %v", h, stops[h], stopTimeout(t, ctx, env, h), changed)
			}
			if out, err := env.Lab.Exec(ctx, h, "systemctl", "show", "-p", "NeedDaemonReload", "--value", "--", plan.ServiceNATS); err != nil || strings.TrimSpace(string(out)) != "no" {
				t.Errorf("%s: NeedDaemonReload=%s %v: systemd holds a stale unit", h, out, err)
			}
		}
	})

	t.Run("new port taken: error quotes systemctl show and the journal, rollback runs the previous digest", func(t *testing.T) {
		env.Edit(t, func(src string) string {
			return strings.Replace(src, "client_port            = 4333", "client_port            = 4444", 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		first := strings.SplitN(p.Waves[0].Batches[0][0], "/", 2)[0]
		prev := s.Fleet.Observe(ctx, s.Probes)[first]
		if prev.NATS == nil || prev.NATS.RunningDigest == "" {
			t.Fatalf("%s: no running config_digest before the apply: %+v", first, prev.NATS)
		}
		pid := holdPort(t, ctx, env, first, 4444)
		defer env.Lab.Exec(context.Background(), first, "kill", pid)
		before := hashesOn(t, ctx, env, natsConf)
		res, err := s.apply(ctx, p)
		if !errors.Is(err, rollout.ErrRolledBack) {
			t.Fatalf("err %v, want rolled back\nresults: %v", err, results(res))
		}
		msg := err.Error()
		t.Logf("apply error:\n%s", msg)
		for _, want := range []string{"systemctl show -p Result,ExecMainCode,ExecMainStatus,NRestarts,ActiveState,SubState,MainPID nats-server:",
			"Result=exit-code", "ExecMainStatus=1", "journalctl -u nats-server -n 20 --no-pager:", "address already in use"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the apply error does not quote %q", want)
			}
		}
		inv := env.Inventory(t)
		for _, sec := range []string{inv.Auth.SystemPassword.Reveal(), inv.Auth.LeafPassword.Reveal(), inv.Auth.CheckPassword.Reveal(), inv.Auth.RoutePassword.Reveal()} {
			if sec != "" && strings.Contains(msg, sec) {
				t.Errorf("the apply error prints a secret")
			}
		}
		if got := results(res)[first+"/nats-server"]; got != "rolled back" {
			t.Errorf("%s: %s, want rolled back", first, got)
		}
		after := hashesOn(t, ctx, env, natsConf)
		for k := range before {
			if before[k] != after[k] {
				t.Errorf("%s changed (the failing node must be restored, the others never touched)", k)
			}
		}
		now := s.Fleet.Observe(ctx, s.Probes)[first]
		st := unitState(t, ctx, env, first, plan.ServiceNATS)
		if now.NATS == nil || now.NATS.RunningDigest != prev.NATS.RunningDigest || st.SubState != "running" || st.MainPID == 0 {
			t.Errorf("%s after the rollback: config_digest %v (want %s), unit %+v", first, now.NATS, prev.NATS.RunningDigest, st)
		} else {
			t.Logf("%s after the rollback: running config_digest %s (as before), MainPID %d", first, now.NATS.RunningDigest, st.MainPID)
		}
		if _, err := verify.HubNodeGate(ctx, inv, s.Fleet.Targets(ctx), first, verify.Options{GateTimeout: time.Minute}); err != nil {
			t.Fatalf("cluster not healthy after the rollback: %v", err)
		}
	})
}

// holdPort binds port on host with a program other than nats-server (a copy of the binary
// under another name, which plan does not take for a stray nats-server) and returns its pid.
func holdPort(t *testing.T, ctx context.Context, env *labtest.Env, host string, port int) string {
	t.Helper()
	script := fmt.Sprintf("cp /usr/local/bin/nats-server /root/port-holder && setsid /root/port-holder -a 0.0.0.0 -p %d </dev/null >/dev/null 2>&1 & echo $!", port)
	out, err := env.Lab.Exec(ctx, host, "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %v %s", host, err, out)
	}
	pid := strings.TrimSpace(string(out))
	for try := 0; try < 50; try++ {
		if out, _ := env.Lab.Exec(ctx, host, "sh", "-c", fmt.Sprintf("ss -Hltn 'sport = :%d'", port)); len(strings.TrimSpace(string(out))) > 0 {
			return pid
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: nothing listens on %d", host, port)
	return ""
}

// stopTimeout is systemd's loaded TimeoutStopUSec of nats-server on host.
func stopTimeout(t *testing.T, ctx context.Context, env *labtest.Env, host string) string {
	t.Helper()
	out, err := env.Lab.Exec(ctx, host, "systemctl", "show", "-p", "TimeoutStopUSec", "--value", "--", plan.ServiceNATS)
	if err != nil {
		t.Fatalf("%s: %v %s", host, err, out)
	}
	return strings.TrimSpace(string(out))
}

// servicesOn lists the lab inventory's services on host: every host runs nats-server, edges
// also a wasmCloud host.
func servicesOn(host string) []string {
	if strings.HasPrefix(host, "edge-") {
		return []string{plan.ServiceNATS, "wasmcloud"}
	}
	return []string{plan.ServiceNATS}
}

// unitState reads `systemctl show` of svc on a systemd lab host.
func unitState(t *testing.T, ctx context.Context, env *labtest.Env, host, svc string) supervisor.UnitState {
	t.Helper()
	out, err := env.Lab.Exec(ctx, host, supervisor.ShowArgv(svc)...)
	if err != nil {
		t.Fatalf("%s: systemctl show %s: %v %s", host, svc, err, out)
	}
	st, err := supervisor.ParseShow(out)
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	return st
}

// mainPIDs is nats-server's MainPID on each host.
func mainPIDs(t *testing.T, ctx context.Context, env *labtest.Env, hosts []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range hosts {
		out[h] = unitState(t, ctx, env, h, plan.ServiceNATS).MainPID
	}
	return out
}

// daemonReloads counts, on every lab host, the daemon-reloads systemd has logged since boot.
func daemonReloads(t *testing.T, ctx context.Context, env *labtest.Env) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range env.Lab.Hosts {
		out[h.Name] = countLines(t, ctx, env, h.Name, "journalctl _PID=1 -o cat --no-pager | grep -c -x 'Reloading\\.*' || true")
	}
	return out
}

// journalCount counts the lines of svc's journal on each host that contain text.
func journalCount(t *testing.T, ctx context.Context, env *labtest.Env, hosts []string, svc, text string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range hosts {
		out[h] = countLines(t, ctx, env, h, fmt.Sprintf("journalctl -u %s -o cat --no-pager | grep -c -F '%s' || true", svc, text))
	}
	return out
}

func countLines(t *testing.T, ctx context.Context, env *labtest.Env, host, script string) int {
	t.Helper()
	b, err := env.Lab.Exec(ctx, host, "sh", "-c", script)
	n, cerr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || cerr != nil {
		t.Fatalf("%s: %s: %v %v %s", host, script, err, cerr, b)
	}
	return n
}
