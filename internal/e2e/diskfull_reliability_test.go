package e2e

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
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
}

// rerunErr plans and applies the env's inventory once.
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
