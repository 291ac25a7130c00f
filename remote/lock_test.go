package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/remote/sshtest"
)

// A lock left by a run of this controller (same hostname, machine id and boot id) whose
// process is gone is taken over, and the Lock says whose it was.
func TestLock_TakeoverOfDeadRunOnThisController(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	a := connect(t, newPool(t, Options{}), f.target(srv))
	b := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}
	me, _ := os.Hostname()
	dead := deadPID(t)
	if _, err := a.Lock(ctx, LockInfo{User: "ghost", Host: me, PID: dead, Command: "apply cut"}, opts); err != nil {
		t.Fatal(err)
	}
	l, err := b.Lock(ctx, LockInfo{User: "bob", Host: me, PID: os.Getpid()}, opts)
	if err != nil {
		t.Fatalf("lock left by dead pid %d on this controller and boot: %v, want it taken over", dead, err)
	}
	if l.TookOver == nil || l.TookOver.User != "ghost" || l.TookOver.PID != dead || l.TookOver.Command != "apply cut" {
		t.Fatalf("TookOver = %+v, want the ghost run's details", l.TookOver)
	}
	// The lock is bob's now: a third run is refused, naming bob.
	_, err = a.Lock(ctx, LockInfo{User: "carol", Host: me, PID: os.Getpid()}, opts)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.User != "bob" || le.Stale {
		t.Fatalf("after the takeover: %v, want refused by bob's live lock", err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatalf("unlock after takeover: %v", err)
	}
	if entries, _ := os.ReadDir(opts.Dir); len(entries) != 0 {
		t.Errorf("left in the lock directory: %v", entries)
	}
}

// A lock of this controller and boot older than StaleAfter whose process still runs is
// reported as stale (naming force-unlock) but never taken over: its run may still be going.
func TestLock_OldLockOfLiveRunIsNotTakenOver(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	a := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}
	me, _ := os.Hostname()
	if _, err := a.Lock(ctx, LockInfo{User: "longrun", Host: me, PID: os.Getpid(), Time: time.Now().Add(-7 * time.Hour)}, opts); err != nil {
		t.Fatal(err)
	}
	l, err := a.Lock(ctx, LockInfo{User: "bob", Host: me, PID: os.Getpid()}, opts)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("got lock %+v, err %v: want the live run's 7-hour-old lock refused", l, err)
	}
	if le.Holder.User != "longrun" || !le.Stale || !strings.Contains(le.Why, "taken 7h0m0s ago") || !strings.Contains(err.Error(), "latticepush force-unlock INVENTORY") {
		t.Errorf("refusal: %v (stale %v, why %q)", err, le.Stale, le.Why)
	}
}

// A lock whose owner's pid is gone is refused, naming force-unlock, when the owner was not
// this controller in this boot: another boot, another machine id, another hostname, or a lock
// that does not say (written by an older latticepush).
func TestLock_DeadPIDElsewhereIsRefused(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	a := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	me, _ := os.Hostname()
	dead := deadPID(t)
	for _, tc := range []struct {
		name  string
		owner LockInfo
		why   string
	}{
		{"another boot", LockInfo{Host: me, PID: dead, BootID: "boot-before"}, "before this machine's last boot"},
		{"another machine, same hostname", LockInfo{Host: me, PID: dead, MachineID: "0123456789abcdef"}, "another machine"},
		{"another hostname", LockInfo{Host: me + "-other", PID: dead}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}
			tc.owner.User = "ghost"
			if _, err := a.Lock(ctx, tc.owner, opts); err != nil {
				t.Fatal(err)
			}
			_, err := a.Lock(ctx, LockInfo{User: "bob", Host: me, PID: os.Getpid()}, opts)
			var le *LockedError
			if !errors.As(err, &le) || le.Holder.User != "ghost" {
				t.Fatalf("got %v, want refused by ghost's lock", err)
			}
			if !strings.Contains(err.Error(), "latticepush force-unlock INVENTORY") || !strings.Contains(err.Error(), opts.Dir+"/lock") {
				t.Errorf("refusal %q does not name the force-unlock command and the lock path", err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("refusal %q does not say %q", err, tc.why)
			}
		})
	}
	// A lock in the old format (no machine or boot id) is not taken over either.
	opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := "user=\"ghost\"\nhost=\"" + me + "\"\npid=" + strconv.Itoa(dead) + "\ncommand=\"apply\"\ntime=\"2026-01-01T00:00:00Z\"\ntoken=\"abc\"\n"
	if err := os.WriteFile(opts.Dir+"/lock", []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := a.Lock(ctx, LockInfo{User: "bob", Host: me, PID: os.Getpid()}, opts)
	if le := (*LockedError)(nil); !errors.As(err, &le) || !strings.Contains(err.Error(), "does not say which machine") {
		t.Fatalf("old-format lock of a dead pid: %v, want refused", err)
	}
}

// Two runs taking over the same dead lock at once: exactly one gets it.
func TestLock_ConcurrentTakeover(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	ctx := context.Background()
	opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}
	me, _ := os.Hostname()
	clients := []*Client{}
	for range 4 {
		clients = append(clients, connect(t, newPool(t, Options{}), f.target(srv)))
	}
	for round := range 5 {
		if _, err := clients[0].Lock(ctx, LockInfo{User: "ghost", Host: me, PID: deadPID(t)}, opts); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		got := make([]*Lock, len(clients))
		errs := make([]error, len(clients))
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = c.Lock(ctx, LockInfo{User: "run" + strconv.Itoa(i), Host: me, PID: os.Getpid()}, opts)
			}()
		}
		wg.Wait()
		var winner *Lock
		for i := range clients {
			if errs[i] == nil {
				if winner != nil {
					t.Fatalf("round %d: two runs took the lock", round)
				}
				winner = got[i]
			} else if !errors.Is(errs[i], ErrLocked) {
				t.Fatalf("round %d: %v", round, errs[i])
			}
		}
		if winner == nil {
			t.Fatalf("round %d: nobody took the dead run's lock over: %v", round, errs)
		}
		if err := winner.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(opts.Dir); len(entries) != 0 {
			t.Fatalf("round %d: left in the lock directory: %v", round, entries)
		}
	}
}

// Then runs in the lock's own exec once the lock is held, with its standard input, and its
// result comes back on the Lock; when the lock is held by another run, it does not run.
func TestLock_ThenRunsOnlyUnderTheLock(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	a := connect(t, newPool(t, Options{}), f.target(srv))
	b := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "lock")
	ran := filepath.Join(t.TempDir(), "ran")
	opts := LockOptions{Dir: dir, ThenStdin: []byte("from stdin\n"),
		Then: &Step{Name: "facts", Script: `[ -f "$1/lock" ] && echo "locked"; read -r l; echo "$l"; : > "$2"; exit 4`, Args: []string{dir, ran}, Stdin: true}}
	me, _ := os.Hostname()
	l, err := a.Lock(ctx, LockInfo{User: "alice", Host: me, PID: os.Getpid()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if l.Then == nil || l.Then.Output != "locked\nfrom stdin\n" || l.Then.Code != 4 {
		t.Fatalf("Then = %+v, want its output under the lock, its stdin and its status", l.Then)
	}
	if err := os.Remove(ran); err != nil {
		t.Fatal(err)
	}
	_, err = b.Lock(ctx, LockInfo{User: "bob", Host: me, PID: os.Getpid()}, opts)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.User != "alice" {
		t.Fatalf("second lock: %v, want refused by alice's lock", err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("Then ran although the lock was held by another run")
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
