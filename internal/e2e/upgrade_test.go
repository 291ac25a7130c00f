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
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// releaseArchive packs binary as a release archive does (nats-server-v<ver>-linux-<arch>/
// with nats-server, README.md and LICENSE) into dir and returns its path and sha256.
func releaseArchive(t *testing.T, dir, ver string, binary []byte) (string, string) {
	t.Helper()
	base := fmt.Sprintf("nats-server-v%s-linux-%s", ver, runtime.GOARCH)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{{"README.md", 0o644, []byte("NATS Server " + ver + "\n")}, {"LICENSE", 0o644, []byte("Apache License 2.0\n")}, {"nats-server", 0o755, binary}} {
		if err := tw.WriteHeader(&tar.Header{Name: base + "/" + f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
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

// pinIn returns src with version and one artifact pinned in the nats blocks of the given
// roles (their lame_duck_grace_period line is the anchor).
func pinIn(t *testing.T, src, version, source, sum string, roles ...string) string {
	t.Helper()
	pin := fmt.Sprintf("    version = %q\n    artifact %q {\n      source = %q\n      sha256 = %q\n    }\n", version, "linux/"+runtime.GOARCH, source, sum)
	for _, role := range roles {
		anchor := "role \"" + role + "\" {\n  nats {\n"
		if !strings.Contains(src, anchor) {
			t.Fatalf("the lab inventory has no %q: edit this test", anchor)
		}
		src = strings.Replace(src, anchor, anchor+pin, 1)
	}
	return src
}

// runningVersions reads every nats-server's /varz version through the hosts' SSH connections.
func runningVersions(t *testing.T, ctx context.Context, s *session) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range s.Inv.Hosts {
		n := h.NATS()
		if n == nil {
			continue
		}
		host, err := s.Fleet.Host(ctx, h.Name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := host.(rollout.Releases).RunningVersion(ctx, &plan.Unit{Host: h.Name, Service: plan.ServiceNATS, MonitorAddr: n.LocalMonitorAddr()})
		if err != nil {
			v = "down: " + err.Error()
		}
		out[h.Name] = v
	}
	return out
}

// releaseState is what a release change may touch on a host: where the binary path points,
// the install root's content and the nats-server's pid.
type releaseState struct{ link, releases, pid string }

func releaseStates(t *testing.T, ctx context.Context, env *labtest.Env, hosts ...string) map[string]releaseState {
	t.Helper()
	out := map[string]releaseState{}
	for _, h := range hosts {
		b, err := env.Lab.Exec(ctx, h, "sh", "-c", "readlink /usr/local/bin/nats-server; echo $(ls -A /opt/latticepush/nats-server 2>/dev/null); cat /etc/service/nats-server/supervise/pid 2>/dev/null || systemctl show -p MainPID --value nats-server")
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		f := strings.SplitN(strings.TrimRight(string(b), "\n"), "\n", 3)
		for len(f) < 3 {
			f = append(f, "")
		}
		out[h] = releaseState{link: f[0], releases: f[1], pid: f[2]}
	}
	return out
}

// TestUpgrade_RollingUnderLoad starts a lab on nats-server v2.14.10 and deploys it, then: a
// host whose binary says 2.12.4 is refused the jump to 2.15.3, and an artifact whose sha256 is
// not the inventory's is refused, both before any host changes; v2.15.3 (packed as a release
// archive) is applied under a KV writer and reader through a leaf: no acknowledged write
// lost, the longest gap reported, every /varz on 2.15.3, the plan empty afterwards; a
// downgrade to 2.14.10 without -allow-downgrade is refused; and a "new release" that answers
// --version and -t but exits at start is rolled back on the first hub, the others untouched.
func TestUpgrade_RollingUnderLoad(t *testing.T) {
	for _, init := range labtest.Inits {
		t.Run(init, func(t *testing.T) { testUpgrade(t, init) })
	}
}

func testUpgrade(t *testing.T, init string) {
	began := time.Now()
	old := testenv.NATSRelease(t, "v2.14.10")
	newBin, err := os.ReadFile(testenv.NATSRelease(t, "v2.15.3"))
	if err != nil {
		t.Fatal(err)
	}
	env := labtest.Up(t, labtest.Spec{Edges: 1, NATSServer: old, Init: init})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	hubs := []string{"hub-1", "hub-2", "hub-3"}
	all := append(append([]string{}, hubs...), "edge-1")
	dist := t.TempDir()
	src, err := os.ReadFile(env.Path)
	if err != nil {
		t.Fatal(err)
	}
	base := string(src)
	archive, sum := releaseArchive(t, dist, "2.15.3", newBin)
	pinned := pinIn(t, base, "2.15.3", archive, sum, "hub", "leaf")

	t.Run("JumpOverAMinorRefused", func(t *testing.T) {
		// edge-1's binary says 2.12.4 (and checks configs with the real one).
		fake := "#!/bin/sh\ncase \"$1\" in --version|-v) echo 'nats-server: v2.12.4'; exit 0 ;; esac\nexec /usr/local/bin/nats-server.real \"$@\"\n"
		run(t, ctx, newSession(t, env, plan.Options{}), "edge-1", []byte(fake),
			`mv /usr/local/bin/nats-server /usr/local/bin/nats-server.real && cat > /usr/local/bin/nats-server && chmod 755 /usr/local/bin/nats-server`)
		defer run(t, ctx, newSession(t, env, plan.Options{}), "edge-1", nil, `mv -f /usr/local/bin/nats-server.real /usr/local/bin/nats-server`)
		env.Edit(t, func(string) string { return pinned })
		defer env.Edit(t, func(string) string { return base })
		_, err := newSession(t, env, plan.Options{}).Plan(ctx)
		want := `edge-1: nats-server upgrade 2.12.4 → 2.15.3 refused: 2.12.4 → 2.15.3 skips a minor release: upgrade every server to the latest 2.14.x first, apply, then pin 2.15.3 (rule "one minor at a time")`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("plan: %v\nwant an error with %s", err, want)
		}
		t.Logf("refused: %v", err)
	})

	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply on 2.14.10: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	for h, v := range runningVersions(t, ctx, s) {
		if v != "2.14.10" {
			t.Fatalf("%s runs %s after the initial apply, want 2.14.10", h, v)
		}
	}

	t.Run("Sha256MismatchRefused", func(t *testing.T) {
		before := releaseStates(t, ctx, env, all...)
		bad := strings.Repeat("0", 64)
		env.Edit(t, func(string) string { return pinIn(t, base, "2.15.3", archive, bad, "hub", "leaf") })
		defer env.Edit(t, func(string) string { return base })
		_, err := newSession(t, env, plan.Options{}).Plan(ctx)
		if err == nil || !strings.Contains(err.Error(), "has sha256 "+sum+" but ") || !strings.Contains(err.Error(), "it is not the release pinned; nothing was uploaded") {
			t.Fatalf("plan: %v", err)
		}
		if after := releaseStates(t, ctx, env, all...); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("hosts changed after a refused artifact:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("UpgradeUnderLoad", func(t *testing.T) {
		env.Edit(t, func(string) string { return pinned })
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		for _, h := range all {
			u := p.Unit(h + "/nats-server")
			if u == nil || u.Upgrade == nil || u.Upgrade.Text() != "upgrade 2.14.10 → 2.15.3" || u.Upgrade.Bytes == 0 || u.Action != plan.Restart {
				t.Fatalf("%s: %+v", h, u)
			}
		}
		load := startLoad(t, ctx, env, "edge-1")
		time.Sleep(2 * time.Second)
		applyStart := time.Now()
		res, err := s.apply(ctx, p)
		took := time.Since(applyStart)
		time.Sleep(2 * time.Second)
		st := load.stop()
		if err != nil || res.VerifyError != "" {
			t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
		}
		missing, wrong := load.check(t, ctx)
		if missing != 0 || wrong != 0 || st.acked == 0 {
			t.Errorf("acknowledged writes: %d, missing %d, wrong %d", st.acked, missing, wrong)
		}
		for h, v := range runningVersions(t, ctx, s) {
			if v != "2.15.3" {
				t.Errorf("%s: /varz version %s, want 2.15.3", h, v)
			}
		}
		if p2 := newSession(t, env, plan.Options{}).plan(ctx); p2.HasChanges() {
			t.Errorf("plan after the upgrade: %s", p2.Summary())
		}
		t.Logf("upgrade 2.14.10 → 2.15.3 of %d servers: apply %.1fs; %d writes acknowledged, none lost; longest write gap %s, read gap %s (%d write errors, %d read errors)",
			len(all), took.Seconds(), st.acked, st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), st.writeErrs, st.readErrs)
	})
	if t.Failed() {
		return
	}

	t.Run("DowngradeWithoutFlagRefused", func(t *testing.T) {
		oldBin, err := os.ReadFile(old)
		if err != nil {
			t.Fatal(err)
		}
		a, s14 := releaseArchive(t, t.TempDir(), "2.14.10", oldBin)
		env.Edit(t, func(string) string { return pinIn(t, base, "2.14.10", a, s14, "hub", "leaf") })
		defer env.Edit(t, func(string) string { return pinned })
		_, err = newSession(t, env, plan.Options{}).Plan(ctx)
		want := `hub-1: nats-server downgrade 2.15.3 → 2.14.10 refused: 2.15.3 → 2.14.10 downgrades a JetStream server to an older minor release`
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `re-run with -allow-downgrade to do it anyway (rule "downgrade across a minor")`) {
			t.Fatalf("plan: %v\nwant %s", err, want)
		}
	})

	t.Run("ReleaseThatCannotStartRolledBack", func(t *testing.T) {
		fake := []byte("#!/bin/sh\ncase \"$1\" in\n  --version|-v) echo 'nats-server: v2.15.4'; exit 0 ;;\n" +
			"  -t) exec " + inventory.InstallRoot + "/2.15.3/nats-server \"$@\" ;;\nesac\n" +
			"echo 'fake 2.15.4: cannot start (a test double that exits 1)' >&2\nexit 1\n")
		a, s4 := releaseArchive(t, t.TempDir(), "2.15.4", fake)
		env.Edit(t, func(string) string {
			return pinIn(t, pinIn(t, base, "2.15.3", archive, sum, "leaf"), "2.15.4", a, s4, "hub")
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		before := releaseStates(t, ctx, env, all...)
		res, err := s.apply(ctx, p)
		if err == nil || !strings.Contains(err.Error(), "fake 2.15.4: cannot start") {
			t.Fatalf("apply: %v, want an error quoting the start's output", err)
		}
		got := results(res)
		var rolled []string
		for _, h := range hubs {
			switch got[h+"/nats-server"] {
			case "rolled back":
				rolled = append(rolled, h)
			case "not reached":
			default:
				t.Errorf("%s: %s", h, got[h+"/nats-server"])
			}
		}
		if len(rolled) != 1 {
			t.Fatalf("rolled back %v, want the first hub only (results %v)", rolled, got)
		}
		after := releaseStates(t, ctx, env, all...)
		for _, h := range all {
			if after[h].link != inventory.InstallRoot+"/2.15.3/nats-server" {
				t.Errorf("%s: the binary path points at %q after the rollback", h, after[h].link)
			}
			if h != rolled[0] && after[h].pid != before[h].pid {
				t.Errorf("%s: its nats-server restarted (pid %s, then %s)", h, before[h].pid, after[h].pid)
			}
		}
		if after[rolled[0]].pid == before[rolled[0]].pid {
			t.Errorf("%s: rolled back without a restart", rolled[0])
		}
		for h, v := range runningVersions(t, ctx, s) {
			if v != "2.15.3" {
				t.Errorf("%s: /varz version %s after the rollback, want 2.15.3", h, v)
			}
		}
		t.Logf("%s rolled back: %v", rolled[0], err)
	})
	t.Run("InstallWhereNoBinaryIs", func(t *testing.T) {
		// The leaves' binary path moves to where nothing is: the release the host holds is
		// linked there, with nothing to upload and no other binary to keep.
		env.Edit(t, func(string) string {
			src := pinIn(t, base, "2.15.3", archive, sum, "hub", "leaf")
			return strings.Replace(src, "role \"leaf\" {\n  nats {\n", "role \"leaf\" {\n  nats {\n    binary = \"/usr/local/bin/nats\"\n", 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		u := p.Unit("edge-1/nats-server")
		if u == nil || u.Upgrade == nil || u.Upgrade.Text() != "install 2.15.3" || u.Upgrade.Upload || u.Upgrade.KeepAside || u.Upgrade.Previous != "" {
			t.Fatalf("edge-1: %+v", u)
		}
		if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
			t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
		}
		out, err := env.Lab.Exec(ctx, "edge-1", "readlink", "/usr/local/bin/nats")
		if err != nil || strings.TrimSpace(string(out)) != inventory.InstallRoot+"/2.15.3/nats-server" {
			t.Errorf("edge-1: /usr/local/bin/nats -> %q (%v)", out, err)
		}
		if v := runningVersions(t, ctx, s)["edge-1"]; v != "2.15.3" {
			t.Errorf("edge-1: /varz version %s", v)
		}
		if p2 := newSession(t, env, plan.Options{}).plan(ctx); p2.HasChanges() {
			t.Errorf("plan afterwards: %s", p2.Summary())
		}
		// Both directories are the host's own: nothing shows on the machine.
		for _, p := range []string{"/usr/local/bin/nats", inventory.InstallRoot} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s exists on the machine running the lab", p)
			}
		}
	})
	t.Logf("%s hosts: test %.1fs in all", init, time.Since(began).Seconds())
}
