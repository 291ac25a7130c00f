package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/remote/sshtest"
)

// Each step runs with its own arguments (data, however quoted), sees /dev/null as input, and
// its exit ends only itself: the steps after it still run.
func TestRunSteps_OwnArgsAndStatus(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	steps := []Step{
		{Name: "echo", Script: `printf '%s|' "$@"; printf 'no newline'`, Args: []string{"a b", `"$(x)"`, "'"}},
		{Name: "fails", Script: `cat; echo "to stderr" >&2; exit 7; echo unreached`},
		{Name: "none", Script: `echo "$#"`},
		{Name: "last", Script: `case $1 in x) echo "matched $1";; esac`, Args: []string{"x"}},
	}
	res, err := c.RunSteps(context.Background(), steps, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []StepResult{
		{Output: `a b|"$(x)"|'|no newline`, Code: 0},
		{Output: "to stderr", Code: 7},
		{Output: "0", Code: 0},
		{Output: "matched x", Code: 0},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
	}
	for i := range want {
		if strings.TrimRight(res[i].Output, "\n") != want[i].Output || res[i].Code != want[i].Code {
			t.Errorf("step %s: %+v, want %+v", steps[i].Name, res[i], want[i])
		}
	}
}

// A lock sweeps the stray temporary files of its directories when taken (naming them) and
// when released; other files, symlinks named like strays and missing directories are left.
func TestLock_SweepsStrays(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	dir := t.TempDir()
	stray := filepath.Join(dir, ".nats.conf"+tmpMarker+"0011")
	keep := filepath.Join(dir, "nats.conf")
	link := filepath.Join(dir, ".x"+tmpMarker+"22")
	for _, p := range []string{stray, keep} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(keep, link); err != nil {
		t.Fatal(err)
	}
	opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock"), Sweep: []string{dir, filepath.Join(dir, "missing")}}
	l, err := c.Lock(ctx, LockInfo{User: "sweeper"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Swept) != 1 || l.Swept[0] != stray {
		t.Fatalf("Swept = %q, want only %s", l.Swept, stray)
	}
	for _, p := range []string{keep, link} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	// A stray that appears while the lock is held (a cut run's sftp-server finishing a
	// request) goes at release, together with a step run before it.
	again := filepath.Join(dir, ".env"+tmpMarker+"33")
	os.WriteFile(again, []byte("x"), 0o600)
	mark := filepath.Join(dir, "record")
	if err := l.Release(ctx, Step{Name: "record", Script: `echo done > "$1"`, Args: []string{mark}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(again); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stray made under the lock still there after release: %v", err)
	}
	if b, _ := os.ReadFile(mark); string(b) != "done\n" {
		t.Errorf("step before release wrote %q, want done", b)
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock still there after release: %v", err)
	}
}

// A step that fails is reported by name; the lock is released all the same.
func TestLock_ReleaseReportsFailedStep(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}
	l, err := c.Lock(ctx, LockInfo{User: "a"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = l.Release(ctx, Step{Name: "audit record", Script: `echo "disk full" >&2; exit 1`})
	if err == nil || !strings.Contains(err.Error(), "audit record: disk full") {
		t.Fatalf("release with a failing step: %v, want it named with its output", err)
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock still there after release: %v", err)
	}
}
