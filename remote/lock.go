package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
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
	token   string
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
	return msg + "; wait for that run to finish"
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// LockOptions adjust Lock. The zero value uses the defaults noted.
type LockOptions struct {
	Dir        string        // default DefaultLockDir
	StaleAfter time.Duration // default 6h
}

func (o LockOptions) dir() string {
	if o.Dir == "" {
		return DefaultLockDir
	}
	return o.Dir
}

// Lock is a held host lock.
type Lock struct {
	c    *Client
	path string
	tok  string
}

// lockScript creates the lock atomically: the info is written to a private temporary
// file, then hard-linked to the lock name, which fails if a lock exists.
const lockScript = `dir=$1; info=$2; umask 077
mkdir -p "$dir" || exit 3
tmp="$dir/.lock.$$"
printf '%s\n' "$info" > "$tmp" || exit 3
if ln "$tmp" "$dir/lock" 2>/dev/null; then rm -f "$tmp"; echo acquired; exit 0; fi
rm -f "$tmp"; echo held; cat "$dir/lock"`

// unlockScript removes the lock only if it still carries our token.
const unlockScript = `if grep -qxF "$2" "$1" 2>/dev/null; then rm -f "$1"; echo released; else echo foreign; fi`

// Lock takes the host's lock for owner (Time defaults to now), running as root with the
// target's Become. When another run holds it, it returns a *LockedError (errors.Is
// ErrLocked) describing the holder; a stale lock is reported, never broken.
func (c *Client) Lock(ctx context.Context, owner LockInfo, opts LockOptions) (*Lock, error) {
	if owner.Time.IsZero() {
		owner.Time = time.Now()
	}
	var b [12]byte
	rand.Read(b[:])
	owner.token = hex.EncodeToString(b[:])
	dir := opts.dir()
	res, err := c.Run(ctx, Script(lockScript, dir, encodeLock(owner)), RunOptions{Become: c.target.Become})
	if err != nil {
		return nil, c.errorf("lock %s: %w", dir, err)
	}
	state, rest, _ := strings.Cut(string(res.Stdout), "\n")
	switch state {
	case "acquired":
		return &Lock{c: c, path: dir + "/lock", tok: "token=" + strconv.Quote(owner.token)}, nil
	case "held":
		holder := decodeLock(rest)
		e := &LockedError{Target: c.target.Name, Holder: holder, Path: dir + "/lock"}
		stale := opts.StaleAfter
		if stale <= 0 {
			stale = 6 * time.Hour
		}
		if me, _ := os.Hostname(); holder.Host == me && holder.PID > 0 && !pidAlive(holder.PID) {
			e.Stale, e.Why = true, fmt.Sprintf("process %d on %s is not running", holder.PID, me)
		} else if age := time.Since(holder.Time); age > stale {
			e.Stale, e.Why = true, fmt.Sprintf("taken %s ago", age.Round(time.Minute))
		}
		return nil, e
	}
	return nil, c.errorf("lock %s: unexpected answer %q", dir, res.Stdout)
}

// Unlock releases the lock if it is still ours (a lock that was force-removed and taken by
// another run is left alone, and reported).
func (l *Lock) Unlock(ctx context.Context) error {
	res, err := l.c.Run(ctx, Script(unlockScript, l.path, l.tok), RunOptions{Become: l.c.target.Become})
	if err != nil {
		return l.c.errorf("unlock: %w", err)
	}
	if strings.TrimSpace(string(res.Stdout)) != "released" {
		return l.c.errorf("unlock: %s is no longer ours (was it force-unlocked?); left in place", l.path)
	}
	return nil
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
		"time=" + strconv.Quote(i.Time.UTC().Format(time.RFC3339Nano)), "token=" + strconv.Quote(i.token),
	}, "\n")
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
		}
	}
	return i
}

// ErrorHost returns the host the error names (see HostError).
func (e *LockedError) ErrorHost() string { return e.Target }
