package plan_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// TestBuild_AdoptsForeignRunitService: a host whose supervised nats-server is a directory
// of its own (a hand-made service), even with latticepush's files in place, is adopted, not
// left unchanged: the plan says what runs now, what replaces it and why.
func TestBuild_AdoptsForeignRunitService(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["edge-1"].Services[plan.ServiceNATS] = plan.ServiceFact{Running: true, Enabled: true, PID: 77,
		Definition: "/etc/service/nats-server", Exe: "/opt/nats/nats-server", Cmdline: "/opt/nats/nats-server -c /etc/nats/custom.conf"}
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := p.Unit("edge-1/nats-server")
	if u.Action != plan.Adopt || !u.Enable || !u.WasRunning {
		t.Fatalf("edge-1: %s enable=%v was_running=%v, want adopt of a running service", u.Action, u.Enable, u.WasRunning)
	}
	want := []string{
		"runit runs /etc/service/nats-server, not latticepush's /etc/sv/nats-server",
		"runs now: runit service nats-server (/etc/service/nats-server), pid 77: /opt/nats/nats-server -c /etc/nats/custom.conf",
		"replaced by latticepush's /etc/sv/nats-server (/usr/local/bin/nats-server -c /etc/nats/nats-server.conf, with lame-duck stop and health check)",
		"why it matters: until then plan, apply and verify would judge a server latticepush does not run; apply stops it (lame duck), keeps its definition aside and restores it if the adoption fails",
	}
	if !reflect.DeepEqual(u.Reasons, want) {
		t.Errorf("reasons:\n got %q\nwant %q", u.Reasons, want)
	}
	wantFrom := &plan.Foreign{Supervisor: "runit", Service: "nats-server", Definition: "/etc/service/nats-server", Running: true,
		Enabled: true, PID: 77, Exe: "/opt/nats/nats-server", Cmdline: "/opt/nats/nats-server -c /etc/nats/custom.conf"}
	if !reflect.DeepEqual(u.Adopt, wantFrom) {
		t.Errorf("adopt %+v, want %+v", u.Adopt, wantFrom)
	}
	if got := p.Summary(); got != "Plan: 1 adopt, 8 unchanged." {
		t.Errorf("summary %q", got)
	}
	// The same service linked from latticepush's directory is latticepush's.
	facts["edge-1"].Services[plan.ServiceNATS] = plan.ServiceFact{Running: true, Enabled: true, PID: 77, Definition: "/etc/sv/nats-server"}
	if p, err = plan.Build(inv, d, facts, plan.Options{}); err != nil || p.HasChanges() {
		t.Errorf("managed link: %v %s", err, p.Summary())
	}
}

// TestBuild_AdoptsSystemdUnitAndDropIns: a packaged unit under /lib, or latticepush's unit
// with a drop-in that still applies, is what systemd runs: adopt.
func TestBuild_AdoptsSystemdUnitAndDropIns(t *testing.T) {
	inv := plantest.LoadExample(t, "minimal", nil)
	d := plantest.FakeDesired(inv, true)
	h := inv.Hosts[0].Name
	for _, tc := range []struct {
		name string
		sf   plan.ServiceFact
		why  string
	}{
		{"packaged unit", plan.ServiceFact{Running: true, Enabled: true, PID: 9, Definition: "/lib/systemd/system/nats-server.service"},
			"systemd runs /lib/systemd/system/nats-server.service, not latticepush's /etc/systemd/system/nats-server.service"},
		{"drop-in", plan.ServiceFact{Running: true, Enabled: true, PID: 9, Definition: "/etc/systemd/system/nats-server.service",
			DropIns: []string{"/etc/systemd/system/nats-server.service.d/override.conf"}},
			"drop-ins apply to the unit: /etc/systemd/system/nats-server.service.d/override.conf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			facts := plantest.Converged(inv, d)
			facts[h].Services[plan.ServiceNATS] = tc.sf
			p, err := plan.Build(inv, d, facts, plan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			u := p.Unit(h + "/nats-server")
			if u.Action != plan.Adopt || len(u.Reasons) == 0 || u.Reasons[0] != tc.why {
				t.Fatalf("%s %q, want adopt because %q", u.Action, u.Reasons, tc.why)
			}
			if !reflect.DeepEqual(u.Adopt.DropIns, tc.sf.DropIns) || u.Adopt.Definition != tc.sf.Definition {
				t.Errorf("adopt %+v", u.Adopt)
			}
		})
	}
}

// TestBuild_AdoptsServerOfAnotherService: nats-server is not running under its name, but
// another service runs the server (a package's nats.service, a runit service of another
// name): adopt from it. A server no service runs is refused: nothing could restore it.
func TestBuild_AdoptsServerOfAnotherService(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["edge-2"].Services[plan.ServiceNATS] = plan.ServiceFact{Enabled: false}
	facts["edge-2"] = withOthers(facts["edge-2"], plan.Process{PID: 31, Exe: "/usr/bin/nats-server", Cmdline: "/usr/bin/nats-server -c /etc/gnatsd.conf", RunitDir: "/etc/runit/runsvdir/default/gnatsd", RunitName: "gnatsd"})
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := p.Unit("edge-2/nats-server")
	if u.Action != plan.Adopt || u.Adopt.Service != "gnatsd" || u.Adopt.Definition != "/etc/runit/runsvdir/default/gnatsd" || !u.Adopt.Running {
		t.Fatalf("%s %+v", u.Action, u.Adopt)
	}
	if want := "the runit service gnatsd (/etc/runit/runsvdir/default/gnatsd) runs a nats-server, not latticepush's /etc/sv/nats-server"; u.Reasons[0] != want {
		t.Errorf("reason %q, want %q", u.Reasons[0], want)
	}
	facts["edge-2"] = withOthers(facts["edge-2"], plan.Process{PID: 31, Exe: "/usr/bin/nats-server", Cmdline: "nats-server -p 4222"})
	_, err = plan.Build(inv, d, facts, plan.Options{})
	want := "edge-2: a nats-server (pid 31: nats-server -p 4222) runs outside any runit service and would keep the ports: " +
		"stop it, or run it under a service latticepush can take over, then plan again"
	if err == nil || err.Error() != want {
		t.Errorf("stray server: err %v\nwant %s", err, want)
	}
}

// TestBuild_AdoptsServerOfAnotherSystemdUnit: on a systemd host, nats-server.service does
// not run but a unit of another name (a package's nats.service) runs the server: adopt from
// that unit. A server in no systemd unit is refused, even when a runit service runs it: this
// host's service manager could not give it back.
func TestBuild_AdoptsServerOfAnotherSystemdUnit(t *testing.T) {
	inv := plantest.LoadExample(t, "minimal", nil)
	d := plantest.FakeDesired(inv, true)
	h := inv.Hosts[0].Name
	facts := plantest.Converged(inv, d)
	facts[h].Services[plan.ServiceNATS] = plan.ServiceFact{}
	facts[h] = withOthers(facts[h], plan.Process{PID: 12, Exe: "/usr/bin/nats-server", Cmdline: "/usr/bin/nats-server -c /etc/nats/nats.conf", Unit: "nats.service"})
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := p.Unit(h + "/nats-server")
	want := &plan.Foreign{Supervisor: "systemd", Service: "nats", Running: true, Enabled: true, PID: 12,
		Exe: "/usr/bin/nats-server", Cmdline: "/usr/bin/nats-server -c /etc/nats/nats.conf"}
	if u.Action != plan.Adopt || !reflect.DeepEqual(u.Adopt, want) || !u.WasRunning {
		t.Fatalf("%s: %s %+v was_running=%v, want adopt from %+v", h, u.Action, u.Adopt, u.WasRunning, want)
	}
	if why := "the systemd unit nats.service runs a nats-server, not latticepush's /etc/systemd/system/nats-server.service"; u.Reasons[0] != why {
		t.Errorf("reason %q, want %q", u.Reasons[0], why)
	}
	if now := "runs now: systemd service nats, pid 12: /usr/bin/nats-server -c /etc/nats/nats.conf"; u.Reasons[1] != now {
		t.Errorf("what runs now %q, want %q", u.Reasons[1], now)
	}
	facts[h] = withOthers(facts[h], plan.Process{PID: 12, Exe: "/usr/bin/nats-server", Cmdline: "nats-server -p 4222", RunitDir: "/etc/sv/gnatsd", RunitName: "gnatsd"})
	_, err = plan.Build(inv, d, facts, plan.Options{})
	refused := h + ": a nats-server (pid 12: nats-server -p 4222) runs outside any systemd service and would keep the ports: " +
		"stop it, or run it under a service latticepush can take over, then plan again"
	if err == nil || err.Error() != refused {
		t.Errorf("a server of a runit service on a systemd host: err %v\nwant %s", err, refused)
	}
}

func withOthers(f plan.Facts, o ...plan.Process) plan.Facts {
	f.Others = o
	return f
}

// TestBuild_RestartsProcessOfAnotherBinaryOrConfig: latticepush's service whose process
// runs another binary or reads another config is restarted, with that reason; the managed
// binary reached through a symlink is the same binary.
func TestBuild_RestartsProcessOfAnotherBinaryOrConfig(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	running := func(exe, cmdline string) map[string]plan.Facts {
		facts := plantest.Converged(inv, d)
		f := facts["hub-1"]
		sf := f.Services[plan.ServiceNATS]
		sf.Definition, sf.Exe, sf.Cmdline = "/etc/sv/nats-server", exe, cmdline
		f.Services[plan.ServiceNATS] = sf
		f.NATS.BinaryPath = "/opt/nats/2.15.2/nats-server" // /usr/local/bin/nats-server is a link to it
		return facts
	}
	for _, tc := range []struct {
		exe, cmdline string
		want         plan.Action
		why          string
	}{
		{"/opt/nats/2.15.2/nats-server", "/usr/local/bin/nats-server -c /etc/nats/nats-server.conf", plan.Noop, ""},
		{"/opt/nats/2.14.0/nats-server", "/usr/local/bin/nats-server -c /etc/nats/nats-server.conf", plan.Restart,
			"the running process runs /opt/nats/2.14.0/nats-server, not the managed binary /opt/nats/2.15.2/nats-server (/usr/local/bin/nats-server)"},
		{"/opt/nats/2.15.2/nats-server", "/usr/local/bin/nats-server --config=/etc/nats.conf", plan.Restart,
			"the running process reads /etc/nats.conf, not the managed config /etc/nats/nats-server.conf"},
	} {
		p, err := plan.Build(inv, d, running(tc.exe, tc.cmdline), plan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		u := p.Unit("hub-1/nats-server")
		if u.Action != tc.want || (tc.why != "" && !reflect.DeepEqual(u.Reasons, []string{tc.why})) {
			t.Errorf("exe %s, %q: %s %q, want %s %q", tc.exe, tc.cmdline, u.Action, u.Reasons, tc.want, tc.why)
		}
	}
}

// TestBuild_IdentityChangeWithoutJetStreamState: a running hub without server_name (named by
// its generated ID) and without JetStream is adopted as planned: nothing keeps its name. With
// JetStream enabled, or state in the store directory, it is refused, with advice that fits a
// generated name.
func TestBuild_IdentityChangeWithoutJetStreamState(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	const id = "NBZ35QWJ4W6OQ2EPOB6DX5YLBHH3YSV7FGSX6CEKA7LGIVZPNIXJCXOU"
	hand := func(js, store bool) map[string]plan.Facts {
		facts := plantest.Converged(inv, d)
		f := facts["hub-1"]
		f.Services[plan.ServiceNATS] = plan.ServiceFact{Running: true, Enabled: true, PID: 5, Definition: "/etc/service/nats-server"}
		f.NATS.ServerName, f.NATS.ClusterName, f.NATS.Domain = id, "", ""
		f.NATS.JetStream, f.NATS.StoreState = js, store
		return facts
	}
	p, err := plan.Build(inv, d, hand(false, false), plan.Options{})
	if err != nil {
		t.Fatalf("no JetStream state: %v", err)
	}
	u := p.Unit("hub-1/nats-server")
	note := `server_name "` + id + `" becomes "hub-1": the running server has no JetStream state that keeps its name`
	if u.Action != plan.Adopt || !contains(u.Reasons, note) {
		t.Errorf("%s %q, want adopt noting %q", u.Action, u.Reasons, note)
	}
	for _, tc := range []struct {
		js, store bool
		state     string
	}{
		{true, false, "JetStream is enabled on the running server"},
		{false, true, "its store directory /var/lib/nats/jetstream holds JetStream state"},
	} {
		_, err := plan.Build(inv, d, hand(tc.js, tc.store), plan.Options{})
		want := `hub-1: the running server has no server_name of its own (it runs as its generated ID "` + id + `") and ` +
			tc.state + `, which keeps that name: to keep the state, set server_name = "` + id + `" for this host; ` +
			`to start the node afresh as "hub-1", drain it and re-run with -replace hub-1`
		if err == nil || err.Error() != want {
			t.Errorf("js=%v store=%v: err %v\nwant %s", tc.js, tc.store, err, want)
		}
	}
	if _, err := plan.Build(inv, d, hand(true, true), plan.Options{Replace: []string{"hub-1"}}); err != nil {
		t.Errorf("with -replace hub-1: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestSummary_CountsStartAndAdopt: a first start is counted as start, not restart.
func TestSummary_CountsStartAndAdopt(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	p, err := plan.Build(inv, d, plantest.Empty(inv, d), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summary(); got != "Plan: 9 start, 0 unchanged." || strings.Contains(got, "restart") {
		t.Errorf("summary %q", got)
	}
}

// TestBuild_AdoptHidesSecretsOnTheCommandLine: a hand-made server started with a password
// option or credentials in a route URL is shown (and saved in the plan) without them.
func TestBuild_AdoptHidesSecretsOnTheCommandLine(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["edge-1"].Services[plan.ServiceNATS] = plan.ServiceFact{Running: true, Enabled: true, PID: 77,
		Definition: "/etc/service/nats-server", Exe: "/opt/nats/nats-server",
		Cmdline: "/opt/nats/nats-server --user admin --pass s3cret-one -auth=t0ken --routes nats-route://r:s3cret-two@10.0.0.2:6222"}
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := p.Unit("edge-1/nats-server")
	want := "/opt/nats/nats-server --user admin --pass (sensitive) -auth=(sensitive) --routes nats-route://r:(sensitive)@10.0.0.2:6222"
	if u.Adopt == nil || u.Adopt.Cmdline != want {
		t.Fatalf("adopt %+v\nwant cmdline %s", u.Adopt, want)
	}
	for _, r := range u.Reasons {
		if strings.Contains(r, "s3cret") || strings.Contains(r, "t0ken") {
			t.Errorf("reason shows a secret: %s", r)
		}
	}
	facts["edge-1"].Services[plan.ServiceNATS] = plan.ServiceFact{}
	facts["edge-1"] = withOthers(facts["edge-1"], plan.Process{PID: 31, Exe: "/usr/bin/nats-server", Cmdline: "nats-server --pass=s3cret-three"})
	_, err = plan.Build(inv, d, facts, plan.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "--pass=(sensitive)") {
		t.Errorf("stray server: %v", err)
	}
}
