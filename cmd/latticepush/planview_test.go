package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
)

// TestPlanShowsUpgrades: each unit's release change, what it uploads and the total are lines
// of the human plan.
func TestPlanShowsUpgrades(t *testing.T) {
	up := func(host string, upload bool) *plan.Unit {
		u := &plan.Unit{Host: host, Service: "nats-server", Role: plan.RoleHub, Action: plan.Restart,
			Reasons: []string{"upgrade 2.14.10 → 2.15.3"},
			Upgrade: &plan.Upgrade{From: "2.14.10", Running: "2.14.10", To: "2.15.3", Platform: "linux/amd64",
				Source: "/srv/dist/nats-server-v2.15.3-linux-amd64.tar.gz", Dir: "/opt/latticepush/nats-server/2.15.3",
				Link: "/usr/local/bin/nats-server", Upload: upload}}
		if upload {
			u.Upgrade.Bytes = 7 << 20
		}
		return u
	}
	fetch := up("edge-1", true)
	fetch.Upgrade.Bytes = 0
	fetch.Upgrade.Fetch = "curl"
	fetch.Upgrade.Source = "https://releases.example.com/v2.15.3/nats-server-v2.15.3-linux-amd64.tar.gz?token=s3cret"
	declared := up("edge-2", true)
	declared.Upgrade.Fetch = "wget"
	declared.Upgrade.Source = "https://releases.example.com/v2.15.3/nats-server-v2.15.3-linux-amd64.tar.gz"
	p := &plan.Plan{Lattice: "default", Domain: "hub", Units: []*plan.Unit{up("hub-1", true), up("hub-2", true), up("hub-3", false), fetch, declared}}
	var out bytes.Buffer
	(&globals{stdout: &out}).printPlan(p)
	for _, want := range []string{
		"  hub-1\n  -/+ nats-server: restart\n        upgrade 2.14.10 → 2.15.3\n" +
			"        upload nats-server-v2.15.3-linux-amd64.tar.gz (linux/amd64, 7.0 MiB) into /opt/latticepush/nats-server/2.15.3; /usr/local/bin/nats-server -> /opt/latticepush/nats-server/2.15.3/nats-server\n",
		"        nats-server 2.15.3 (linux/amd64) is on the host already: /usr/local/bin/nats-server -> /opt/latticepush/nats-server/2.15.3/nats-server\n",
		"  edge-1\n  -/+ nats-server: restart\n        upgrade 2.14.10 → 2.15.3\n" +
			"        fetch https://releases.example.com/v2.15.3/nats-server-v2.15.3-linux-amd64.tar.gz?… (linux/amd64, size unknown until fetched) with curl on the host into /opt/latticepush/nats-server/2.15.3; /usr/local/bin/nats-server -> /opt/latticepush/nats-server/2.15.3/nats-server\n",
		"        fetch https://releases.example.com/v2.15.3/nats-server-v2.15.3-linux-amd64.tar.gz (linux/amd64, 7.0 MiB) with wget on the host into ",
		"nats-server releases: 14.0 MiB to upload to 2 hosts; 2 hosts fetch their own (7.0 MiB and 1 size unknown until fetched), checked there against their sha256 before anything restarts.\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Errorf("the plan shows the URL's query string:\n%s", out.String())
	}
}

// TestPlanShowsWasmcloudUpgrade: a wasmCloud host's release change shows as nats-server's
// does, naming its program, and the total names both programs.
func TestPlanShowsWasmcloudUpgrade(t *testing.T) {
	wc := &plan.Unit{Host: "edge-1", Service: "wasmcloud", Role: plan.RoleWasmcloud, Action: plan.Restart,
		Reasons: []string{"upgrade 1.9.2 → 1.9.3"},
		Upgrade: &plan.Upgrade{Program: "wasmcloud", From: "1.9.2", Running: "1.9.2", To: "1.9.3", Platform: "linux/amd64",
			Source: "/srv/dist/wasmcloud-1.9.3-linux-amd64.tar.gz", Dir: "/opt/latticepush/wasmcloud/1.9.3",
			Link: "/usr/local/bin/wasmcloud", Upload: true, Bytes: 3 << 20}}
	held := &plan.Unit{Host: "edge-2", Service: "wasmcloud", Role: plan.RoleWasmcloud, Action: plan.Restart,
		Upgrade: &plan.Upgrade{Program: "wasmcloud", To: "1.9.3", Platform: "linux/amd64", Dir: "/opt/latticepush/wasmcloud/1.9.3", Link: "/usr/local/bin/wasmcloud"}}
	hub := &plan.Unit{Host: "hub-1", Service: "nats-server", Role: plan.RoleHub, Action: plan.Restart,
		Upgrade: &plan.Upgrade{To: "2.15.3", Platform: "linux/amd64", Source: "/srv/dist/nats-server-v2.15.3-linux-amd64.tar.gz",
			Dir: "/opt/latticepush/nats-server/2.15.3", Link: "/usr/local/bin/nats-server", Upload: true, Bytes: 7 << 20}}
	var out bytes.Buffer
	(&globals{stdout: &out}).printPlan(&plan.Plan{Lattice: "default", Domain: "hub", Units: []*plan.Unit{wc, held, hub}})
	for _, want := range []string{
		"  -/+ wasmcloud: restart\n        upgrade 1.9.2 → 1.9.3\n" +
			"        upload wasmcloud-1.9.3-linux-amd64.tar.gz (linux/amd64, 3.0 MiB) into /opt/latticepush/wasmcloud/1.9.3; /usr/local/bin/wasmcloud -> /opt/latticepush/wasmcloud/1.9.3/wasmcloud\n",
		"        wasmcloud 1.9.3 (linux/amd64) is on the host already: /usr/local/bin/wasmcloud -> /opt/latticepush/wasmcloud/1.9.3/wasmcloud\n",
		"nats-server and wasmcloud releases: 10.0 MiB to upload to 2 hosts, checked there",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
}

// TestPlanShowsRenew: a hub whose certificate is renewed says so on its action line, and the
// previous files it removes once the new certificate is served are listed.
func TestPlanShowsRenew(t *testing.T) {
	u := &plan.Unit{Host: "hub-1", Service: "nats-server", Role: plan.RoleHub, Action: plan.Reload,
		Reasons: []string{"renew: the certificate it serves expires on 2026-12-16T00:00:00Z"},
		Cert: &plan.CertChange{Renew: true, Remove: []string{"/etc/nats/tls/hub-1-aa.pem", "/etc/nats/tls/hub-1-aa.key"},
			Sweep: "/etc/nats/tls/hub-1-", Keep: []string{"/etc/nats/tls/hub-1-bb.pem", "/etc/nats/tls/hub-1-bb.key"}}}
	p := &plan.Plan{Lattice: "default", Domain: "hub", Units: []*plan.Unit{u}}
	var out bytes.Buffer
	(&globals{stdout: &out}).printPlan(p)
	want := "  hub-1\n    ~ nats-server: reload (renew)\n        renew: the certificate it serves expires on 2026-12-16T00:00:00Z\n" +
		"        - /etc/nats/tls/hub-1-aa.pem (removed once the new certificate is served)\n" +
		"        - /etc/nats/tls/hub-1-aa.key (removed once the new certificate is served)\n" +
		"        - /etc/nats/tls/hub-1-<serial>.pem and .key but the new ones (certificates replaced before)\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("plan lacks %q:\n%s", want, out.String())
	}
}

// TestPlanShowsCASweep: a server whose config moves to another CA file lists the CA files it
// removes once its gate passed.
func TestPlanShowsCASweep(t *testing.T) {
	u := &plan.Unit{Host: "edge-1", Service: "nats-server", Role: plan.RoleLeaf, Action: plan.Reload,
		Files:   []plan.FileChange{{Path: "/etc/nats/tls/ca-bb.pem", Op: "create"}},
		CASweep: &plan.CASweep{Prefix: "/etc/nats/tls/ca-", Keep: []string{"/etc/nats/tls/ca-bb.pem"}, Previous: []string{"/etc/nats/tls/ca-bb-aa.pem"}}}
	p := &plan.Plan{Lattice: "default", Domain: "hub", Units: []*plan.Unit{u}}
	var out bytes.Buffer
	(&globals{stdout: &out}).printPlan(p)
	want := "        - /etc/nats/tls/ca-bb-aa.pem (removed once the gate passed)\n" +
		"        - /etc/nats/tls/ca-<serial>.pem but the new one (CA files of earlier CAs)\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("plan lacks %q:\n%s", want, out.String())
	}
}

// TestPlanShowsRotation: a password rotation is one block of three steps, the ones this plan
// takes marked, with the leaves step 3 waits for or the command that completes it.
func TestPlanShowsRotation(t *testing.T) {
	for _, c := range []struct {
		step string
		want []string
	}{
		{plan.RotationAcceptAndSwitch, []string{
			"Rotation of passwords.leaf (leaf-a -> leaf-b), three steps:\n" +
				"  -> 1. the hubs accept leaf-b beside leaf-a (reload)\n" +
				"  -> 2. the leaves log in as leaf-b (reload, each confirmed on a new link)\n" +
				"     3. the hubs drop leaf-a (reload), once every leaf runs step 2\n" +
				"  This plan takes steps 1 and 2; plan again after apply for step 3.\n" +
				"  waiting for edge-1 (logs in as leaf-a)\n"}},
		{plan.RotationRetire, []string{"     2. the leaves", "  -> 3. the hubs drop leaf-a"}},
		{plan.RotationComplete, []string{"  Complete: no server accepts leaf-a any more. Run `latticepush secrets --finish-rotation passwords.leaf /srv/inventory.hcl`.\n"}},
	} {
		p := &plan.Plan{Lattice: "default", Domain: "hub", Inventory: "/srv/inventory.hcl",
			Rotations: []*plan.Rotation{{Secret: "passwords.leaf", OldUser: "leaf-a", NewUser: "leaf-b", Step: c.step, Waiting: []string{"edge-1 (logs in as leaf-a)"}}}}
		var out bytes.Buffer
		(&globals{stdout: &out}).printPlan(p)
		for _, want := range c.want {
			if !strings.Contains(out.String(), want) {
				t.Errorf("step %s: plan lacks\n%s\ngot:\n%s", c.step, want, out.String())
			}
		}
	}
}

// TestPlanShowsHubOnlyRotation: the system and check passwords rotate in two steps.
func TestPlanShowsHubOnlyRotation(t *testing.T) {
	p := &plan.Plan{Lattice: "default", Domain: "hub", Rotations: []*plan.Rotation{
		{Secret: "passwords.check", OldUser: "latticepush", NewUser: "latticepush-a", Step: plan.RotationAcceptAndSwitch, Waiting: []string{"hub-2 (does not accept latticepush-a yet)"}},
		{Secret: "passwords.system", OldUser: "sys-a", NewUser: "sys-b", Step: plan.RotationRetire}}}
	var out bytes.Buffer
	(&globals{stdout: &out}).printPlan(p)
	for _, want := range []string{
		"Rotation of passwords.check (latticepush -> latticepush-a), two steps:\n" +
			"  -> 1. the hubs accept latticepush-a beside latticepush (reload)\n" +
			"     2. the hubs drop latticepush (reload), once every hub accepts latticepush-a\n" +
			"  This plan takes step 1; plan again after apply for step 2.\n" +
			"  waiting for hub-2 (does not accept latticepush-a yet)\n",
		"Rotation of passwords.system (sys-a -> sys-b), two steps:\n" +
			"     1. the hubs accept sys-b beside sys-a (reload)\n" +
			"  -> 2. the hubs drop sys-a (reload), once every hub accepts sys-b\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks\n%s\ngot:\n%s", want, out.String())
		}
	}
}

// TestPlanShowsCARotation: a CA rotation is one block of three steps, the one this plan takes
// marked, with what the next step waits for or the command that completes it.
func TestPlanShowsCARotation(t *testing.T) {
	for _, c := range []struct {
		step string
		want []string
	}{
		{plan.CARotationTrustBoth, []string{
			"Rotation of ca.key (CA 0a1 -> 0b2), three steps, each its own apply:\n" +
				"  -> 1. every nats-server trusts both CAs (reload)\n" +
				"     2. every hub and relay gets a certificate of 0b2 (reload), once every server trusts both\n" +
				"     3. every nats-server drops 0a1 (reload), once every hub and relay presents a certificate of 0b2\n" +
				"  Plan again after apply for the next step.\n" +
				"  waiting for hub-2 (not observed)\n"}},
		{plan.CARotationReissue, []string{"  -> 2. every hub and relay", "     3. every nats-server drops"}},
		{plan.CARotationDropOld, []string{"     2. every hub and relay", "  -> 3. every nats-server drops 0a1"}},
		{plan.RotationComplete, []string{"  Complete: no server trusts 0a1 any more. Run `latticepush secrets --finish-rotation ca.key /srv/inventory.hcl`.\n"}},
	} {
		p := &plan.Plan{Lattice: "default", Domain: "hub", Inventory: "/srv/inventory.hcl",
			Rotations: []*plan.Rotation{{Secret: "ca.key", OldCA: "0a1", NewCA: "0b2", Step: c.step, Waiting: []string{"hub-2 (not observed)"}}}}
		var out bytes.Buffer
		(&globals{stdout: &out}).printPlan(p)
		for _, want := range c.want {
			if !strings.Contains(out.String(), want) {
				t.Errorf("step %s: plan lacks\n%s\ngot:\n%s", c.step, want, out.String())
			}
		}
	}
}

// TestPlanShowsPeerRemovals: the meta group members a plan removes come before the hosts, and
// in the summary.
func TestPlanShowsPeerRemovals(t *testing.T) {
	p := &plan.Plan{Lattice: "default", Domain: "hub", PeerRemovals: []plan.PeerRemoval{
		{Name: "hub-2", Peer: "PBdTVlg5", Why: "no hub of the inventory; no hub has a route to it, not current on the meta leader hub-1"}}}
	var out bytes.Buffer
	(&globals{stdout: &out}).printPlan(p)
	for _, want := range []string{
		"\n  - JetStream meta group of the hub cluster: removed before the hub wave\n" +
			"   - hub-2 (peer PBdTVlg5): no hub of the inventory; no hub has a route to it, not current on the meta leader hub-1\n",
		"Plan: 0 unchanged; 1 JetStream peer removed (hub-2).\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "No changes") {
		t.Errorf("a plan that removes a peer says it has no changes:\n%s", out.String())
	}
}
