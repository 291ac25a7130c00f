package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// releaseFleet adds pinned releases to the fake fleet: per host the releases it holds, where
// the binary path points, and whether an upload was checked; a started server runs the
// release its binary path points at.
type releaseFleet struct {
	*fakeFleet
	mu       sync.Mutex
	machine  map[string]string
	link     map[string]string            // host -> release the binary path points at
	releases map[string]map[string]string // host -> version -> artifact sha256
	uploads  map[string]string            // host -> upload path not yet installed
	badSum   map[string]bool              // hosts whose upload does not match
	failFrom map[string]string            // version -> start output: that release exits 1
}

func newReleaseFleet(ff *fakeFleet, from string) *releaseFleet {
	rf := &releaseFleet{fakeFleet: ff, machine: map[string]string{}, link: map[string]string{}, releases: map[string]map[string]string{},
		uploads: map[string]string{}, badSum: map[string]bool{}, failFrom: map[string]string{}}
	for name := range ff.hosts {
		rf.machine[name] = "x86_64"
		rf.link[name] = from
		rf.releases[name] = map[string]string{from: "old", "2.13.0": "older"}
	}
	return rf
}

type releaseHost struct {
	*fakeHost
	rf *releaseFleet
}

func (rf *releaseFleet) Host(ctx context.Context, name string) (Host, error) {
	h, err := rf.fakeFleet.Host(ctx, name)
	if err != nil {
		return nil, err
	}
	return &releaseHost{fakeHost: h.(*fakeHost), rf: rf}, nil
}

func (rf *releaseFleet) Observe(ctx context.Context, probes []plan.Probe) map[string]plan.Facts {
	facts := rf.fakeFleet.Observe(ctx, probes)
	rf.mu.Lock()
	defer rf.mu.Unlock()
	for name, f := range facts {
		if f.NATS == nil {
			continue
		}
		v := rf.link[name]
		f.NATS.Machine, f.NATS.Installed = rf.machine[name], v
		f.NATS.BinaryPath = inventory.InstallRoot + "/" + v + "/nats-server"
		f.NATS.Releases = map[string]string{}
		for k, s := range rf.releases[name] {
			f.NATS.Releases[k] = s
		}
		if f.Services[plan.ServiceNATS].Running {
			f.NATS.Running, f.NATS.Version = v, v
		}
		f.NATS.JetStream = strings.HasPrefix(name, "hub-")
	}
	return facts
}

func (h *releaseHost) UploadRelease(ctx context.Context, up plan.Upgrade) (string, error) {
	h.rf.mu.Lock()
	defer h.rf.mu.Unlock()
	h.f.mu.Lock()
	h.f.record("%s upload %s", h.name, up.To)
	h.f.mu.Unlock()
	if h.rf.badSum[h.name] {
		return "", fmt.Errorf("sha256 of the upload is 00…, want %s", up.SHA256)
	}
	h.rf.uploads[h.name] = "/opt/latticepush/nats-server/.uploads/x"
	return h.rf.uploads[h.name], nil
}

func (h *releaseHost) InstallRelease(ctx context.Context, up plan.Upgrade, upload string) error {
	h.rf.mu.Lock()
	defer h.rf.mu.Unlock()
	h.f.mu.Lock()
	h.f.record("%s install %s", h.name, up.To)
	h.f.mu.Unlock()
	delete(h.rf.uploads, h.name)
	h.rf.releases[h.name][up.To] = up.SHA256
	return nil
}

func (h *releaseHost) DiscardUpload(ctx context.Context, upload string) error {
	h.rf.mu.Lock()
	defer h.rf.mu.Unlock()
	delete(h.rf.uploads, h.name)
	return nil
}

func (h *releaseHost) SwitchBinary(ctx context.Context, link, target string) error {
	h.rf.mu.Lock()
	defer h.rf.mu.Unlock()
	v := strings.TrimSuffix(strings.TrimPrefix(target, inventory.InstallRoot+"/"), "/nats-server")
	h.f.mu.Lock()
	h.f.record("%s switch %s", h.name, v)
	if out, bad := h.rf.failFrom[v]; bad {
		h.f.failOn[h.name+" restart"] = errors.New(out)
	} else {
		delete(h.f.failOn, h.name+" restart")
	}
	h.f.mu.Unlock()
	h.rf.link[h.name] = v
	return nil
}

func (h *releaseHost) PruneReleases(ctx context.Context, dirs []string) error {
	h.rf.mu.Lock()
	defer h.rf.mu.Unlock()
	for _, d := range dirs {
		delete(h.rf.releases[h.name], strings.TrimPrefix(d, inventory.InstallRoot+"/"))
	}
	return nil
}

func (h *releaseHost) RunningVersion(ctx context.Context, u *plan.Unit) (string, error) {
	h.rf.mu.Lock()
	defer h.rf.mu.Unlock()
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if !h.running[plan.ServiceNATS] {
		return "", errors.New("connection refused")
	}
	return h.rf.link[h.name], nil
}

// releaseFixture is the lab example with version pinned for every nats-server, on a fleet
// whose servers run from.
func releaseFixture(t *testing.T, from, to string) (*applyFixture, *releaseFleet) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "nats-server-v"+to+"-linux-amd64.tar.gz")
	os.WriteFile(src, []byte("release "+to), 0o644)
	sum := sha256.Sum256([]byte("release " + to))
	hexsum := hex.EncodeToString(sum[:])
	pin := "\n    version = \"" + to + "\"\n    artifact \"linux/amd64\" {\n      source = \"" + src + "\"\n      sha256 = \"" + hexsum + "\"\n    }\n"
	inv := plantest.LoadExample(t, "lab", func(s string) string {
		s = strings.Replace(s, "    cluster_name           = \"hub\"\n", "    cluster_name           = \"hub\""+pin, 1)
		return s
	})
	d := plantest.FakeDesired(inv, true)
	configs := map[string]string{}
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil {
			configs[h.Name] = n.ConfigFile
		}
	}
	ff := newFakeFleet(plantest.Converged(inv, d), configs)
	rf := newReleaseFleet(ff, from)
	fx := &applyFixture{inv: inv, d: d, fleet: ff, gates: &fakeGates{ff: ff, failGate: map[string]bool{}},
		opts: plan.Options{Artifacts: map[string]plan.LocalFile{src: {Size: int64(len("release " + to)), SHA256: hexsum}}}}
	return fx, rf
}

func (fx *applyFixture) applyOn(t *testing.T, rf *releaseFleet) (*Result, error) {
	t.Helper()
	probes := plan.Probes(fx.inv, fx.d, fx.opts)
	p, err := plan.Build(fx.inv, fx.d, rf.Observe(context.Background(), probes), fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return plan.Build(fx.inv, fx.d, facts, fx.opts) }
	return Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan}, rf, fx.gates,
		Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
}

// TestApply_UpgradeStagesEverywhereFirst: every hub's release is uploaded and installed before
// any binary path is switched or any server restarted; each hub then switches, restarts and
// is confirmed on the new version, older releases pruned, the previous one kept.
func TestApply_UpgradeStagesEverywhereFirst(t *testing.T) {
	fx, rf := releaseFixture(t, "2.14.10", "2.15.3")
	res, err := fx.applyOn(t, rf)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	got := results(res)
	for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
		if got[h+"/nats-server"] != "applied" || rf.link[h] != "2.15.3" {
			t.Errorf("%s: %s, link %s", h, got[h+"/nats-server"], rf.link[h])
		}
		if _, kept := rf.releases[h]["2.14.10"]; !kept {
			t.Errorf("%s: the previous release was pruned", h)
		}
		if _, old := rf.releases[h]["2.13.0"]; old {
			t.Errorf("%s: an older release was kept", h)
		}
	}
	lastInstall, firstChange := -1, -1
	for i, op := range fx.fleet.log {
		if strings.Contains(op, " install ") {
			lastInstall = i
		}
		if firstChange < 0 && (strings.Contains(op, " switch ") || strings.Contains(op, " restart")) {
			firstChange = i
		}
	}
	if lastInstall < 0 || firstChange < lastInstall {
		t.Errorf("a host switched or restarted before every release was installed:\n%s", strings.Join(fx.fleet.log, "\n"))
	}
	// The fleet now runs the release: nothing left to do.
	probes := plan.Probes(fx.inv, fx.d, fx.opts)
	p, err := plan.Build(fx.inv, fx.d, rf.Observe(context.Background(), probes), fx.opts)
	if err != nil || p.HasChanges() {
		t.Fatalf("after the upgrade: %v %s", err, p.Summary())
	}
}

// TestApply_UploadMismatchChangesNothing: one host's upload fails its sha256 check: no release
// is unpacked anywhere and nothing is switched or restarted.
func TestApply_UploadMismatchChangesNothing(t *testing.T) {
	fx, rf := releaseFixture(t, "2.14.10", "2.15.3")
	rf.badSum["hub-3"] = true
	_, err := fx.applyOn(t, rf)
	if err == nil || !strings.Contains(err.Error(), "installing nats-server releases failed; nothing was switched or restarted") ||
		!strings.Contains(err.Error(), "hub-3/nats-server: sha256 of the upload is") {
		t.Fatalf("err = %v", err)
	}
	for _, op := range fx.fleet.log {
		if strings.Contains(op, " install ") || strings.Contains(op, " switch ") || strings.Contains(op, "restart") || strings.Contains(op, " swap") {
			t.Errorf("changed after a mismatch: %s", op)
		}
	}
	if len(rf.uploads) != 0 {
		t.Errorf("uploads left behind: %v", rf.uploads)
	}
	fx.assertUnlockedNoTemps(t)
}

// TestApply_NewReleaseThatCannotStartRollsBack: the new release exits at start: the first hub
// switches back to the previous release and runs again, the other hubs are untouched, the
// error quotes what the start said.
func TestApply_NewReleaseThatCannotStartRollsBack(t *testing.T) {
	fx, rf := releaseFixture(t, "2.14.10", "2.15.3")
	rf.failFrom["2.15.3"] = "nats-server exited with status 1: fake start failure"
	res, err := fx.applyOn(t, rf)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "fake start failure") {
		t.Fatalf("err = %v", err)
	}
	got := results(res)
	if got["hub-2/nats-server"] != "rolled back" || got["hub-1/nats-server"] != "not reached" || got["hub-3/nats-server"] != "not reached" {
		t.Errorf("results %v", got)
	}
	if rf.link["hub-2"] != "2.14.10" || !fx.fleet.hosts["hub-2"].running[plan.ServiceNATS] {
		t.Errorf("hub-2: link %s running %v, want back on 2.14.10 and running", rf.link["hub-2"], fx.fleet.hosts["hub-2"].running[plan.ServiceNATS])
	}
	for _, h := range []string{"hub-1", "hub-3"} {
		if rf.link[h] != "2.14.10" {
			t.Errorf("%s switched to %s", h, rf.link[h])
		}
		for _, op := range fx.fleet.opsOf(h) {
			if strings.Contains(op, "switch") || strings.Contains(op, "restart") {
				t.Errorf("%s touched: %s", h, op)
			}
		}
	}
}
