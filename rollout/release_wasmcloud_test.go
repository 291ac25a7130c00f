package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// wcReleaseFleet adds pinned wasmCloud host releases to the release fleet: per host the
// wasmcloud releases it holds and where its wasmcloud path points; a started wasmCloud host
// runs the release its path points at.
type wcReleaseFleet struct {
	*releaseFleet
	wcLink     map[string]string
	wcReleases map[string]map[string]string
	wcFail     map[string]string // version -> start output: that release exits 1
}

type wcReleaseHost struct {
	*releaseHost
	wf *wcReleaseFleet
}

func (wf *wcReleaseFleet) Host(ctx context.Context, name string) (Host, error) {
	h, err := wf.releaseFleet.Host(ctx, name)
	if err != nil {
		return nil, err
	}
	return &wcReleaseHost{releaseHost: h.(*releaseHost), wf: wf}, nil
}

func (wf *wcReleaseFleet) Observe(ctx context.Context, probes []plan.Probe) map[string]plan.Facts {
	facts := wf.releaseFleet.Observe(ctx, probes)
	wf.mu.Lock()
	defer wf.mu.Unlock()
	for _, pr := range probes {
		f, ok := facts[pr.Host]
		if !ok || pr.Wasmcloud == nil {
			continue
		}
		v := wf.wcLink[pr.Host]
		rf := &plan.ReleaseFacts{Machine: "x86_64", BinaryPath: path.Join(inventory.WasmcloudInstallRoot, v, "wasmcloud"), Installed: v,
			Fetcher: "curl", Releases: map[string]string{}}
		for k, s := range wf.wcReleases[pr.Host] {
			rf.Releases[k] = s
		}
		if f.Services[plan.ServiceWasmcloud].Running {
			rf.Running = v
		}
		f.Wasmcloud = rf
		facts[pr.Host] = f
	}
	return facts
}

func (h *wcReleaseHost) UploadRelease(ctx context.Context, up plan.Upgrade) (string, error) {
	if up.Program != "wasmcloud" {
		return h.releaseHost.UploadRelease(ctx, up)
	}
	h.f.mu.Lock()
	h.f.record("%s upload wasmcloud %s", h.name, up.To)
	h.f.mu.Unlock()
	return inventory.WasmcloudInstallRoot + "/.uploads/x", nil
}

func (h *wcReleaseHost) InstallRelease(ctx context.Context, up plan.Upgrade, upload string) error {
	if up.Program != "wasmcloud" {
		return h.releaseHost.InstallRelease(ctx, up, upload)
	}
	h.wf.mu.Lock()
	defer h.wf.mu.Unlock()
	h.f.mu.Lock()
	h.f.record("%s install wasmcloud %s", h.name, up.To)
	h.f.mu.Unlock()
	h.wf.wcReleases[h.name][up.To] = up.SHA256
	return nil
}

func (h *wcReleaseHost) SwitchBinary(ctx context.Context, link, target string) error {
	if !strings.HasPrefix(target, inventory.WasmcloudInstallRoot+"/") {
		return h.releaseHost.SwitchBinary(ctx, link, target)
	}
	h.wf.mu.Lock()
	defer h.wf.mu.Unlock()
	v := path.Base(path.Dir(target))
	h.f.mu.Lock()
	h.f.record("%s switch wasmcloud %s", h.name, v)
	if out, bad := h.wf.wcFail[v]; bad {
		h.f.failOn[h.name+" restart"] = errors.New(out)
	} else {
		delete(h.f.failOn, h.name+" restart")
	}
	h.f.mu.Unlock()
	h.wf.wcLink[h.name] = v
	return nil
}

func (h *wcReleaseHost) PruneReleases(ctx context.Context, dirs []string) error {
	var nats []string
	h.wf.mu.Lock()
	for _, d := range dirs {
		if path.Dir(d) == inventory.WasmcloudInstallRoot {
			delete(h.wf.wcReleases[h.name], path.Base(d))
		} else {
			nats = append(nats, d)
		}
	}
	h.wf.mu.Unlock()
	return h.releaseHost.PruneReleases(ctx, nats)
}

func (h *wcReleaseHost) RunningVersion(ctx context.Context, u *plan.Unit) (string, error) {
	if u.Service != plan.ServiceWasmcloud {
		return h.releaseHost.RunningVersion(ctx, u)
	}
	h.wf.mu.Lock()
	defer h.wf.mu.Unlock()
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if !h.running[plan.ServiceWasmcloud] {
		return "", errors.New("host.get: no responders")
	}
	return h.wf.wcLink[h.name], nil
}

// wcReleaseFixture is the lab example with nats-server 2.15.3 pinned for the hubs and the
// wasmCloud host 1.9.3 for every wasmCloud host, on a fleet that runs 2.14.10 and 1.9.2.
func wcReleaseFixture(t *testing.T) (*applyFixture, *wcReleaseFleet) {
	t.Helper()
	fx, rf := releaseFixture(t, "2.14.10", "2.15.3")
	src := filepath.Join(t.TempDir(), "wasmcloud-1.9.3-linux-amd64.tar.gz")
	os.WriteFile(src, []byte("wasmcloud 1.9.3"), 0o644)
	sum := sha256.Sum256([]byte("wasmcloud 1.9.3"))
	hexsum := hex.EncodeToString(sum[:])
	var natsPin string
	for _, h := range fx.inv.Hubs() {
		in := h.Hub.Install
		a := in.Artifacts["linux/amd64"]
		natsPin = "\n    version = \"" + in.Version + "\"\n    artifact \"linux/amd64\" {\n      source = \"" + a.Source + "\"\n      sha256 = \"" + a.SHA256 + "\"\n    }\n"
	}
	fx.inv = plantest.LoadExample(t, "lab", func(s string) string {
		s = strings.Replace(s, "    cluster_name           = \"hub\"\n", "    cluster_name           = \"hub\""+natsPin, 1)
		return strings.Replace(s, "    binary = \"/usr/local/bin/wasmcloud\"\n", "    binary = \"/usr/local/bin/wasmcloud\"\n    version = \"1.9.3\"\n    artifact \"linux/amd64\" {\n      source = \""+
			src+"\"\n      sha256 = \""+hexsum+"\"\n    }\n", 1)
	})
	fx.d = plantest.FakeDesired(fx.inv, true)
	fx.opts.Artifacts[src] = plan.LocalFile{Size: int64(len("wasmcloud 1.9.3")), SHA256: hexsum}
	wf := &wcReleaseFleet{releaseFleet: rf, wcLink: map[string]string{}, wcReleases: map[string]map[string]string{}, wcFail: map[string]string{}}
	for _, h := range fx.inv.HostsWithRole(inventory.RoleWasmcloud) {
		wf.wcLink[h.Name] = "1.9.2"
		wf.wcReleases[h.Name] = map[string]string{"1.9.2": "", "1.9.1": "x"}
	}
	return fx, wf
}

func (fx *applyFixture) applyOnWC(t *testing.T, wf *wcReleaseFleet) (*Result, error) {
	t.Helper()
	probes := plan.Probes(fx.inv, fx.d, fx.opts)
	p, err := plan.Build(fx.inv, fx.d, wf.Observe(context.Background(), probes), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return plan.Build(fx.inv, fx.d, facts, fx.opts) }
	return Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, wf, fx.gates,
		Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
}

// TestApply_WasmcloudReleasesStagedWithNATS: nats-server and wasmCloud host releases are all
// installed before any binary path is switched or anything restarted; every wasmCloud host
// then runs 1.9.3 (confirmed by its reported version), older releases pruned, the previous
// one kept, and nothing is left to do.
func TestApply_WasmcloudReleasesStagedWithNATS(t *testing.T) {
	fx, wf := wcReleaseFixture(t)
	res, err := fx.applyOnWC(t, wf)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	got := results(res)
	edges := fx.inv.HostsWithRole(inventory.RoleWasmcloud)
	for _, h := range edges {
		if got[h.Name+"/wasmcloud"] != "applied" || wf.wcLink[h.Name] != "1.9.3" {
			t.Errorf("%s: %s, link %s", h.Name, got[h.Name+"/wasmcloud"], wf.wcLink[h.Name])
		}
		if _, kept := wf.wcReleases[h.Name]["1.9.2"]; !kept {
			t.Errorf("%s: the previous release was pruned", h.Name)
		}
		if _, old := wf.wcReleases[h.Name]["1.9.1"]; old {
			t.Errorf("%s: an older release was kept", h.Name)
		}
	}
	installs, lastInstall, firstChange := 0, -1, -1
	for i, op := range fx.fleet.log {
		if strings.Contains(op, " install ") {
			installs++
			lastInstall = i
		}
		if firstChange < 0 && (strings.Contains(op, " switch ") || strings.Contains(op, " restart")) {
			firstChange = i
		}
	}
	if installs != len(edges)+len(fx.inv.Hubs()) || firstChange < lastInstall {
		t.Errorf("%d installs; a host switched or restarted before every release was installed:\n%s", installs, strings.Join(fx.fleet.log, "\n"))
	}
	probes := plan.Probes(fx.inv, fx.d, fx.opts)
	if p, err := plan.Build(fx.inv, fx.d, wf.Observe(context.Background(), probes), fx.opts); err != nil || p.HasChanges() {
		t.Fatalf("after the upgrade: %v %s", err, p.Summary())
	}
}

// TestApply_WasmcloudReleaseThatCannotStartRollsBack: the new wasmCloud release exits at
// start: the first wasmCloud host switches back to 1.9.2 and runs again, the others are not
// reached, the error quotes what the start said.
func TestApply_WasmcloudReleaseThatCannotStartRollsBack(t *testing.T) {
	fx, wf := wcReleaseFixture(t)
	wf.wcFail["1.9.3"] = "wasmcloud keeps exiting right after it starts: fake start failure"
	res, err := fx.applyOnWC(t, wf)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "fake start failure") {
		t.Fatalf("err = %v", err)
	}
	got := results(res)
	var rolled []string
	for _, h := range fx.inv.HostsWithRole(inventory.RoleWasmcloud) {
		switch got[h.Name+"/wasmcloud"] {
		case "rolled back":
			rolled = append(rolled, h.Name)
			if wf.wcLink[h.Name] != "1.9.2" || !fx.fleet.hosts[h.Name].running[plan.ServiceWasmcloud] {
				t.Errorf("%s: link %s, want back on 1.9.2 and running", h.Name, wf.wcLink[h.Name])
			}
		case "not reached":
			if wf.wcLink[h.Name] != "1.9.2" {
				t.Errorf("%s switched to %s", h.Name, wf.wcLink[h.Name])
			}
		default:
			t.Errorf("%s: %s", h.Name, got[h.Name+"/wasmcloud"])
		}
	}
	if len(rolled) != 1 {
		t.Errorf("rolled back %v, want the first wasmCloud host only", rolled)
	}
}
