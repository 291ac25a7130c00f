package plan_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

func v(t *testing.T, s string) inventory.Version {
	t.Helper()
	x, ok := inventory.ParseVersion(s)
	if !ok {
		t.Fatalf("bad version %q", s)
	}
	return x
}

// TestCheckVersion: each release rule refuses what it names, and lets the neighbouring
// change through.
func TestCheckVersion(t *testing.T) {
	tests := []struct {
		from, to           string
		js, flags, allowed bool
		rule               plan.VersionRule // "" passes
	}{
		{"2.14.10", "2.15.3", true, false, false, ""},
		{"2.15.2", "2.15.3", true, false, false, ""},
		{"2.12.4", "2.14.10", true, false, false, ""}, // there was no 2.13
		{"2.12.4", "2.15.3", true, false, false, plan.RuleOneMinor},
		{"2.11.9", "2.14.10", false, false, false, plan.RuleOneMinor},
		{"", "2.10.22", false, false, false, plan.RuleMinimum},
		{"2.11.1", "2.10.22", false, false, true, plan.RuleMinimum},
		{"", "2.15.3", true, false, false, ""},
		{"2.15.3", "2.15.2", true, false, false, ""}, // a patch back, same minor
		{"2.15.3", "2.14.10", true, false, false, plan.RuleDowngrade},
		{"2.15.3", "2.14.10", true, false, true, ""},
		{"2.15.3", "2.14.10", false, false, false, ""}, // no JetStream: no store to read
		{"2.14.10", "2.12.4", true, true, true, plan.RuleFeatureFlags},
		{"2.14.10", "2.12.4", true, false, true, ""},
		{"2.12.4", "2.11.8", true, false, true, plan.RuleFloor},
		{"2.12.4", "2.11.9", true, false, true, ""},
	}
	for _, tt := range tests {
		var from inventory.Version
		if tt.from != "" {
			from = v(t, tt.from)
		}
		err := plan.CheckVersion(plan.VersionChange{From: from, To: v(t, tt.to), JetStream: tt.js, FeatureFlags: tt.flags, AllowDowngrade: tt.allowed})
		switch {
		case tt.rule == "" && err != nil:
			t.Errorf("%s → %s (js=%v flags=%v allow=%v): refused: %v", tt.from, tt.to, tt.js, tt.flags, tt.allowed, err)
		case tt.rule != "" && (err == nil || err.Rule != tt.rule):
			t.Errorf("%s → %s (js=%v flags=%v allow=%v): %v, want rule %q", tt.from, tt.to, tt.js, tt.flags, tt.allowed, err, tt.rule)
		case err != nil && !strings.Contains(err.Error(), `(rule "`+string(tt.rule)+`")`):
			t.Errorf("error %q does not name its rule", err)
		}
	}
}

// pinned loads the lab example with version pinned in role "hub" and returns it with the
// artifact's local file.
func pinned(t *testing.T, version string, platforms ...string) (*inventory.Inventory, plan.LocalFile, string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "nats-server-v"+version+"-linux-amd64.tar.gz")
	body := []byte("release " + version)
	if err := os.WriteFile(src, body, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	hexsum := hex.EncodeToString(sum[:])
	var arts strings.Builder
	for _, p := range platforms {
		arts.WriteString("    artifact \"" + p + "\" {\n      source = \"" + src + "\"\n      sha256 = \"" + hexsum + "\"\n    }\n")
	}
	inv := plantest.LoadExample(t, "lab", func(s string) string {
		return strings.Replace(s, "    cluster_name           = \"hub\"\n",
			"    cluster_name           = \"hub\"\n    version = \""+version+"\"\n"+arts.String(), 1)
	})
	return inv, plan.LocalFile{Size: int64(len(body)), SHA256: hexsum}, src
}

// onRelease makes every hub run and hold release ver on an x86_64 machine.
func onRelease(inv *inventory.Inventory, facts map[string]plan.Facts, ver string, js bool) {
	for _, h := range inv.Hubs() {
		nf := facts[h.Name].NATS
		nf.Machine, nf.Installed, nf.Running, nf.Version = "x86_64", ver, ver, ver
		nf.BinaryPath = "/usr/local/bin/nats-server"
		nf.JetStream = js
	}
}

func TestBuild_UpgradePlanned(t *testing.T) {
	inv, local, src := pinned(t, "2.15.3", "linux/amd64")
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	onRelease(inv, facts, "2.14.10", true)
	p, err := plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{src: local}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range inv.Hubs() {
		u := p.Unit(h.Name + "/nats-server")
		if u.Action != plan.Restart || u.Upgrade == nil {
			t.Fatalf("%s: action %s upgrade %+v, want a restart with an upgrade", u.ID(), u.Action, u.Upgrade)
		}
		up := u.Upgrade
		if up.Text() != "upgrade 2.14.10 → 2.15.3" || up.Bytes != local.Size || up.Dir != "/opt/latticepush/nats-server/2.15.3" ||
			up.Link != "/usr/local/bin/nats-server" || !up.KeepAside || up.Previous != "/opt/latticepush/nats-server/2.14.10/nats-server" {
			t.Errorf("%s: upgrade %+v", u.ID(), up)
		}
		if !strings.Contains(strings.Join(u.Reasons, "; "), "upgrade 2.14.10 → 2.15.3") {
			t.Errorf("%s: reasons %v", u.ID(), u.Reasons)
		}
	}
	if u := p.Unit("edge-1/nats-server"); u.Upgrade != nil || u.Action != plan.Noop {
		t.Errorf("a leaf without a pinned release: %s %+v", u.Action, u.Upgrade)
	}
	// Once in place and running, nothing is left to do; an older release dir is pruned.
	for _, h := range inv.Hubs() {
		nf := facts[h.Name].NATS
		nf.Installed, nf.Running, nf.Version = "2.15.3", "2.15.3", "2.15.3"
		nf.BinaryPath = "/opt/latticepush/nats-server/2.15.3/nats-server"
		nf.Releases = map[string]string{"2.15.3": local.SHA256, "2.14.10": "x"}
	}
	p, err = plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{src: local}})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() {
		t.Errorf("after the upgrade: %s", p.Summary())
	}
}

func TestBuild_UpgradeRefusals(t *testing.T) {
	t.Run("jump over a minor", func(t *testing.T) {
		inv, local, src := pinned(t, "2.15.3", "linux/amd64")
		d := plantest.FakeDesired(inv, true)
		facts := plantest.Converged(inv, d)
		onRelease(inv, facts, "2.12.4", true)
		_, err := plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{src: local}})
		if err == nil || !strings.Contains(err.Error(), `hub-1: nats-server upgrade 2.12.4 → 2.15.3 refused: 2.12.4 → 2.15.3 skips a minor release: upgrade every server to the latest 2.14.x first, apply, then pin 2.15.3 (rule "one minor at a time") at `) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("downgrade without the flag", func(t *testing.T) {
		inv, local, src := pinned(t, "2.14.10", "linux/amd64")
		d := plantest.FakeDesired(inv, true)
		facts := plantest.Converged(inv, d)
		onRelease(inv, facts, "2.15.3", true)
		opts := plan.Options{Artifacts: map[string]plan.LocalFile{src: local}}
		_, err := plan.Build(inv, d, facts, opts)
		if err == nil || !strings.Contains(err.Error(), `hub-1: nats-server downgrade 2.15.3 → 2.14.10 refused: `) ||
			!strings.Contains(err.Error(), `re-run with -allow-downgrade to do it anyway (rule "downgrade across a minor")`) {
			t.Fatalf("err = %v", err)
		}
		opts.AllowDowngrade = true
		p, err := plan.Build(inv, d, facts, opts)
		if err != nil || p.Unit("hub-1/nats-server").Upgrade.Text() != "downgrade 2.15.3 → 2.14.10" || !p.AllowDowngrade {
			t.Fatalf("with -allow-downgrade: %v", err)
		}
	})
	t.Run("sha256 mismatch", func(t *testing.T) {
		inv, local, src := pinned(t, "2.15.3", "linux/amd64")
		d := plantest.FakeDesired(inv, true)
		facts := plantest.Converged(inv, d)
		onRelease(inv, facts, "2.14.10", true)
		local.SHA256 = strings.Repeat("0", 64)
		_, err := plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{src: local}})
		if err == nil || !strings.Contains(err.Error(), "hub-1: artifact \"linux/amd64\": "+src+" has sha256 "+local.SHA256+" but ") ||
			!strings.Contains(err.Error(), "it is not the release pinned; nothing was uploaded") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no artifact for the host's platform", func(t *testing.T) {
		inv, local, src := pinned(t, "2.15.3", "linux/amd64")
		d := plantest.FakeDesired(inv, true)
		facts := plantest.Converged(inv, d)
		onRelease(inv, facts, "2.14.10", true)
		facts["hub-2"].NATS.Machine = "aarch64"
		_, err := plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{src: local}})
		if err == nil || !strings.Contains(err.Error(), `hub-2: the host is linux/arm64 (`+"`uname -m`"+`: aarch64) but nats-server version 2.15.3 pinned at `) ||
			!strings.Contains(err.Error(), `has no artifact for it: add artifact "linux/arm64" { source = "…", sha256 = "…" } there`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown machine", func(t *testing.T) {
		inv, local, src := pinned(t, "2.15.3", "linux/amd64")
		d := plantest.FakeDesired(inv, true)
		facts := plantest.Converged(inv, d)
		onRelease(inv, facts, "2.14.10", true)
		facts["hub-3"].NATS.Machine = "mips"
		_, err := plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{src: local}})
		if err == nil || !strings.Contains(err.Error(), "hub-3: `uname -m` says \"mips\", a machine latticepush has no platform for") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestBuild_InstallOnEmptyHost: a host without nats-server (its -t cannot run) gets the
// pinned release as a first start; nothing is kept aside and nothing is the rollback target.
func TestBuild_InstallOnEmptyHost(t *testing.T) {
	inv, local, src := pinned(t, "2.15.3", "linux/amd64")
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Empty(inv, d)
	for _, h := range inv.Hubs() {
		facts[h.Name].NATS.Machine = "x86_64"
		facts[h.Name].NATS.BinaryPath = "/usr/local/bin/nats-server" // readlink -f of a missing file
		facts[h.Name].NATS.DesiredDigest = ""
		facts[h.Name].NATS.DesiredError = "/usr/local/bin/nats-server is not installed (not executable)"
	}
	p, err := plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{src: local}})
	if err != nil {
		t.Fatal(err)
	}
	u := p.Unit("hub-1/nats-server")
	if u.Action != plan.Start || !u.Start || u.Upgrade == nil {
		t.Fatalf("hub-1: %s start=%v upgrade=%+v", u.Action, u.Start, u.Upgrade)
	}
	if up := u.Upgrade; up.Text() != "install 2.15.3" || up.KeepAside || up.Previous != "" || !up.Upload || up.Bytes != local.Size {
		t.Errorf("hub-1 upgrade %+v", up)
	}
	// Without a pinned release the missing binary is still an error.
	inv2 := plantest.LoadExample(t, "lab", nil)
	d2 := plantest.FakeDesired(inv2, true)
	f2 := plantest.Empty(inv2, d2)
	f2["hub-1"].NATS.DesiredError = "/usr/local/bin/nats-server is not installed (not executable)"
	if _, err := plan.Build(inv2, d2, f2, plan.Options{}); err == nil || !strings.Contains(err.Error(), "is not installed") {
		t.Errorf("unpinned, missing binary: %v", err)
	}
}

// TestBuild_UpgradeWithCutoverRefused: a domain cutover and a release change are two applies.
func TestBuild_UpgradeWithCutoverRefused(t *testing.T) {
	inv, local, src := pinned(t, "2.15.3", "linux/amd64")
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	onRelease(inv, facts, "2.14.10", true)
	for _, h := range inv.Hubs() {
		facts[h.Name].NATS.Domain = "old"
	}
	_, err := plan.Build(inv, d, facts, plan.Options{AllowDomainChange: true, Artifacts: map[string]plan.LocalFile{src: local}})
	if err == nil || !strings.Contains(err.Error(), "the JetStream domain changes (old → hub) and nats-server changes release on hub-1, hub-2, hub-3: make one change at a time") {
		t.Fatalf("err = %v", err)
	}
}

// TestBuild_FetchedArtifact: an artifact whose source is a URL is fetched by each host with
// the tool its facts name (Bytes its declared size); a host with neither curl nor wget
// is refused at plan time, naming the host, the URL without its query string and the fix.
func TestBuild_FetchedArtifact(t *testing.T) {
	url := "https://releases.example.com/v2.15.3/nats-server-v2.15.3-linux-amd64.tar.gz?token=s3cret"
	sum := strings.Repeat("ab", 32)
	inv := plantest.LoadExample(t, "lab", func(s string) string {
		return strings.Replace(s, "    cluster_name           = \"hub\"\n",
			"    cluster_name           = \"hub\"\n    version = \"2.15.3\"\n    artifact \"linux/amd64\" {\n      source = \""+url+"\"\n      size = 4242\n      sha256 = \""+sum+"\"\n    }\n", 1)
	})
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	onRelease(inv, facts, "2.14.10", true)
	facts["hub-1"].NATS.Fetcher = "curl"
	facts["hub-2"].NATS.Fetcher = "wget"
	facts["hub-3"].NATS.Fetcher = "curl"
	p, err := plan.Build(inv, d, facts, plan.Options{Artifacts: map[string]plan.LocalFile{}})
	if err != nil {
		t.Fatal(err)
	}
	for h, tool := range map[string]string{"hub-1": "curl", "hub-2": "wget", "hub-3": "curl"} {
		up := p.Unit(h + "/nats-server").Upgrade
		if up == nil || !up.Upload || up.Fetch != tool || up.Source != url || up.Bytes != 4242 || up.SHA256 != sum {
			t.Errorf("%s: %+v", h, up)
		}
	}
	// The release already on the host: nothing to fetch, so no tool is needed.
	nf := facts["hub-2"].NATS
	nf.Fetcher = ""
	nf.Releases = map[string]string{"2.15.3": sum}
	nf.BinaryPath = "/opt/latticepush/nats-server/2.14.10/nats-server"
	nf.Releases["2.14.10"] = ""
	if p, err = plan.Build(inv, d, facts, plan.Options{}); err != nil || p.Unit("hub-2/nats-server").Upgrade.Upload {
		t.Fatalf("hub-2 holding the release: %v %+v", err, p.Unit("hub-2/nats-server").Upgrade)
	}
	facts["hub-3"].NATS.Fetcher = ""
	_, err = plan.Build(inv, d, facts, plan.Options{})
	want := "hub-3: nats-server version 2.15.3 pinned at "
	tail := " is fetched by each host from https://releases.example.com/v2.15.3/nats-server-v2.15.3-linux-amd64.tar.gz?…, but this host has neither curl nor wget: install curl (or wget) on it, or give artifact \"linux/amd64\" a file on this machine as source to upload it"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tail) {
		t.Fatalf("err = %v\nwant %s…%s", err, want, tail)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the URL's query string: %v", err)
	}
}

// TestBuild_WasmcloudUpgrade: a wasmcloud block's pin plans the same release change as a
// nats block's, of the wasmcloud binary under its own root: a restart with the binary the
// operator put there kept aside, nothing once in place and running, and a move to another
// major release refused.
func TestBuild_WasmcloudUpgrade(t *testing.T) {
	src := filepath.Join(t.TempDir(), "wasmcloud-1.9.3-linux-amd64.tar.gz")
	body := []byte("wasmcloud 1.9.3")
	if err := os.WriteFile(src, body, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	local := plan.LocalFile{Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	load := func(version string) *inventory.Inventory {
		return plantest.LoadExample(t, "lab", func(s string) string {
			return strings.Replace(s, "    binary = \"/usr/local/bin/wasmcloud\"\n", "    binary = \"/usr/local/bin/wasmcloud\"\n    version = \""+version+
				"\"\n    artifact \"linux/amd64\" {\n      source = \""+src+"\"\n      sha256 = \""+local.SHA256+"\"\n    }\n", 1)
		})
	}
	inv := load("1.9.3")
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	wc := inv.HostsWithRole(inventory.RoleWasmcloud)
	if len(wc) == 0 {
		t.Fatal("the lab example has no wasmCloud hosts")
	}
	for _, h := range wc {
		f := facts[h.Name]
		f.Wasmcloud = &plan.ReleaseFacts{Machine: "x86_64", BinaryPath: "/usr/local/bin/wasmcloud", Installed: "1.9.2", Running: "1.9.2", Fetcher: "curl"}
		facts[h.Name] = f
	}
	opts := plan.Options{Artifacts: map[string]plan.LocalFile{src: local}}
	p, err := plan.Build(inv, d, facts, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range wc {
		u := p.Unit(h.Name + "/wasmcloud")
		if u == nil || u.Action != plan.Restart || u.Upgrade == nil {
			t.Fatalf("%s: %+v, want a restart with an upgrade", h.Name, u)
		}
		up := u.Upgrade
		if up.Text() != "upgrade 1.9.2 → 1.9.3" || up.Program != "wasmcloud" || up.Binary() != "/opt/latticepush/wasmcloud/1.9.3/wasmcloud" ||
			up.Link != "/usr/local/bin/wasmcloud" || !up.KeepAside || !up.Upload || up.Bytes != local.Size ||
			up.Previous != "/opt/latticepush/wasmcloud/1.9.2/wasmcloud" {
			t.Errorf("%s: upgrade %+v", h.Name, up)
		}
		if n := p.Unit(h.Name + "/nats-server"); n != nil && (n.Upgrade != nil || n.Action != plan.Noop) {
			t.Errorf("%s: its nats-server changes too: %s %+v", h.Name, n.Action, n.Upgrade)
		}
	}
	for _, h := range wc {
		facts[h.Name].Wasmcloud.BinaryPath = "/opt/latticepush/wasmcloud/1.9.3/wasmcloud"
		facts[h.Name].Wasmcloud.Installed, facts[h.Name].Wasmcloud.Running = "1.9.3", "1.9.3"
		facts[h.Name].Wasmcloud.Releases = map[string]string{"1.9.3": local.SHA256, "1.9.2": ""}
	}
	if p, err := plan.Build(inv, d, facts, opts); err != nil || p.HasChanges() {
		t.Fatalf("in place and running: %v %v", err, p.Summary())
	}
	// Linked but still running the old release (a restart that did not happen): restart.
	facts[wc[0].Name].Wasmcloud.Running = "1.9.2"
	p, err = plan.Build(inv, d, facts, opts)
	if err != nil {
		t.Fatal(err)
	}
	if u := p.Unit(wc[0].Name + "/wasmcloud"); u.Action != plan.Restart || u.Upgrade.Upload || u.Upgrade.Previous != "/opt/latticepush/wasmcloud/1.9.2/wasmcloud" {
		t.Errorf("%s: %s %+v", u.ID(), u.Action, u.Upgrade)
	}
	facts[wc[0].Name].Wasmcloud.Running = "1.9.3"
	inv = load("2.0.0")
	_, err = plan.Build(inv, d, facts, opts)
	want := wc[0].Name + `: wasmcloud upgrade 1.9.3 → 2.0.0 refused: 1.9.3 → 2.0.0 changes the major release; latticepush moves a wasmCloud host within one major release only (rule "one major release") at `
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("major jump: %v\nwant %s", err, want)
	}
	if e := plan.CheckWasmcloudVersion("", "", "0.82.0"); e == nil || e.Rule != plan.RuleMinimum {
		t.Errorf("0.82.0: %v", e)
	}
}
