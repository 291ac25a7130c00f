package service

import (
	"context"
	"path"
	"strings"

	"github.com/latticepush/latticepush/remote"
)

// Runit drives sv. Services are named by their absolute supervised directory
// (<ServiceDir>/<name>), so SVDIR on the host does not matter. `sv -w` makes start, stop
// and restart wait for the state (and the service's check script, if any).
type Runit struct{ base }

var _ Manager = (*Runit)(nil)

func (r *Runit) dir(name string) string { return path.Join(r.opt.ServiceDir, name) }

func (r *Runit) sv(ctx context.Context, verb, name string) error {
	return r.do(ctx, "sv", "-w", r.waitSeconds(), verb, r.dir(name))
}

// runitStart brings the service up and waits until it runs and its check script passes
// (without one: until the same process has run for a second). A service that keeps exiting
// right after start (a config the server refuses at start, a port already taken) is stopped
// and reported after its third new pid, or after 3 s of runsv waiting to restart it, instead
// of after the whole wait. $1 service dir, $2 seconds.
const runitStart = `sv up "$1" || exit
last=$(cat "$1/supervise/pid" 2>/dev/null); restarts=0; i=0; stable=""; up=0; waiting=0
while :; do
  st=$(sv status "$1" 2>/dev/null)
  case $st in
  run:*)
    if [ -x "$1/check" ]; then
      (cd "$1" && ./check >/dev/null 2>&1) && exit 0
    else
      # Without a check script, "run" is proof only once the same process lasted a second.
      p=$(cat "$1/supervise/pid" 2>/dev/null)
      if [ "$p" = "$stable" ]; then up=$((up+1)); else stable=$p; up=0; fi
      [ "$up" -ge 10 ] && exit 0
    fi ;;
  down:*"want up"*) waiting=$((waiting+1)) ;; # runsv is between restarts of a dying process
  down:*) sv up "$1" ;; # runsv can drop a command sent during its restart delay: repeat it
  esac
  pid=$(cat "$1/supervise/pid" 2>/dev/null)
  if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$last" ]; then restarts=$((restarts+1)); last=$pid; fi
  if [ "$restarts" -ge 3 ] || [ "$waiting" -ge 30 ]; then
    sv down "$1" >/dev/null 2>&1
    j=0; while sv status "$1" 2>/dev/null | grep -q 'want up' && [ "$j" -lt 50 ]; do j=$((j+1)); sleep 0.1; done
    echo "$1 keeps exiting right after it starts; its log says why" >&2; exit 1
  fi
  i=$((i+1)); if [ "$i" -gt $(($2*10)) ]; then echo "$1 not up (or its check not passing) within $2s" >&2; exit 1; fi
  sleep 0.1
done`

// Start brings the service up and waits for it (and its check script) to pass; a crash loop
// fails fast (see runitStart).
func (r *Runit) Start(ctx context.Context, name string) error {
	return r.do(ctx, remote.Script(runitStart, r.dir(name), r.waitSeconds())...)
}

// Stop runs `sv -w N down`.
func (r *Runit) Stop(ctx context.Context, name string) error { return r.sv(ctx, "down", name) }

// runitRestart restarts and then waits for a new pid: `sv -w restart` alone can report ok
// for a process started within the same second (its timestamps have one-second
// granularity), before the restart happened. `sv check` then runs the service's check
// script, if any. $1 service dir, $2 seconds.
const runitRestart = `old=$(cat "$1/supervise/pid" 2>/dev/null)
sv -w "$2" restart "$1" || exit
i=0; while :; do
  new=$(cat "$1/supervise/pid" 2>/dev/null)
  if [ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ]; then break; fi
  i=$((i+1)); if [ "$i" -gt $(($2*10)) ]; then echo "$1 did not restart within $2s (pid still $old)" >&2; exit 1; fi
  sleep 0.1
done
sv -w "$2" check "$1"`

// Restart restarts the service and returns once a new process runs (and passes the
// service's check script, if it has one).
func (r *Runit) Restart(ctx context.Context, name string) error {
	return r.do(ctx, remote.Script(runitRestart, r.dir(name), r.waitSeconds())...)
}

// Reload sends SIGHUP (`sv hup`); there is nothing to wait for.
func (r *Runit) Reload(ctx context.Context, name string) error {
	return r.do(ctx, "sv", "hup", r.dir(name))
}

// DaemonReload is a no-op: runsvdir rescans its directory by itself.
func (r *Runit) DaemonReload(context.Context) error { return nil }

// IsActive runs `sv status` and reports whether it says "run:".
func (r *Runit) IsActive(ctx context.Context, name string) (bool, error) {
	res, err := r.run(ctx, "sv", "status", r.dir(name))
	if exited(err) {
		return false, nil
	}
	return err == nil && strings.HasPrefix(string(res.Stdout), "run:"), err
}

// runitEnable links <SvDir>/<name> into <ServiceDir> and waits until runsv supervises it.
// $1 available dir, $2 supervised link, $3 seconds.
const runitEnable = `[ -L "$2" ] || [ -e "$2" ] || ln -s -- "$1" "$2" || exit
i=0; until sv status "$2" >/dev/null 2>&1; do
  i=$((i+1)); if [ "$i" -gt $(($3*10)) ]; then echo "runsvdir did not pick up $2 within $3s" >&2; exit 1; fi
  sleep 0.1
done`

// runitDisable stops the service and removes its supervised link; runsv then exits.
// $1 supervised link, $2 seconds.
const runitDisable = `if [ -L "$1" ] || [ -e "$1" ]; then sv -w "$2" down "$1" >/dev/null 2>&1; rm -f -- "$1"; fi`

// Disable stops the service and unlinks it from the supervised directory.
func (r *Runit) Disable(ctx context.Context, name string) error {
	return r.do(ctx, remote.Script(runitDisable, r.dir(name), r.waitSeconds())...)
}

// Enable links the service into the supervised directory and waits for runsv.
func (r *Runit) Enable(ctx context.Context, name string) error {
	return r.do(ctx, remote.Script(runitEnable, path.Join(r.opt.SvDir, name), r.dir(name), r.waitSeconds())...)
}

// runitLameDuck tells runsv not to restart the service (`sv once`), signals lame duck to
// the supervised pid, waits for it to exit, then marks the service down. A process that is
// already gone (one that exits right after start) is fine: the service just goes down.
// $1 service dir, $2 nats-server, $3 seconds.
const runitLameDuck = `pid=$(cat "$1/supervise/pid" 2>/dev/null)
if [ -z "$pid" ] || [ "$pid" = 0 ]; then exec sv -w "$3" down "$1"; fi
sv once "$1" || exit
if ! "$2" --signal ldm="$pid"; then
  kill -0 "$pid" 2>/dev/null && exit 1
fi
i=0; while kill -0 "$pid" 2>/dev/null; do
  i=$((i+1)); if [ "$i" -gt $(($3*10)) ]; then echo "nats-server $pid still running after $3s of lame duck" >&2; exit 124; fi
  sleep 0.1
done
sv -w "$3" down "$1"`

// LameDuckStop is `sv once`, lame duck to the supervised pid, wait, `sv down`.
func (r *Runit) LameDuckStop(ctx context.Context, name, natsServer string) error {
	return r.do(ctx, remote.Script(runitLameDuck, r.dir(name), natsServer, r.waitSeconds())...)
}
