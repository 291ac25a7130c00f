package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultLockDir holds the per-host lock. It is under /run (a tmpfs) on purpose: the lock
// means "an apply is talking to this host now", which a reboot ends; a lock that outlived
// a reboot could only be stale.
const DefaultLockDir = "/run/latticepush"

// ErrLocked matches (errors.Is) every *LockedError.
var ErrLocked = errors.New("host is locked by another latticepush run")

// LockInfo says who holds a lock.
type LockInfo struct {
	User    string
	Host    string // the controller machine the run started on
	PID     int
	Command string
	Time    time.Time
	// MachineID and BootID identify the controller machine and its boot (Lock fills them in
	// from /etc/machine-id and the kernel's boot_id when empty). A lock whose owner's process
	// is gone is taken over only when both match this controller's.
	MachineID string
	BootID    string
	token     string
}

// LockedError is returned by Lock when another run holds the host's lock.
type LockedError struct {
	Target string
	Holder LockInfo
	// Stale is set when the holder looks gone (its process on this machine is dead, or the
	// lock is older than LockOptions.StaleAfter); Why says which.
	Stale bool
	Why   string
	Path  string
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("%s is locked by %s@%s (pid %d, since %s, running %q)", e.Target,
		e.Holder.User, e.Holder.Host, e.Holder.PID, e.Holder.Time.Format(time.RFC3339), e.Holder.Command)
	if e.Stale {
		return msg + fmt.Sprintf("; the lock looks stale (%s). If no latticepush run is using this host, clear it with `latticepush force-unlock INVENTORY %s` (it removes %s)", e.Why, e.Target, e.Path)
	}
	return msg + fmt.Sprintf("; wait for that run to finish, or if it is no longer running, clear it with `latticepush force-unlock INVENTORY %s` (it removes %s)", e.Target, e.Path)
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// LockOptions adjust Lock. The zero value uses the defaults noted.
type LockOptions struct {
	Dir        string        // default DefaultLockDir
	StaleAfter time.Duration // default 6h
	// Sweep are directories this package stages into on the host: once the lock is held, the
	// temporary files an earlier run left in them (it lost its connection while staging) are
	// removed in the same round trip (Lock.Swept names them), and again when it is released.
	Sweep []string
	// Then, when set, runs in the same exec once the lock is held (never when it is not):
	// work that must happen under the lock saves a round trip. Lock.Then holds its result.
	// With Then.Stdin, ThenStdin is its standard input.
	Then      *Step
	ThenStdin []byte
}

func (o LockOptions) dir() string {
	if o.Dir == "" {
		return DefaultLockDir
	}
	return o.Dir
}

// Lock is a held host lock.
type Lock struct {
	c     *Client
	path  string
	tok   string
	sweep []string
	// Swept are the temporary files of an earlier run that Lock removed (LockOptions.Sweep).
	Swept []string
	// TookOver is set when Lock replaced a lock left behind by a run of this controller (same
	// machine, same boot) whose process is gone; it describes that run.
	TookOver *LockInfo
	// Then is what LockOptions.Then printed and its exit status, run under this lock.
	Then *StepResult
}

// sweepFunc defines sweep: it removes, from each directory given, the temporary files a
// staging run left (regular files named like stagingName's, never a symlink) and prints
// "removed PATH" for each, or "unremoved PATH" for one it could not remove. It always
// succeeds: the caller holds the lock and decides what a failure means.
const sweepFunc = `sweep() {
  for d in "$@"; do
    for f in "$d"/.*` + tmpMarker + `*; do
      [ -f "$f" ] && [ ! -L "$f" ] || continue
      if rm -f -- "$f"; then echo "removed $f"; else echo "unremoved $f"; fi
    done
  done
}
`

// lockScript creates the lock atomically: the info is written to a private temporary
// file, then hard-linked to the lock name, which fails if a lock exists. A lock released
// between the link and reading it answers gone (try again). Once acquired, it sweeps the
// directories given after the info ($3...). It exits 0 only once acquired (1: not acquired,
// 3: cannot write the lock).
const lockScript = sweepFunc + `dir=$1; info=$2; shift 2; umask 077
[ -d "$dir" ] || mkdir -p "$dir" || exit 3
tmp="$dir/.lock.$$"
printf '%s\n' "$info" > "$tmp" || exit 3
if ln "$tmp" "$dir/lock" 2>/dev/null; then rm -f "$tmp"; echo acquired; sweep "$@"; exit 0; fi
rm -f "$tmp"
held=$(cat "$dir/lock" 2>/dev/null) || { echo gone; exit 1; }
printf 'held\n%s\n' "$held"; exit 1`

// takeoverScript replaces a lock left behind, only if it still carries the dead owner's token
// ($3). Takeovers exclude each other with a directory (mkdir is atomic; one left by a takeover
// cut short is cleared after a minute); the new lock is renamed over the old one, so there is
// never a moment without a lock for an ordinary Lock to slip into. Answers: acquired (then
// it sweeps the directories from $4 on), held (with the holder), gone (no lock any more: lock
// the ordinary way) or busy (another takeover is under way). It exits 0 only once acquired.
const takeoverScript = sweepFunc + `dir=$1; info=$2; old=$3; shift 3; umask 077
find "$dir" -maxdepth 1 -name .takeover -mmin +1 -exec rmdir {} + 2>/dev/null
mkdir "$dir/.takeover" 2>/dev/null || { echo busy; exit 1; }
tmp="$dir/.lock.$$"
if grep -qxF "$old" "$dir/lock" 2>/dev/null; then
  if printf '%s\n' "$info" > "$tmp" && mv -f "$tmp" "$dir/lock"; then rmdir "$dir/.takeover"; echo acquired; sweep "$@"; exit 0; fi
  rm -f "$tmp"; rmdir "$dir/.takeover"; exit 3
fi
rmdir "$dir/.takeover"
held=$(cat "$dir/lock" 2>/dev/null) || { echo gone; exit 1; }
printf 'held\n%s\n' "$held"; exit 1`

// unlockScript sweeps the directories from $3 on, then removes the lock, only if it still
// carries our token ($2): the sweep runs while the lock is held, since an sftp-server of a
// run whose connection was cut can still carry out that run's requests after it. It reads
// the lock with the shell's own read: every host runs this at the end of every apply, and a
// process less on each adds up.
const unlockScript = sweepFunc + `lock=$1; tok=$2; shift 2; mine=""
if [ -f "$lock" ]; then
  while IFS= read -r l || [ -n "$l" ]; do [ "$l" = "$tok" ] && mine=1; done < "$lock"
fi
if [ -n "$mine" ]; then sweep "$@"; rm -f "$lock"; echo released; else echo foreign; fi`

// Lock takes the host's lock for owner (Time defaults to now), running as root with the
// target's Become. When another run holds it, it returns a *LockedError (errors.Is
// ErrLocked) describing the holder and naming the force-unlock command. One exception: a
// lock left by a run of this same controller (same hostname, machine id and boot id) whose
// process is gone cannot belong to a live run, so it is taken over, and Lock.TookOver says so.
// Any other lock that looks stale is reported, never broken.
func (c *Client) Lock(ctx context.Context, owner LockInfo, opts LockOptions) (*Lock, error) {
	if owner.Time.IsZero() {
		owner.Time = time.Now()
	}
	me := controllerID()
	if owner.MachineID == "" {
		owner.MachineID = me.MachineID
	}
	if owner.BootID == "" {
		owner.BootID = me.BootID
	}
	var b [12]byte
	rand.Read(b[:])
	owner.token = hex.EncodeToString(b[:])
	dir := opts.dir()
	tok := "token=" + strconv.Quote(owner.token)
	lock := Step{Name: "lock", Script: lockScript, Args: append([]string{dir, encodeLock(owner)}, opts.Sweep...)}
	var tookOver *LockInfo
	for try := 0; ; try++ {
		steps := []Step{lock}
		run := RunOptions{Become: c.target.Become}
		if opts.Then != nil {
			then := *opts.Then
			then.AfterOK = true
			steps = append(steps, then)
			if then.Stdin {
				run.Stdin = bytes.NewReader(opts.ThenStdin)
			}
		}
		res, err := c.RunSteps(ctx, steps, run)
		if err != nil {
			return nil, c.errorf("lock %s: %w", dir, err)
		}
		if r := res[0]; r.Code != 0 && r.Code != 1 {
			return nil, c.errorf("lock %s: %s", dir, r.failure())
		}
		state, rest, _ := strings.Cut(res[0].Output, "\n")
		switch state {
		case "acquired":
			l := &Lock{c: c, path: dir + "/lock", tok: tok, sweep: opts.Sweep, TookOver: tookOver}
			if opts.Then != nil {
				l.Then = &res[1]
			}
			var unremoved []string
			l.Swept, unremoved = parseSweep(rest)
			if len(unremoved) > 0 {
				err := c.errorf("remove stray temp files: cannot remove %s", strings.Join(unremoved, ", "))
				return nil, errors.Join(err, l.Unlock(context.WithoutCancel(ctx)))
			}
			return l, nil
		case "gone", "busy":
			// The lock went away, or another run is taking it over: look again, the ordinary way.
			if try >= 4 {
				return nil, c.errorf("lock %s: another run kept taking over the lock; try again", dir)
			}
			if state == "busy" {
				time.Sleep(100 * time.Millisecond)
			}
			lock, tookOver = Step{Name: "lock", Script: lockScript, Args: append([]string{dir, encodeLock(owner)}, opts.Sweep...)}, nil
			continue
		case "held":
			holder := decodeLock(rest)
			e := &LockedError{Target: c.target.Name, Holder: holder, Path: dir + "/lock"}
			e.Stale, e.Why = staleness(holder, me, opts)
			if mayTakeOver(holder, me) && try < 2 {
				lock = Step{Name: "lock", Script: takeoverScript, Args: append([]string{dir, encodeLock(owner), "token=" + strconv.Quote(holder.token)}, opts.Sweep...)}
				tookOver = &holder
				continue
			}
			return nil, e
		}
		return nil, c.errorf("lock %s: unexpected answer %q", dir, res[0].Output)
	}
}

// controller is this machine's identity as recorded in a lock.
type controller struct{ Host, MachineID, BootID string }

func controllerID() controller {
	var c controller
	c.Host, _ = os.Hostname()
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			c.MachineID = strings.TrimSpace(string(b))
			break
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		c.BootID = strings.TrimSpace(string(b))
	}
	return c
}

// sameRun reports whether holder's process was on this controller in this boot, so that its
// pid can be checked here.
func sameRun(holder LockInfo, me controller) bool {
	return holder.Host != "" && holder.Host == me.Host &&
		holder.MachineID != "" && holder.MachineID == me.MachineID &&
		holder.BootID != "" && holder.BootID == me.BootID
}

// mayTakeOver reports whether holder's lock was left by a run of this controller in this boot
// whose process is gone: the only lock Lock replaces. Age alone never breaks a lock: a run of
// this controller older than LockOptions.StaleAfter whose process lives is still running.
func mayTakeOver(holder LockInfo, me controller) bool {
	return sameRun(holder, me) && holder.PID > 0 && !pidAlive(holder.PID) && holder.token != ""
}

// staleness says whether holder looks gone, and why.
func staleness(holder LockInfo, me controller, opts LockOptions) (bool, string) {
	after := opts.StaleAfter
	if after <= 0 {
		after = 6 * time.Hour
	}
	if holder.Host == me.Host && holder.PID > 0 && !pidAlive(holder.PID) {
		why := fmt.Sprintf("process %d on %s is not running", holder.PID, me.Host)
		switch {
		case holder.MachineID == "" || holder.BootID == "":
			why += "; the lock does not say which machine and boot it was taken in, so it is not taken over"
		case holder.MachineID != me.MachineID:
			why += "; but the lock was taken on another machine with the same hostname, so it is not taken over"
		case holder.BootID != me.BootID:
			why += "; the lock was taken before this machine's last boot, when that pid was another process, so it is not taken over"
		}
		return true, why
	}
	if age := time.Since(holder.Time); age > after {
		return true, fmt.Sprintf("taken %s ago", age.Round(time.Minute))
	}
	return false, ""
}

// Unlock releases the lock if it is still ours (a lock that was force-removed and taken by
// another run is left alone, and reported), sweeping LockOptions.Sweep once more first.
func (l *Lock) Unlock(ctx context.Context) error { return l.Release(ctx) }

// Release runs the steps given (each in its own subshell: one that fails does not stop the
// others), then releases the lock as Unlock does, all in one round trip. The error names every
// step that failed, by its Name, and a failed release.
func (l *Lock) Release(ctx context.Context, before ...Step) error {
	steps := append(slices.Clone(before), Step{Name: "unlock", Script: unlockScript, Args: append([]string{l.path, l.tok}, l.sweep...)})
	res, err := l.c.RunSteps(ctx, steps, RunOptions{Become: l.c.target.Become})
	if err != nil {
		return l.c.errorf("unlock: %w", err)
	}
	var errs []error
	for i, r := range res[:len(before)] {
		if r.Code != 0 {
			errs = append(errs, l.c.errorf("%s: %s", before[i].Name, r.failure()))
		}
	}
	u := res[len(before)]
	_, unremoved := parseSweep(u.Output)
	switch {
	case u.Code != 0:
		errs = append(errs, l.c.errorf("unlock: %s", u.failure()))
	case !strings.HasSuffix(strings.TrimSpace(u.Output), "released"):
		errs = append(errs, l.c.errorf("unlock: %s is no longer ours (was it force-unlocked?); left in place", l.path))
	case len(unremoved) > 0:
		errs = append(errs, l.c.errorf("unlock: cannot remove stray temp files %s", strings.Join(unremoved, ", ")))
	}
	return errors.Join(errs...)
}

// Holds reports whether a lock file's content is this lock's (carries its token).
func (l *Lock) Holds(content string) bool {
	return slices.Contains(strings.Split(content, "\n"), l.tok)
}

// parseSweep reads sweep's lines.
func parseSweep(out string) (removed, unremoved []string) {
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "removed "); ok {
			removed = append(removed, p)
		} else if p, ok := strings.CutPrefix(line, "unremoved "); ok {
			unremoved = append(unremoved, p)
		}
	}
	return removed, unremoved
}

// ForceUnlock removes the host's lock whoever holds it. Only for an operator's explicit
// `latticepush force-unlock` after reading the LockedError.
func (c *Client) ForceUnlock(ctx context.Context, opts LockOptions) error {
	_, err := c.Run(ctx, []string{"rm", "-f", "--", opts.dir() + "/lock"}, RunOptions{Become: c.target.Become})
	return err
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func encodeLock(i LockInfo) string {
	return strings.Join([]string{
		"user=" + strconv.Quote(i.User), "host=" + strconv.Quote(i.Host),
		"pid=" + strconv.Itoa(i.PID), "command=" + strconv.Quote(i.Command),
		"time=" + strconv.Quote(i.Time.UTC().Format(time.RFC3339Nano)),
		"machine=" + strconv.Quote(i.MachineID), "boot=" + strconv.Quote(i.BootID),
		"token=" + strconv.Quote(i.token),
	}, "\n")
}

// DescribeLock says whose a lock file's content is: "user@host (pid N, since T, running
// "command")". Its token is never shown.
func DescribeLock(content string) string {
	i := decodeLock(content)
	return fmt.Sprintf("%s@%s (pid %d, since %s, running %q)", i.User, i.Host, i.PID, i.Time.Format(time.RFC3339), i.Command)
}

func decodeLock(s string) LockInfo {
	var i LockInfo
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		switch k {
		case "user":
			i.User = v
		case "host":
			i.Host = v
		case "pid":
			i.PID, _ = strconv.Atoi(v)
		case "command":
			i.Command = v
		case "time":
			i.Time, _ = time.Parse(time.RFC3339Nano, v)
		case "machine":
			i.MachineID = v
		case "boot":
			i.BootID = v
		case "token":
			i.token = v
		}
	}
	return i
}

// ErrorHost returns the host the error names (see HostError).
func (e *LockedError) ErrorHost() string { return e.Target }
