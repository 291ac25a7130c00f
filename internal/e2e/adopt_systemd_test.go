package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// packagedUnit is a unit a package installs under /lib/systemd/system; packagedDropIn is an
// administrator's drop-in for it in /etc that replaces its command line.
const (
	packagedUnit = `[Unit]
Description=NATS server (packaged)
[Service]
ExecStart=/usr/local/bin/nats-server -c /root/hand/packaged.conf
[Install]
WantedBy=multi-user.target
`
	packagedDropIn = `[Service]
ExecStart=
ExecStart=/usr/local/bin/nats-server -c /root/hand/nats.conf
`
)

// TestAdopt_SystemdPackagedUnitWithDropIn: on a systemd host, a packaged unit under
// /lib/systemd/system with a drop-in in /etc, one placed at runtime under /run and one shipped
// under /lib is what systemd runs;
// plan shows it as adopt (both reasons). An adoption whose managed server cannot start (its client port taken) is
// rolled back: the packaged unit with its drop-in runs again, as before. Then apply adopts
// it: systemd runs latticepush's unit in /etc, no drop-in applies (the ones in /etc and /run
// kept aside, the one under /lib masked) and the process is latticepush's, with its lame-duck stop
// signal. hub-1 runs its server as nats.service: adopted from it (stopped and disabled).
// Every takeover stops the foreign server with lame duck: its log says so, once per takeover.
func TestAdopt_SystemdPackagedUnitWithDropIn(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Edges: 1, Init: lab.InitSystemd})
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	sh := func(host, script string) string {
		t.Helper()
		out, err := env.Lab.Exec(ctx, host, "sh", "-c", script)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	// The packaged server listens on other ports than the inventory's, so that a squatter
	// on the inventory's client port can make the managed server fail to start.
	sh("edge-1", `set -e
mkdir -p /root/hand /etc/systemd/system/nats-server.service.d
printf 'listen: "127.0.0.1:14222"\nhttp: "127.0.0.1:18222"\nlog_file: "`+handLog+`"\n' > /root/hand/nats.conf
printf 'listen: "127.0.0.1:24222"\n' > /root/hand/packaged.conf
printf '%s' '`+packagedUnit+`' > /lib/systemd/system/nats-server.service
printf '%s' '`+packagedDropIn+`' > /etc/systemd/system/nats-server.service.d/override.conf
mkdir -p /lib/systemd/system/nats-server.service.d
printf '[Service]\nLimitNOFILE=4096\n' > /lib/systemd/system/nats-server.service.d/10-limits.conf
mkdir -p /run/systemd/system/nats-server.service.d
printf '[Service]\nEnvironment=PLACED_AT_RUNTIME=1\n' > /run/systemd/system/nats-server.service.d/50-runtime.conf
systemctl daemon-reload
systemctl enable --now nats-server.service >/dev/null 2>&1`)
	// hub-1 runs its server as a unit of another name, as a package might install it.
	sh("hub-1", `set -e
mkdir -p /root/hand
printf 'listen: "0.0.0.0:4222"\nhttp: "127.0.0.1:8222"\nlog_file: "`+handLog+`"\n' > /root/hand/nats.conf
printf '[Service]\nExecStart=/usr/local/bin/nats-server -c /root/hand/nats.conf\n[Install]\nWantedBy=multi-user.target\n' > /lib/systemd/system/nats.service
systemctl daemon-reload
systemctl enable --now nats.service >/dev/null 2>&1
i=0; until systemctl is-active --quiet nats.service; do i=$((i+1)); [ $i -gt 50 ] && exit 1; sleep 0.1; done`)
	state := func() string {
		return sh("edge-1", `p=$(systemctl show -p MainPID --value nats-server.service)
systemctl show -p FragmentPath,DropInPaths,UnitFileState,ActiveState nats-server.service | sort
echo "cmdline=$(tr '\0' ' ' < /proc/$p/cmdline)"
echo "aside=$(ls /etc/systemd/system/nats-server.service.d/) $(ls /run/systemd/system/nats-server.service.d/)"`)
	}
	var before string
	for i := 0; ; i++ {
		if before = state(); strings.Contains(before, "ActiveState=active") && strings.Contains(before, "/root/hand/nats.conf") {
			break
		}
		if i > 50 {
			t.Fatalf("the packaged unit does not run:\n%s", before)
		}
		time.Sleep(100 * time.Millisecond)
	}

	squat := sh("edge-1", "/usr/local/bin/nats-server -a 127.0.0.1 -p 4222 >/dev/null 2>&1 & echo $!")
	s := newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	u := p.Unit("edge-1/nats-server")
	if u.Action != plan.Adopt || len(u.Reasons) < 2 ||
		u.Reasons[0] != "systemd runs /lib/systemd/system/nats-server.service, not latticepush's /etc/systemd/system/nats-server.service" ||
		u.Reasons[1] != "drop-ins apply to the unit: /usr/lib/systemd/system/nats-server.service.d/10-limits.conf, "+
			"/run/systemd/system/nats-server.service.d/50-runtime.conf, /etc/systemd/system/nats-server.service.d/override.conf" {
		t.Fatalf("edge-1: %s %q, want adopt of the packaged unit and its drop-in", u.Action, u.Reasons)
	}
	if !strings.Contains(u.Reasons[2], "/usr/local/bin/nats-server -c /root/hand/nats.conf") {
		t.Errorf("what runs now: %q", u.Reasons[2])
	}
	if u := p.Unit("hub-1/nats-server"); u.Action != plan.Adopt ||
		u.Reasons[0] != "the systemd unit nats.service runs a nats-server, not latticepush's /etc/systemd/system/nats-server.service" {
		t.Fatalf("hub-1: %s %q, want adopt from nats.service", u.Action, u.Reasons)
	}
	res, err := s.apply(ctx, p)
	if err == nil || results(res)["edge-1/nats-server"] != string(rollout.RolledBack) {
		t.Fatalf("apply with edge-1's client port taken: err %v, results %v", err, results(res))
	}
	if after := state(); after != before {
		t.Errorf("edge-1 after the rollback:\n%s\nwant as before:\n%s", after, before)
	}
	lameDucks := func(h string) string {
		t.Helper()
		return sh(h, "grep -ac 'Entering lame duck mode' "+handLog+" || :")
	}
	if n := lameDucks("edge-1"); n != "1" {
		t.Errorf("edge-1: the failed adoption's takeover drained the packaged server %s time(s), want once (lame duck)", n)
	}
	sh("edge-1", "kill "+squat)

	s = newSession(t, env, plan.Options{})
	p = s.plan(ctx)
	if a := actions(p)["edge-1/nats-server"]; a != plan.Adopt {
		t.Fatalf("edge-1 after the rollback: %s, want adopt", a)
	}
	if res, err = s.apply(ctx, p); err != nil || res.VerifyError != "" {
		t.Fatalf("adoption: %v %s %v", err, res.VerifyError, results(res))
	}
	got := sh("edge-1", `p=$(systemctl show -p MainPID --value nats-server.service)
systemctl show -p FragmentPath,DropInPaths,KillSignal nats-server.service | sort
echo "exe=$(readlink /proc/$p/exe) cmdline=$(tr '\0' ' ' < /proc/$p/cmdline)"
echo "aside=$(ls /etc/systemd/system/nats-server.service.d/ | tr '\n' ' ')" | sed 's/ $//'
echo "aside in /run=$(ls /run/systemd/system/nats-server.service.d/ | tr '\n' ' ')" | sed 's/ $//'`)
	// systemctl still lists the /lib drop-in's mask: a link to /dev/null.
	want := "DropInPaths=/etc/systemd/system/nats-server.service.d/10-limits.conf\nFragmentPath=/etc/systemd/system/nats-server.service\nKillSignal=12\n" +
		"exe=/usr/local/bin/nats-server cmdline=/usr/local/bin/nats-server -c /etc/nats/nats-server.conf \n" +
		"aside=10-limits.conf override.conf.latticepush-adopted\naside in /run=50-runtime.conf.latticepush-adopted"
	if got != want {
		t.Errorf("edge-1 after the adoption:\n%s\nwant:\n%s", got, want)
	}
	if got := sh("hub-1", "systemctl is-active nats.service nats-server.service; systemctl is-enabled nats.service || :"); got != "inactive\nactive\ndisabled" {
		t.Errorf("hub-1 after the adoption: nats.service, nats-server.service:\n%s", got)
	}
	for h, want := range map[string]string{"edge-1": "2", "hub-1": "1"} {
		if n := lameDucks(h); n != want {
			t.Errorf("%s: the foreign server entered lame duck mode %s time(s), want %s (once per takeover)", h, n, want)
		}
	}
	if mask := sh("edge-1", "readlink /etc/systemd/system/nats-server.service.d/10-limits.conf"); mask != "/dev/null" {
		t.Errorf("the /lib drop-in is not masked: %q", mask)
	}
	if p := s.plan(ctx); p.HasChanges() {
		t.Errorf("after the adoption: %s", p.Summary())
	}
}
