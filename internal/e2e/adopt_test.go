package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// handRun is the run script of a hand-made runit service: another binary path, another
// config, no lame-duck control, no check.
const handRun = "#!/bin/sh\nexec /root/hand/bin/nats-server -c /root/hand/nats.conf 2>&1\n"

// handLog is where a hand-made server logs: how a test sees that it was drained.
const handLog = "/root/hand/nats.log"

// handConf is a hand-written config without server_name (the server runs as its generated
// ID) on the inventory's ports, logging to handLog; with js, JetStream too.
func handConf(js bool) string {
	c := "listen: \"0.0.0.0:4222\"\nhttp: \"127.0.0.1:8222\"\nlog_file: \"" + handLog + "\"\n"
	if js {
		c += "jetstream { store_dir: \"/var/lib/nats\" }\n"
	}
	return c
}

// TestAdopt_ForeignRunitService: hubs that already run nats-server from a runit directory of
// their own (not a link to /etc/sv), from a copied or symlinked binary, without server_name
// and without JetStream, are planned as adopt (not unchanged, not refused as a node
// replacement); one with JetStream, or with JetStream state in its store, is refused with the
// advice that fits. An adoption whose managed servers cannot start (their cluster port taken)
// is rolled back: the hand-made services run again as before. Once the port is free, apply takes
// the service over: the hand-made server is stopped with lame duck (its log says so), the
// running process is latticepush's (exe, command line, lame-duck control), the hand-made
// directory kept aside, and the next plan has nothing to do. edge-1
// runs its server from a runit service of another name (gnatsd): adopted from it too, and
// its wasmCloud host's first start is shown and counted as start.
func TestAdopt_ForeignRunitService(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	hubs := []string{"hub-1", "hub-2", "hub-3"}
	sh := func(host, script string) string {
		t.Helper()
		out, err := env.Lab.Exec(ctx, host, "sh", "-c", script)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	waitRun := func(host string) {
		t.Helper()
		sh(host, `i=0; until sv status /etc/service/nats-server 2>/dev/null | grep -q '^run:' && bash -c 'exec 3<>/dev/tcp/127.0.0.1/8222' 2>/dev/null; do
  i=$((i+1)); [ $i -gt 100 ] && { sv status /etc/service/nats-server; exit 1; }; sleep 0.1; done`)
	}
	for _, h := range hubs {
		bin := "ln -s /usr/local/bin/nats-server /root/hand/bin/nats-server"
		if h == "hub-1" {
			bin = "cp /usr/local/bin/nats-server /root/hand/bin/nats-server"
		}
		sh(h, fmt.Sprintf(`set -e
mkdir -p /root/hand/bin /tmp/hand-sv
%s
printf '%%s' '%s' > /root/hand/nats.conf
printf '%%s' '%s' > /tmp/hand-sv/run
chmod 755 /tmp/hand-sv/run
mv /tmp/hand-sv /etc/service/nats-server`, bin, handConf(h == "hub-3"), handRun))
	}
	for _, h := range hubs {
		waitRun(h)
	}
	// edge-1 runs its server from a runit service of another name.
	sh("edge-1", fmt.Sprintf(`set -e
mkdir -p /root/hand /tmp/hand-sv
printf '%%s' 'listen: "127.0.0.1:4222"
http: "127.0.0.1:8222"
' > /root/hand/nats.conf
printf '%%s' '%s' > /tmp/hand-sv/run
chmod 755 /tmp/hand-sv/run
mv /tmp/hand-sv /etc/service/gnatsd
i=0; until sv status /etc/service/gnatsd 2>/dev/null | grep -q '^run:'; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done`,
		strings.Replace(handRun, "/root/hand/bin/nats-server", "/usr/local/bin/nats-server", 1)))

	// JetStream enabled on hub-3, then only its state left in the store: refused, naming hub-3.
	s := newSession(t, env, plan.Options{})
	_, err := s.Plan(ctx)
	if err == nil || !strings.Contains(err.Error(), "hub-3: the running server has no server_name of its own (it runs as its generated ID \"N") ||
		!strings.Contains(err.Error(), "and JetStream is enabled on the running server, which keeps that name: to keep the state, set server_name = \"N") ||
		strings.Contains(err.Error(), "hub-1") {
		t.Fatalf("hub-3 with JetStream: err %v", err)
	}
	// What a JetStream server leaves in its store once it held a stream.
	sh("hub-3", fmt.Sprintf(`printf '%%s' '%s' > /root/hand/nats.conf && sv -w 30 restart /etc/service/nats-server >/dev/null &&
mkdir -p '/var/lib/nats/jetstream/$G/streams/ORDERS' && echo '{}' > '/var/lib/nats/jetstream/$G/streams/ORDERS/meta.inf'`, handConf(false)))
	waitRun("hub-3")
	_, err = s.Plan(ctx)
	if err == nil || !strings.Contains(err.Error(), "hub-3: the running server has no server_name of its own") ||
		!strings.Contains(err.Error(), "and its store directory /var/lib/nats/jetstream holds JetStream state, which keeps that name") {
		t.Fatalf("hub-3 with JetStream state in its store: err %v", err)
	}
	sh("hub-3", "rm -rf /var/lib/nats/jetstream")

	p := s.plan(ctx)
	for _, h := range hubs {
		u := p.Unit(h + "/nats-server")
		if u.Action != plan.Adopt || u.Adopt == nil || u.Adopt.Definition != "/etc/service/nats-server" ||
			!strings.Contains(u.Adopt.Cmdline, "/root/hand/nats.conf") {
			t.Fatalf("%s: %s %+v %q, want adopt of the hand-made service", h, u.Action, u.Adopt, u.Reasons)
		}
		if u.Reasons[0] != "runit runs /etc/service/nats-server, not latticepush's /etc/sv/nats-server" ||
			!strings.Contains(strings.Join(u.Reasons, "\n"), "the running server has no JetStream state that keeps its name") {
			t.Errorf("%s reasons %q", h, u.Reasons)
		}
	}
	if got, want := p.Summary(), "Plan: 4 adopt, 1 start, 0 unchanged."; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if u := p.Unit("edge-1/nats-server"); u.Adopt == nil || u.Adopt.Service != "gnatsd" ||
		!strings.HasPrefix(u.Reasons[0], "the runit service gnatsd (") {
		t.Errorf("edge-1: %s %+v %q, want adopt from gnatsd", u.Action, u.Adopt, u.Reasons)
	}
	if got := p.Waves[0].Batches; len(got) != 1 || len(got[0]) != 3 {
		t.Errorf("hub wave %v: hand-made servers are no cluster: adopt them together", got)
	}
	before := map[string]string{}
	for _, h := range hubs {
		before[h] = handState(t, sh, h)
	}
	if !strings.HasSuffix(before["hub-1"], "exe=/root/hand/bin/nats-server") {
		t.Fatalf("hub-1 before: %s", before["hub-1"])
	}

	// How often a host's hand-made server has entered lame duck mode, by its own log.
	lameDucks := func(h string) int {
		t.Helper()
		n, err := strconv.Atoi(sh(h, "grep -ac 'Entering lame duck mode' "+handLog+" || :"))
		if err != nil {
			t.Fatalf("%s: counting lame-duck entries in %s: %v", h, handLog, err)
		}
		return n
	}
	for _, h := range hubs {
		if n := lameDucks(h); n != 0 {
			t.Fatalf("%s: %d lame-duck entries before any apply", h, n)
		}
	}

	// Every hub's cluster port is taken: the managed servers cannot start, and the adoptions
	// are rolled back: the hand-made services run again as before.
	squat := map[string]string{}
	for _, h := range hubs {
		squat[h] = sh(h, "/usr/local/bin/nats-server -a 0.0.0.0 -p 6222 >/dev/null 2>&1 & echo $!")
	}
	if p = s.plan(ctx); p.Summary() != "Plan: 4 adopt, 1 start, 0 unchanged." {
		t.Fatalf("with a server outside any service beside each hand-made one: %s", p.Summary())
	}
	res, err := s.apply(ctx, p)
	if err == nil {
		t.Fatalf("apply with the cluster ports taken succeeded: %v", results(res))
	}
	r := results(res)
	for _, h := range hubs {
		if r[h+"/nats-server"] != string(rollout.RolledBack) {
			t.Errorf("%s: %s, want rolled back (%v)", h, r[h+"/nats-server"], err)
		}
		if after := handState(t, sh, h); after != before[h] {
			t.Errorf("%s after the rollback:\n%s\nwant as before:\n%s", h, after, before[h])
		}
		if out := sh(h, "ls -a /etc/service"); strings.Contains(out, "latticepush-adopted") {
			t.Errorf("%s keeps an aside copy after the give-back: %s", h, out)
		}
		if n := lameDucks(h); n != 1 {
			t.Errorf("%s: the failed adoption's takeover drained the hand-made server %d time(s), want once (lame duck)", h, n)
		}
		sh(h, "kill "+squat[h])
	}
	if t.Failed() {
		t.FailNow()
	}

	s = newSession(t, env, plan.Options{})
	p = s.plan(ctx)
	if p.Summary() != "Plan: 4 adopt, 1 start, 0 unchanged." {
		t.Fatalf("plan after the rollback: %s", p.Summary())
	}
	if res, err = s.apply(ctx, p); err != nil || res.VerifyError != "" {
		t.Fatalf("adoption: %v %s %v", err, res.VerifyError, results(res))
	}
	for _, h := range hubs {
		st := sh(h, `d=/etc/service/nats-server; p=$(cat $d/supervise/pid)
echo "link=$(readlink $d) t=$(test -x $d/control/t && echo yes) exe=$(readlink /proc/$p/exe) cmdline=$(tr '\0' ' ' < /proc/$p/cmdline)"
echo "aside=$(cat /etc/service/.nats-server.latticepush-adopted/run)"`)
		want := "link=/etc/sv/nats-server t=yes exe=/usr/local/bin/nats-server cmdline=/usr/local/bin/nats-server -c /etc/nats/nats-server.conf \naside=" + strings.TrimSpace(handRun)
		if st != want {
			t.Errorf("%s after the adoption:\n%s\nwant:\n%s", h, st, want)
		}
		if n := lameDucks(h); n != 2 {
			t.Errorf("%s: the hand-made server entered lame duck mode %d time(s) in all, want twice (once per takeover)", h, n)
		}
	}
	for _, u := range res.Units {
		want := map[string]plan.Action{"edge-1/nats-server": plan.Adopt, "edge-1/wasmcloud": plan.Start, "hub-1/nats-server": plan.Adopt}[u.Unit]
		if want != "" && (u.Action != want || u.Result != rollout.Applied) {
			t.Errorf("%s: %s %s, want %s applied", u.Unit, u.Action, u.Result, want)
		}
	}
	if st := sh("edge-1", `echo "$(readlink /etc/service/nats-server) $(ls -a /etc/service | grep gnatsd)"`); st != "/etc/sv/nats-server .gnatsd.latticepush-adopted" {
		t.Errorf("edge-1 after the adoption: %s", st)
	}
	if p := s.plan(ctx); p.HasChanges() {
		t.Errorf("after the adoption: %s", p.Summary())
	}
	if rep := s.verify(ctx); !rep.OK() {
		for _, f := range rep.Failed() {
			t.Errorf("verify: %s %s: %s", f.Check, f.Host, f.Evidence)
		}
	}
}

// handState is what runs a host's hand-made nats-server service: its directory (not a link),
// run script, its process's executable and command line, and how much JetStream state the
// inventory's store directory holds.
func handState(t *testing.T, sh func(host, script string) string, host string) string {
	t.Helper()
	return sh(host, `d=/etc/service/nats-server; p=$(cat $d/supervise/pid)
[ -d $d ] && [ ! -L $d ] && echo "dir=$d"
echo "run=$(cat $d/run)"
echo "status=$(sv status $d | cut -d: -f1)"
echo "cmdline=$(tr '\0' ' ' < /proc/$p/cmdline)"
echo "store=$(ls -A /var/lib/nats/jetstream 2>/dev/null | wc -l)"
echo "exe=$(readlink /proc/$p/exe)"`)
}
