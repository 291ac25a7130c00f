package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// wasmcloudArchive packs binary as a wasmCloud host release archive
// (wasmcloud-<ver>-linux-<arch>/wasmcloud) into dir and returns its path and sha256.
func wasmcloudArchive(t *testing.T, dir, ver string, binary []byte) (string, string) {
	t.Helper()
	base := fmt.Sprintf("wasmcloud-%s-linux-%s", ver, runtime.GOARCH)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: base + "/wasmcloud", Mode: 0o755, Size: int64(len(binary)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(binary); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, base+".tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return p, hex.EncodeToString(sum[:])
}

// standinBuild builds the wasmCloud stand-in reporting version ver (its --version, host.get
// and ping answers).
func standinBuild(t *testing.T, ver string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "wasmcloud")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+ver, "-o", out, "./internal/lab/wasmcloud-standin")
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in %s: %v\n%s", ver, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pinWasmcloud returns src with version and one artifact pinned in role "wasmcloud"'s
// wasmcloud block (its binary line is the anchor).
func pinWasmcloud(t *testing.T, src, version, source, sum string) string {
	t.Helper()
	anchor := "  wasmcloud {\n    binary = \"/usr/local/bin/wasmcloud\"\n"
	if !strings.Contains(src, anchor) {
		t.Fatalf("the lab inventory has no %q: edit this test", anchor)
	}
	pin := fmt.Sprintf("    version = %q\n    artifact %q {\n      source = %q\n      sha256 = %q\n    }\n", version, "linux/"+runtime.GOARCH, source, sum)
	return strings.Replace(src, anchor, anchor+pin, 1)
}

// wasmcloudVersions asks every wasmCloud host's version with host.get, from the hub side.
func wasmcloudVersions(t *testing.T, ctx context.Context, s *session, hosts ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range hosts {
		host, err := s.Fleet.Host(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		v, err := host.(rollout.Releases).RunningVersion(ctx, &plan.Unit{Host: h, Service: plan.ServiceWasmcloud})
		if err != nil {
			v = "no answer: " + err.Error()
		}
		out[h] = v
	}
	return out
}

// wasmcloudStates is where each host's wasmcloud path points and its process's pid.
func wasmcloudStates(t *testing.T, ctx context.Context, env *labtest.Env, hosts ...string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, h := range hosts {
		b, err := env.Lab.Exec(ctx, h, "sh", "-c", "readlink /usr/local/bin/wasmcloud; cat /etc/service/wasmcloud/supervise/pid 2>/dev/null || systemctl show -p MainPID --value wasmcloud")
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		f := strings.SplitN(strings.TrimRight(string(b), "\n"), "\n", 2)
		for len(f) < 2 {
			f = append(f, "")
		}
		out[h] = [2]string{f[0], f[1]}
	}
	return out
}

// TestUpgrade_Wasmcloud deploys a lab whose wasmCloud hosts run the stand-in reporting 1.9.2,
// then pins a stand-in build reporting 1.9.3 (packed as a release archive): the upgrade rolls
// one host per batch, every host.get answers 1.9.3, the binary the lab put there is kept as
// 1.9.2, and the plan is empty afterwards. Then a "1.9.4" that answers --version but exits
// at start is rolled back on the first host, the error quoting its output, the other host
// untouched and every host back on 1.9.3. Under runit and systemd.
func TestUpgrade_Wasmcloud(t *testing.T) {
	for _, init := range labtest.Inits {
		t.Run(init, func(t *testing.T) { testWasmcloudUpgrade(t, init) })
	}
}

func testWasmcloudUpgrade(t *testing.T, init string) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 2, Init: init})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	edges := []string{"edge-1", "edge-2"}
	src, err := os.ReadFile(env.Path)
	if err != nil {
		t.Fatal(err)
	}
	base := string(src)
	dist := t.TempDir()
	archive, sum := wasmcloudArchive(t, dist, "1.9.3", standinBuild(t, "1.9.3"))

	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	for h, v := range wasmcloudVersions(t, ctx, s, edges...) {
		if v != "1.9.2" {
			t.Fatalf("%s: host.get version %s after the initial apply, want 1.9.2", h, v)
		}
	}

	pinned := pinWasmcloud(t, base, "1.9.3", archive, sum)
	t.Run("UpgradeInBatches", func(t *testing.T) {
		env.Edit(t, func(string) string { return pinned })
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		for _, h := range edges {
			u := p.Unit(h + "/wasmcloud")
			if u == nil || u.Upgrade == nil || u.Upgrade.Text() != "upgrade 1.9.2 → 1.9.3" || u.Upgrade.Bytes == 0 || u.Action != plan.Restart {
				t.Fatalf("%s: %+v", h, u)
			}
			if n := p.Unit(h + "/nats-server"); n != nil && n.Action != plan.Noop {
				t.Errorf("%s: nats-server %s", h, n.Action)
			}
		}
		start := time.Now()
		res, err := s.apply(ctx, p)
		took := time.Since(start)
		if err != nil || res.VerifyError != "" {
			t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
		}
		// One host per batch: the first is done before the second starts.
		var order []string
		for _, e := range s.events {
			if (e.Type == rollout.EventUnitStart || e.Type == rollout.EventUnitDone) && strings.HasSuffix(e.Unit, "/wasmcloud") {
				order = append(order, string(e.Type)+" "+e.Unit)
			}
		}
		if len(order) != 4 || !strings.HasPrefix(order[1], string(rollout.EventUnitDone)) || !strings.HasPrefix(order[2], string(rollout.EventUnitStart)) {
			t.Errorf("wasmcloud units in %v, want one batch after the other", order)
		}
		for h, v := range wasmcloudVersions(t, ctx, s, edges...) {
			if v != "1.9.3" {
				t.Errorf("%s: host.get version %s, want 1.9.3", h, v)
			}
		}
		for h, st := range wasmcloudStates(t, ctx, env, edges...) {
			if st[0] != inventory.WasmcloudInstallRoot+"/1.9.3/wasmcloud" {
				t.Errorf("%s: /usr/local/bin/wasmcloud -> %q", h, st[0])
			}
			out, err := env.Lab.Exec(ctx, h, inventory.WasmcloudInstallRoot+"/1.9.2/wasmcloud", "--version")
			if err != nil || strings.TrimSpace(string(out)) != "wasmcloud 1.9.2" {
				t.Errorf("%s: the kept binary says %q (%v)", h, out, err)
			}
		}
		if p2 := newSession(t, env, plan.Options{}).plan(ctx); p2.HasChanges() {
			t.Errorf("plan after the upgrade: %s", p2.Summary())
		}
		t.Logf("wasmcloud 1.9.2 → 1.9.3 on %d hosts, one per batch: apply %.1fs", len(edges), took.Seconds())
	})
	if t.Failed() {
		return
	}

	t.Run("BuildThatExitsAtStartRolledBack", func(t *testing.T) {
		fake := []byte("#!/bin/sh\ncase \"$1\" in --version|-V) echo 'wasmcloud 1.9.4'; exit 0 ;; esac\n" +
			"echo 'fake wasmcloud 1.9.4: cannot start (a test double that exits 1)' >&2\nexit 1\n")
		a, s4 := wasmcloudArchive(t, t.TempDir(), "1.9.4", fake)
		env.Edit(t, func(string) string { return pinWasmcloud(t, base, "1.9.4", a, s4) })
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		before := wasmcloudStates(t, ctx, env, edges...)
		res, err := s.apply(ctx, p)
		if err == nil || !strings.Contains(err.Error(), "fake wasmcloud 1.9.4: cannot start") {
			t.Fatalf("apply: %v, want an error quoting the start's output\nresults: %v", err, results(res))
		}
		got := results(res)
		var rolled []string
		for _, h := range edges {
			switch got[h+"/wasmcloud"] {
			case "rolled back":
				rolled = append(rolled, h)
			case "not reached":
			default:
				t.Errorf("%s: %s", h, got[h+"/wasmcloud"])
			}
		}
		if len(rolled) != 1 {
			t.Fatalf("rolled back %v, want the first host only (results %v)", rolled, got)
		}
		after := wasmcloudStates(t, ctx, env, edges...)
		for _, h := range edges {
			if after[h][0] != inventory.WasmcloudInstallRoot+"/1.9.3/wasmcloud" {
				t.Errorf("%s: the binary path points at %q after the rollback", h, after[h][0])
			}
			if h != rolled[0] && after[h][1] != before[h][1] {
				t.Errorf("%s: its wasmCloud host restarted (pid %s, then %s)", h, before[h][1], after[h][1])
			}
		}
		if after[rolled[0]][1] == before[rolled[0]][1] {
			t.Errorf("%s: rolled back without a restart", rolled[0])
		}
		for h, v := range wasmcloudVersions(t, ctx, s, edges...) {
			if v != "1.9.3" {
				t.Errorf("%s: host.get version %s after the rollback, want 1.9.3", h, v)
			}
		}
		t.Logf("%s rolled back: %v", rolled[0], err)
	})
	t.Logf("%s hosts: test %.1fs in all", init, time.Since(began).Seconds())
}
