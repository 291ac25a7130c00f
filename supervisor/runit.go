package supervisor

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// The directories of a runit host: latticepush writes each service's directory under
// RunitSvDir and links it into RunitServiceDir, which the host's runsvdir supervises.
const (
	RunitSvDir      = "/etc/sv"
	RunitServiceDir = "/etc/service"
)

// Runit is runit: a service directory per service (run, check, control/t, log/run),
// supervised once linked into ServiceDir, driven by sv.
type Runit struct {
	SvDir      string // where service directories are written (RunitSvDir)
	ServiceDir string // what runsvdir supervises (RunitServiceDir)
}

var _ Supervisor = Runit{}

// Name is "runit".
func (Runit) Name() string { return "runit" }

func (r Runit) dir(name string) string        { return path.Join(r.SvDir, name) }
func (r Runit) supervised(name string) string { return path.Join(r.ServiceDir, name) }

// Dirs are the service directory and its log directory.
func (r Runit) Dirs(service string) []string {
	return []string{r.dir(service), r.dir(service) + "/log"}
}

// ReloadsDefinitions is false: runsv reads run and check at each start.
func (Runit) ReloadsDefinitions() bool { return false }

// Definition renders the service directory: run, check (with a Check or a ConnectedPort),
// control/t (with a StopSignal) and log/run.
func (r Runit) Definition(header string, svc Service) ([]File, error) {
	var files []File
	script := func(name, body string) {
		content := "#!/bin/sh\n" + header + body
		if strings.HasPrefix(body, "#!") { // the script brings its own interpreter
			i := strings.IndexByte(body, '\n')
			content = body[:i+1] + header + body[i+1:]
		}
		files = append(files, File{Path: r.dir(svc.Name) + "/" + name, Mode: 0o755, Content: []byte(content), Script: true})
	}
	var run strings.Builder
	run.WriteString("exec 2>&1\n")
	if svc.After != "" {
		// A service that needs another one starts after that one's check passes; until then
		// its log says what it waits for (sv's own words: down, not supervised, check failing).
		fmt.Fprintf(&run, "out=$(sv -w 10 start %[1]s) || { echo \"waiting for %[1]s: $out\"; exit 1; }\n", r.dir(svc.After))
	}
	if svc.EnvFile != "" {
		fmt.Fprintf(&run, "set -a\n. %s\nset +a\n", svc.EnvFile)
	}
	if svc.User == "" {
		fmt.Fprintf(&run, "exec %s\n", svc.command())
	} else {
		runitUser(&run, svc)
	}
	script("run", run.String())
	if c := svc.Check; c != nil {
		script("check", fmt.Sprintf(`#!/bin/bash
# Healthy when the monitoring endpoint answers %[3]s with 200.
exec 3<>/dev/tcp/%[1]s/%[2]d || exit 1
printf 'GET %[3]s HTTP/1.0\r\n\r\n' >&3
read -r -t 2 _ code _ <&3 || exit 1
[ "$code" = 200 ]
`, c.Host, c.Port, c.Path))
	}
	if c := svc.ConnectedPort; c != 0 && svc.Check == nil {
		script("check", fmt.Sprintf(`# Up once the process holds an established TCP connection to port %[1]d: it exits when
# it cannot reach that server, so a connection is proof that it started, without waiting.
# sv runs checks with stdout closed: awk fails when it cannot close its stdout.
exec >/dev/null
pid=$(cat supervise/pid 2>/dev/null) && [ -n "$pid" ] && [ "$pid" != 0 ] || exit 1
socks=" $(ls -l /proc/$pid/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | tr '\n' ' ')"
[ "$socks" != " " ] || exit 1
cat /proc/$pid/net/tcp /proc/$pid/net/tcp6 2>/dev/null |
  awk -v port=":%04[1]X" -v socks="$socks" '$4 == "01" && substr($3, length($3) - 4) == port && index(socks, " " $10 " ") { ok = 1 }
  END { exit !ok }'
`, c))
	}
	if svc.StopSignal != "" {
		why := svc.StopWhy[r.Name()]
		if why == "" {
			why = "runsv runs this instead of sending SIGTERM (sv stop, sv restart).\nIf it fails (no process), runsv sends SIGTERM itself."
		}
		var b strings.Builder
		comment(&b, why)
		fmt.Fprintf(&b, "exec kill -%s \"$(cat supervise/pid)\"\n", svc.StopSignal)
		script("control/t", b.String())
	}
	script("log/run", fmt.Sprintf(`# The service's output, timestamped, in /var/log/%[1]s/current.
mkdir -p /var/log/%[1]s
exec svlogd -tt /var/log/%[1]s
`, svc.Name))
	return files, nil
}

// runitUser ends a run script that starts the service as its own user: what it writes is
// created and handed to the user first (the service is not running: this is its start), then
// chpst drops to the user and its group.
func runitUser(run *strings.Builder, svc Service) {
	if svc.RuntimeDir != "" {
		fmt.Fprintf(run, "install -d -m 0755 -o %[1]s -g %[1]s /run/%[2]s || exit\n", svc.User, svc.RuntimeDir)
	}
	if len(svc.StateDirs) > 0 {
		fmt.Fprintf(run, "mkdir -p %s || exit\n", strings.Join(svc.StateDirs, " "))
	}
	if len(svc.StateFiles) > 0 {
		fmt.Fprintf(run, "touch %s || exit\n", strings.Join(svc.StateFiles, " "))
	}
	if owned := svc.owned(); owned != "" {
		fmt.Fprintf(run, "chown -R %[1]s:%[1]s %[2]s || exit\n", svc.User, owned)
	}
	fmt.Fprintf(run, "exec chpst -u %[1]s:%[1]s %[2]s\n", svc.User, svc.command())
}

// StateScript reads runsv's supervise files, and what the supervised path is: the link's
// target, or the path itself when it is a directory of its own (svc.<name>.def). Only a
// link's readlink starts a process. A supervised service with a down file does not start with
// the host: it is not enabled.
func (r Runit) StateScript() string {
	return `d=` + r.ServiceDir + `/$1; r=0; p=""
if [ -e "$d" ] && [ ! -e "$d/down" ]; then echo "svc.$1.enabled=1"; else echo "svc.$1.enabled=0"; fi
if [ -L "$d" ]; then echo "svc.$1.def=$(readlink "$d")"; elif [ -d "$d" ]; then echo "svc.$1.def=$d"; fi
if [ -r "$d/supervise/stat" ] && read -r st < "$d/supervise/stat" && read -r p < "$d/supervise/pid"; then
  case $st in run*) [ -n "$p" ] && [ -d "/proc/$p" ] && r=1 ;; esac
  case $st in run*"want down"*) [ "$r" = 1 ] && echo "svc.$1.stopping=1" ;; esac
fi`
}

// Commands drive sv. Services are named by their absolute supervised directory, so SVDIR on
// the host does not matter; `sv -w` waits for the state (and the check script, if any).
func (r Runit) Commands(wait time.Duration) Commands { return runitCommands{r: r, wait: seconds(wait)} }

type runitCommands struct {
	r    Runit
	wait string
}

// runitStart brings the service up and waits until it runs and its check script passes
// (without one: until the same process has run for a second). A service that keeps exiting
// right after start (a config the server refuses at start, a port already taken) is stopped
// and reported after its third new pid, or after 3 s of runsv waiting to restart it, instead
// of after the whole wait, quoting the last lines of its log. Once orphaned (sessionGuard) it
// stops watching: the pids a later run's restarts make are not its to count. $1 service dir,
// $2 seconds.
const runitStart = sessionGuard + `sv up "$1" || exit
last=""; read -r last 2>/dev/null <"$1/supervise/pid"; restarts=0; i=0; stable=""; up=0; waiting=0
while :; do
  if orphaned; then exit 125; fi
  st=$(sv status "$1" 2>/dev/null)
  case $st in
  run:*)
    if [ -x "$1/check" ]; then
      (cd "$1" && ./check >/dev/null 2>&1) && exit 0
    else
      # Without a check script, "run" is proof only once the same process lasted a second.
      p=""; read -r p 2>/dev/null <"$1/supervise/pid"
      if [ "$p" = "$stable" ]; then up=$((up+1)); else stable=$p; up=0; fi
      [ "$up" -ge 10 ] && exit 0
    fi ;;
  down:*"want up"*) waiting=$((waiting+1)) ;; # runsv is between restarts of a dying process
  down:*) sv up "$1" ;; # runsv can drop a command sent during its restart delay: repeat it
  esac
  pid=""; read -r pid 2>/dev/null <"$1/supervise/pid"
  if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$last" ]; then restarts=$((restarts+1)); last=$pid; fi
  if [ "$restarts" -ge 3 ] || [ "$waiting" -ge 30 ]; then
    sv down "$1" >/dev/null 2>&1
    j=0; while sv status "$1" 2>/dev/null | grep -q 'want up' && [ "$j" -lt 50 ]; do j=$((j+1)); sleep 0.1; done
    n=${1##*/}; l="/var/log/$n/current"
    if [ -r "$l" ]; then
      echo "$1 keeps exiting right after it starts; the last lines of $l:" >&2; tail -n 10 "$l" >&2
    else
      echo "$1 keeps exiting right after it starts; its log says why" >&2
    fi
    exit 1
  fi
  i=$((i+1)); if [ "$i" -gt $(($2*10)) ]; then echo "$1 not up (or its check not passing) within $2s" >&2; exit 1; fi
  sleep 0.1
done`

// runitRestart restarts and then waits for a new pid: `sv -w restart` alone can report ok
// for a process started within the same second (its timestamps have one-second
// granularity), before the restart happened. `sv check` then runs the service's check
// script, if any. $1 service dir, $2 seconds.
const runitRestart = `old=""; read -r old 2>/dev/null <"$1/supervise/pid"
sv -w "$2" restart "$1" || exit
i=0; while :; do
  new=""; read -r new 2>/dev/null <"$1/supervise/pid"
  if [ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ]; then break; fi
  i=$((i+1)); if [ "$i" -gt $(($2*10)) ]; then echo "$1 did not restart within $2s (pid still $old)" >&2; exit 1; fi
  sleep 0.1
done
sv -w "$2" check "$1"`

// runitWake defines wake, which has the runsvdir that supervises directory $1 look at it
// now instead of at its next rescan (every five seconds). runsvdir started with a log
// argument after the directory, as Debian's /etc/runit/2 starts it, makes a pipe its own
// standard error and its runsv processes', reads it into its process title, and wakes on
// every byte written to it; a NUL byte does not show there. Woken, it looks at the directory
// if it last looked a second ago or more, waiting one second more when the directory changed
// within the current second: a new link is picked up 1-2 s after it is made rather than up
// to 5. A runsvdir without a log argument is not written to (its standard error may be a
// terminal, a file or a container's log); its rescan is waited for.
const runitWake = `wake() {
  for lp_c in $(grep -lx runsvdir /proc/[0-9]*/comm 2>/dev/null); do
    lp_r=${lp_c%/comm}
    case $(tr '\0' '\n' <"$lp_r/cmdline" 2>/dev/null) in
    *"
$1
"?*) (printf '\0' >"$lp_r/fd/2") </dev/null >/dev/null 2>&1 & ;;
    esac
  done
}
`

// runitLingering defines lingering, which waits until no runsv runs service directory $1
// while it is linked nowhere, waking the runsvdir of directory $2 (runitWake), for at most $3
// seconds. Such a runsv is left from an earlier link of the directory. Once runsvdir sees the
// link go it tells that runsv to exit, which it does only once its log service has, and its
// log service holds on while any process still has the service's output open. Until then it
// answers sv as if it supervised the directory, but it starts nothing any more: it closed the
// pipe the service's output goes to, so each start fails before the run script runs, without
// a line in the log. And runsvdir does not always tell it: in the lab a runsv of a directory
// whose link was gone for 90 s still ran, its service and its log service both down. So after
// a second lingering tells it to exit itself (sv exit): linked nowhere, it supervises nothing
// runsvdir knows of. Linking the directory again must wait for it to go.
const runitLingering = `lingering() {
  [ -p "$1/supervise/ok" ] || return 0 # no runsv ever ran it: nothing to ask sv
  lg_i=0
  while sv status "$1" >/dev/null 2>&1; do
    [ $((lg_i % 5)) -eq 0 ] && wake "$2"
    [ $((lg_i % 20)) -eq 10 ] && sv exit "$1" >/dev/null 2>&1
    lg_i=$((lg_i+1))
    if [ "$lg_i" -gt $(($3*10)) ]; then
      echo "$1 is linked nowhere, yet a runsv still runs it ${3}s on, though told to exit: it exits only once its log service does (is the service's output still open in another process?): $(sv status "$1" 2>&1)" >&2
      for lg_p in /proc/[0-9]*; do
        [ "$(readlink "$lg_p/cwd" 2>/dev/null)" = "$1" ] && read -r lg_c 2>/dev/null <"$lg_p/comm" && [ "$lg_c" = runsv ] || continue
        read -r lg_s 2>/dev/null <"$lg_p/stat"; lg_s=${lg_s##*) }
        echo "runsv ${lg_p#/proc/}: state ${lg_s%% *}, waiting in $(cat "$lg_p/wchan" 2>/dev/null)" >&2
      done
      return 1
    fi
    sleep 0.1
  done
}
`

// runitSupervise writes a down file into the service directory (and its log directory, when
// it has one), links it into the supervised directory and wakes runsvdir (runitWake) without
// waiting for it: runsv then holds both down. A service already linked is left as it is; a
// runsv left from an earlier link of the directory is waited for first (runitLingering).
// $1 service dir, $2 supervised link, $3 seconds.
const runitSupervise = runitWake + runitLingering + `if [ -L "$2" ] || [ -e "$2" ]; then exit 0; fi
[ -d "$1" ] || { echo "$1 does not exist: its files were not staged" >&2; exit 1; }
lingering "$1" "${2%/*}" "$3" || exit
: > "$1/down" || exit
if [ -d "$1/log" ]; then : > "$1/log/down" || exit; fi
ln -s -- "$1" "$2" || exit
wake "${2%/*}"
exit 0`

// runitEnable links the service directory into the supervised directory (once a runsv left
// from an earlier link of it is gone, runitLingering), waits until runsv supervises it,
// waking runsvdir every half second meanwhile (runitWake), and removes the down files
// Supervise wrote: the service then starts with the host, and its log service (held down
// with it) runs. $1 service dir, $2 supervised link, $3 seconds.
const runitEnable = runitWake + runitLingering + `if [ ! -L "$2" ] && [ ! -e "$2" ]; then
  lingering "$1" "${2%/*}" "$3" || exit
  ln -s -- "$1" "$2" || exit
fi
i=0; until sv status "$2" >/dev/null 2>&1; do
  [ $((i % 5)) -eq 0 ] && wake "${2%/*}"
  i=$((i+1)); if [ "$i" -gt $(($3*10)) ]; then echo "runsvdir did not pick up $2 within $3s" >&2; exit 1; fi
  sleep 0.1
done
rm -f -- "$1/down"
if [ -e "$1/log/down" ]; then rm -f -- "$1/log/down"; sv up "$2/log" || exit; fi
exit 0`

// runitDisable stops the service, removes its supervised link and tells its runsv to exit
// (runsvdir would at its next look, but does not always: runitLingering), and removes the down
// files Supervise wrote. $1 supervised link, $2 seconds, $3 service dir.
const runitDisable = `if [ -L "$1" ] || [ -e "$1" ]; then sv -w "$2" down "$1" >/dev/null 2>&1; rm -f -- "$1"; sv exit "$3" >/dev/null 2>&1; fi
rm -f -- "$3/down" "$3/log/down"`

// runitGracefulStop tells runsv not to restart the service (`sv once`), sends the signal to
// the supervised pid, waits for it to exit, then marks the service down. A process that is
// already gone (one that exits right after start) is fine: the service just goes down. Once
// orphaned (sessionGuard) it stops waiting and leaves the service as it is: `sv once` already
// keeps runsv from restarting it, and a later run may have asked for it up since.
// $1 service dir, $2 signal, $3 seconds.
const runitGracefulStop = sessionGuard + `pid=""; read -r pid 2>/dev/null <"$1/supervise/pid"
if [ -z "$pid" ] || [ "$pid" = 0 ]; then exec sv -w "$3" down "$1"; fi
sv once "$1" || exit
if ! kill -s "$2" "$pid"; then
  kill -0 "$pid" 2>/dev/null && exit 1
fi
i=0; while kill -0 "$pid" 2>/dev/null; do
  if orphaned; then exit 125; fi
  i=$((i+1)); if [ "$i" -gt $(($3*10)) ]; then echo "$1 (pid $pid) still running $3s after SIG$2" >&2; exit 124; fi
  sleep 0.1
done
if orphaned; then exit 125; fi
sv -w "$3" down "$1"`

// runitIsActive exits 0 when sv says the service runs. $1 service dir.
const runitIsActive = `case $(sv status "$1" 2>/dev/null) in run:*) exit 0 ;; esac; exit 1`

func (c runitCommands) Start(name string) []string {
	return Script(runitStart, c.r.supervised(name), c.wait)
}
func (c runitCommands) Stop(name string) []string {
	return []string{"sv", "-w", c.wait, "down", c.r.supervised(name)}
}
func (c runitCommands) Restart(name string) []string {
	return Script(runitRestart, c.r.supervised(name), c.wait)
}

// Reload sends SIGHUP (`sv hup`).
func (c runitCommands) Reload(name string) []string {
	return []string{"sv", "hup", c.r.supervised(name)}
}
func (c runitCommands) Enable(name string) []string {
	return Script(runitEnable, c.r.dir(name), c.r.supervised(name), c.wait)
}
func (c runitCommands) Disable(name string) []string {
	return Script(runitDisable, c.r.supervised(name), c.wait, c.r.dir(name))
}

// Supervise links the service held down (EarlyCommands).
func (c runitCommands) Supervise(name string) []string {
	return Script(runitSupervise, c.r.dir(name), c.r.supervised(name), c.wait)
}

// DaemonReload is nil: runsvdir rescans its directory by itself.
func (runitCommands) DaemonReload() []string { return nil }
func (c runitCommands) IsActive(name string) []string {
	return Script(runitIsActive, c.r.supervised(name))
}
func (c runitCommands) GracefulStop(name, signal string) []string {
	return Script(runitGracefulStop, c.r.supervised(name), signal, c.wait)
}
