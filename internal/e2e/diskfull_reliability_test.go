package e2e

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
)

// fullDisk is a managed directory of a lab host put on a small file system of its own.
type fullDisk struct{ host, dir string }

// TestReliability_DiskFull puts a managed directory of one lab host (its nats-server config
// directory, or its wasmCloud environment directory) on a small tmpfs that is full, holding a
// copy of what was there, and applies a change to every edge. Staging must fail with an error
// naming the host, the path and ENOSPC; no managed file on any host may change (or be left
// partial); no temp file or lock may be left; and once the directory has room again the rerun
// converges.
func TestReliability_DiskFull(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	revision(t, env, 0)
	firstDeploymentDiskFull(t, ctx, env)
	s := newSession(t, env, plan.Options{})
	if _, err := s.apply(ctx, s.plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}
	cases := []fullDisk{{"edge-1", "/etc/nats"}, {"edge-2", "/etc/wasmcloud"}, {"edge-3", "/etc/nats"}}
	n := reliabilityCount(t, 2, 6)
	var refused, unchanged, checked int
	for i := range n {
		c := cases[i%len(cases)]
		file := natsConf
		if c.dir == "/etc/wasmcloud" {
			file = wasmEnv
		}
		revision(t, env, i+1)
		before := hashesOn(t, ctx, env, natsConf, wasmEnv)
		free := fillDir(t, ctx, env, c)
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		if u := p.Unit(c.host + "/" + map[string]string{natsConf: "nats-server", wasmEnv: "wasmcloud"}[file]); u == nil || !u.Changes() {
			t.Fatalf("%s: the plan does not change %s", c.host, file)
		}
		start := time.Now()
		res, err := s.apply(ctx, p)
		took := time.Since(start)
		if err == nil {
			t.Fatalf("trial %d: apply with %s:%s full succeeded", i+1, c.host, c.dir)
		}
		msg := err.Error()
		for _, want := range []string{c.host, file, "ENOSPC", "staging failed"} {
			if !strings.Contains(msg, want) {
				t.Errorf("trial %d: the error does not say %q:\n%s", i+1, want, msg)
			}
		}
		after := hashesOn(t, ctx, env, natsConf, wasmEnv)
		changed := 0
		for k, h := range before {
			checked++
			if after[k] != h {
				changed++
				t.Errorf("trial %d: %s changed although staging failed", i+1, k)
			}
		}
		if len(after) != len(before) {
			t.Errorf("trial %d: %d managed files before, %d after", i+1, len(before), len(after))
		}
		for id, r := range results(res) {
			if r != "not reached" && r != "unchanged" {
				t.Errorf("trial %d: %s %s, want not reached", i+1, id, r)
			}
		}
		if left := strays(t, ctx, env); len(left) > 0 {
			t.Errorf("trial %d: temp files left: %v", i+1, left)
		}
		if held := locksHeld(ctx, env); len(held) > 0 {
			t.Errorf("trial %d: locks left on %v", i+1, held)
		}
		if changed == 0 {
			unchanged++
		}
		refused++
		t.Logf("trial %d: %s:%s full (%d bytes free), apply refused after %s: %s",
			i+1, c.host, c.dir, free, took.Round(time.Millisecond), enospcLine(msg))
		emptyDir(t, ctx, env, c)
		if err := rerunErr(t, ctx, env); err != nil {
			t.Fatalf("trial %d: rerun after the directory was freed: %v", i+1, err)
		}
		converged(t, ctx, env)
		if t.Failed() {
			return
		}
	}
	t.Logf("disk full: %d trials, %d applies refused at staging naming host, path and ENOSPC; %d managed files compared, %d trials with no file changed on any host; 0 temp files and 0 locks left; every rerun with room again converged",
		n, refused, checked, unchanged)

	t.Run("upload directory full", func(t *testing.T) {
		// A release for every leaf, uploaded over SFTP into the install root's upload
		// directory: on edge-1 that directory is a 1 MiB file system.
		newBin, err := os.ReadFile(testenv.NATSRelease(t, "v2.15.3"))
		if err != nil {
			t.Fatal(err)
		}
		archive, sum := releaseArchive(t, t.TempDir(), "2.15.3", newBin)
		fi, err := os.Stat(archive)
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(env.Path)
		if err != nil {
			t.Fatal(err)
		}
		base := string(src)
		env.Edit(t, func(string) string { return pinIn(t, base, "2.15.3", archive, sum, "leaf") })
		defer env.Edit(t, func(string) string { return base })
		c := fullDisk{"edge-1", path.Join(inventory.InstallRoot, ".uploads")}
		if _, err := env.Lab.Exec(ctx, c.host, "mkdir", "-p", c.dir); err != nil {
			t.Fatal(err)
		}
		defer env.Lab.Exec(context.Background(), c.host, "rmdir", c.dir, path.Dir(c.dir), path.Dir(path.Dir(c.dir)))
		before := installedOn(t, ctx, env)
		hashes := hashesOn(t, ctx, env, natsConf, wasmEnv)
		free := fillDir(t, ctx, env, c)
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		start := time.Now()
		_, err = s.apply(ctx, p)
		took := time.Since(start)
		if err == nil {
			t.Fatal("apply with the upload directory full succeeded")
		}
		for _, want := range []string{c.host, c.dir + "/", "ENOSPC"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q:\n%v", want, err)
			}
		}
		if after := installedOn(t, ctx, env); after != before {
			t.Errorf("installed files changed although the upload failed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if after := hashesOn(t, ctx, env, natsConf, wasmEnv); !equalStrings(hashes, after) {
			t.Errorf("managed files changed although the upload failed")
		}
		if left := strays(t, ctx, env); len(left) > 0 {
			t.Errorf("temp files left: %v", left)
		}
		if out, _ := env.Lab.Exec(ctx, c.host, "sh", "-c", "ls -A "+c.dir+" | grep -v '^.reliability-fill$'; true"); len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("left in %s:%s: %s", c.host, c.dir, out)
		}
		if held := locksHeld(ctx, env); len(held) > 0 {
			t.Errorf("locks left on %v", held)
		}
		t.Logf("upload directory full: %s:%s (%d bytes free), a %d-byte release archive; apply refused after %s: %s; nothing installed or switched on any host, no upload left",
			c.host, c.dir, free, fi.Size(), took.Round(time.Millisecond), enospcLine(err.Error()))
	})
}

// installedOn lists, per lab host, the files and links under the install roots and the
// binaries' directory, with where each link points (an upload directory created empty by
// an upload is not a change that matters).
func installedOn(t *testing.T, ctx context.Context, env *labtest.Env) string {
	t.Helper()
	var b strings.Builder
	for _, h := range env.Lab.Hosts {
		out, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", `find /opt/latticepush /usr/local/bin -name .reliability-fill -prune -o ! -type d -printf '%p %l %s\n' 2>/dev/null | sort; true`)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:\n%s", h.Name, out)
	}
	return b.String()
}

// rerunErr plans and applies the env's inventory once.
// firstDeploymentDiskFull applies the empty lab with edge-2's /etc/nats full. The hub wave
// (first starts only) runs while the edges stage, so the hubs come up; edge-2's staging
// fails and stops the apply before the leaf wave: the error says so and names host, path and
// ENOSPC, no edge holds a managed file, and no temp file or lock is left.
func firstDeploymentDiskFull(t *testing.T, ctx context.Context, env *labtest.Env) {
	t.Helper()
	c := fullDisk{"edge-2", "/etc/nats"}
	if out, err := env.Lab.Exec(ctx, c.host, "mkdir", "-p", c.dir); err != nil {
		t.Fatalf("mkdir %s on %s: %v %s", c.dir, c.host, err, out)
	}
	fillDir(t, ctx, env, c)
	s := newSession(t, env, plan.Options{})
	res, err := s.apply(ctx, s.plan(ctx))
	if err == nil {
		t.Fatal("first deployment with edge-2:/etc/nats full succeeded")
	}
	for _, want := range []string{"while the hub wave ran; that wave's first starts stay applied", c.host, natsConf, "ENOSPC"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	for id, r := range results(res) {
		want := "not reached"
		if strings.HasPrefix(id, "hub-") {
			want = "applied"
		}
		if r != want {
			t.Errorf("%s %s, want %s", id, r, want)
		}
	}
	for k := range hashesOn(t, ctx, env, natsConf, wasmEnv) {
		if strings.HasPrefix(k, "edge-") {
			t.Errorf("%s written although the edges' staging failed", k)
		}
	}
	if left := strays(t, ctx, env); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	if held := locksHeld(ctx, env); len(held) > 0 {
		t.Errorf("locks left on %v", held)
	}
	emptyDir(t, ctx, env, c)
	t.Logf("first deployment with %s:%s full: hubs applied, edges not reached, no edge file, no temp file or lock: %s", c.host, c.dir, enospcLine(err.Error()))
}

func rerunErr(t *testing.T, ctx context.Context, env *labtest.Env) error {
	t.Helper()
	s := newSession(t, env, plan.Options{})
	res, err := s.apply(ctx, s.plan(ctx))
	if err == nil && res.VerifyError != "" && !strings.Contains(res.VerifyError, staleRead) {
		return fmt.Errorf("verify after apply: %s", res.VerifyError)
	}
	return err
}

// enospcLine is the line of an apply error that reports ENOSPC.
func enospcLine(msg string) string {
	for _, l := range strings.Split(msg, "\n") {
		if strings.Contains(l, "ENOSPC") {
			return strings.TrimSpace(l)
		}
	}
	return firstLineOf(msg)
}

// fillDir mounts a 1 MiB tmpfs over c.dir on c.host holding a copy of what was there (owner
// and mode kept), fills it, and returns the bytes left free. The mount lives in the host's
// own mount namespace; emptyDir (also run at cleanup) removes it.
func fillDir(t *testing.T, ctx context.Context, env *labtest.Env, c fullDisk) int64 {
	t.Helper()
	const script = `set -e
d=$1
keep=$(mktemp -d /tmp/diskfull.XXXXXX)
cp -a "$d/." "$keep/"
owner=$(stat -c %u:%g "$d"); mode=$(stat -c %a "$d")
mount -t tmpfs -o size=1m,mode=$mode latticepush-diskfull "$d"
chown "$owner" "$d"
cp -a "$keep/." "$d/"
rm -rf "$keep"
dd if=/dev/zero of="$d/.reliability-fill" bs=4096 2>/dev/null || true
sync
df -B1 --output=avail "$d" | tail -n 1
`
	t.Cleanup(func() { emptyDir(t, context.Background(), env, c) })
	out, err := env.Lab.Exec(ctx, c.host, "sh", "-c", script, "sh", c.dir)
	if err != nil {
		t.Fatalf("fill %s:%s: %v", c.host, c.dir, err)
	}
	var free int64
	fmt.Sscan(strings.TrimSpace(string(out)), &free)
	return free
}

// emptyDir removes fillDir's tmpfs from c.dir (if it is there), bringing back what was
// under it.
func emptyDir(t *testing.T, ctx context.Context, env *labtest.Env, c fullDisk) {
	t.Helper()
	const script = `d=$1
if grep -q "^latticepush-diskfull $d " /proc/mounts; then umount "$d" || umount -l "$d"; fi
! grep -q "^latticepush-diskfull $d " /proc/mounts
`
	if out, err := env.Lab.Exec(ctx, c.host, "sh", "-c", script, "sh", path.Clean(c.dir)); err != nil {
		t.Errorf("unmount the small file system at %s:%s: %v %s", c.host, c.dir, err, out)
	}
}
