package supervisor

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SystemdDir is where latticepush writes systemd units. A unit here overrides one of the same
// name that a package installed under /lib/systemd/system.
const SystemdDir = "/etc/systemd/system"

// Systemd is systemd: one unit file per service, driven by systemctl.
type Systemd struct{}

var _ Supervisor = Systemd{}

// Name is "systemd".
func (Systemd) Name() string { return "systemd" }

// Dirs is SystemdDir.
func (Systemd) Dirs(string) []string { return []string{SystemdDir} }

// ReloadsDefinitions is true: systemd reads a changed unit file only after daemon-reload.
func (Systemd) ReloadsDefinitions() bool { return true }

// Definition renders <SystemdDir>/<name>.service.
func (Systemd) Definition(header string, svc Service) ([]File, error) {
	var b strings.Builder
	b.WriteString(header)
	after := "network-online.target"
	if svc.After != "" {
		// After= also orders the stop: this service stops before the one it needs. Wants=, not
		// Requires=: a restart of that service does not restart this one.
		after += " " + svc.After + ".service"
	}
	fmt.Fprintf(&b, "[Unit]\nDescription=%s\nAfter=%s\nWants=%s\n", svc.Description, after, after)
	if svc.KeepTrying {
		comment(&b, svc.KeepTryingWhy)
		b.WriteString("StartLimitIntervalSec=0\n")
	}
	b.WriteString("\n[Service]\nType=simple\n")
	if svc.EnvFile != "" {
		fmt.Fprintf(&b, "EnvironmentFile=%s\n", svc.EnvFile)
	}
	fmt.Fprintf(&b, "ExecStart=%s\n", svc.command())
	if svc.Reload != nil {
		b.WriteString("# Braced: systemd substitutes a bare $MAINPID only where it is a word of its own.\n")
		fmt.Fprintf(&b, "ExecReload=%s\n", strings.ReplaceAll(strings.Join(svc.Reload, " "), PIDWord, "${MAINPID}"))
	}
	stop := fmt.Sprintf("TimeoutStopSec=%d\n", int(svc.StopTimeout/time.Second))
	if svc.StopSignal != "" {
		comment(&b, svc.StopWhy[Systemd{}.Name()])
		fmt.Fprintf(&b, "KillSignal=SIG%s\n%s", svc.StopSignal, stop)
	}
	comment(&b, svc.RestartWhy)
	restart := "on-failure"
	if svc.RestartAlways {
		restart = "always"
	}
	fmt.Fprintf(&b, "Restart=%s\nRestartSec=%d\n", restart, int(svc.RestartDelay/time.Second))
	if svc.StopSignal == "" {
		b.WriteString(stop)
	}
	b.WriteString("LimitNOFILE=65536\n")
	if svc.User != "" {
		systemdUser(&b, svc)
	} else if svc.Hardened {
		b.WriteString("NoNewPrivileges=yes\nPrivateTmp=yes\nProtectHome=yes\nProtectSystem=full\n")
	}
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	return []File{{Path: SystemdDir + "/" + svc.Name + ".service", Mode: 0o644, Content: []byte(b.String())}}, nil
}

// systemdUser writes the settings of a service that runs as its own user: User= and Group=,
// what it may write, no new privileges and no capabilities; Hardened adds a read-only system
// (but for what it writes), no home and a private /tmp.
func systemdUser(b *strings.Builder, svc Service) {
	fmt.Fprintf(b, "User=%[1]s\nGroup=%[1]s\n", svc.User)
	if svc.RuntimeDir != "" {
		fmt.Fprintf(b, "# /run/%[1]s, owned by %[2]s, made before each start and removed after the stop.\nRuntimeDirectory=%[1]s\n", svc.RuntimeDir, svc.User)
	}
	if owned := svc.owned(); owned != "" {
		b.WriteString("# Handed to the user before each start, with root's rights ('+'), while the service is not running.\n")
		if len(svc.StateDirs) > 0 {
			fmt.Fprintf(b, "ExecStartPre=+/bin/mkdir -p %s\n", strings.Join(svc.StateDirs, " "))
		}
		if len(svc.StateFiles) > 0 {
			fmt.Fprintf(b, "ExecStartPre=+/usr/bin/touch %s\n", strings.Join(svc.StateFiles, " "))
		}
		fmt.Fprintf(b, "ExecStartPre=+/bin/chown -R %[1]s:%[1]s %[2]s\nReadWritePaths=%[2]s\n", svc.User, owned)
	}
	b.WriteString("NoNewPrivileges=yes\nCapabilityBoundingSet=\n")
	if svc.Hardened {
		b.WriteString("PrivateTmp=yes\nProtectHome=yes\nProtectSystem=strict\n")
	}
}

// comment writes text as comment lines; nothing when it is empty.
func comment(b *strings.Builder, text string) {
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		b.WriteString("# " + line + "\n")
	}
}

// StateScript reads the unit's state with systemctl, and what systemd runs for it: the unit
// file in effect (FragmentPath: one in another directory may win over latticepush's), the
// drop-ins that apply to it (not those masked by a link to /dev/null, which systemctl still
// lists) and its ExecStart, as svc.<name>.def, .dropins and .execstart.
func (Systemd) StateScript() string {
	return `if systemctl is-enabled --quiet "$1.service" 2>/dev/null; then echo "svc.$1.enabled=1"; else echo "svc.$1.enabled=0"; fi
r=0; p=""
if systemctl is-active --quiet "$1.service" 2>/dev/null; then r=1; p=$(systemctl show -p MainPID --value "$1.service" 2>/dev/null); fi
systemctl show -p FragmentPath,DropInPaths,ExecStart "$1.service" 2>/dev/null | while IFS= read -r l; do
  case $l in
  FragmentPath=?*) echo "svc.$1.def=${l#FragmentPath=}" ;;
  ExecStart=?*) echo "svc.$1.execstart=${l#ExecStart=}" ;;
  DropInPaths=?*) # a drop-in masked by a link to /dev/null does not apply
    d=""; for f in ${l#DropInPaths=}; do [ "$(readlink -f -- "$f")" = /dev/null ] || d="$d $f"; done
    [ -z "$d" ] || echo "svc.$1.dropins=${d# }" ;;
  esac
done`
}

// Commands drive systemctl.
func (Systemd) Commands(wait time.Duration) Commands { return systemdCommands{wait: seconds(wait)} }

type systemdCommands struct{ wait string }

// systemdState is the shell shared by the systemd scripts. state reads the unit's state into
// $as (ActiveState), $ss (SubState), $mp (MainPID), $nr (NRestarts) and $rs (Result), from
// one systemctl show whose output it keeps in $out. exited keeps that output while the main
// process is down (how it ended: once systemd restarted it, the new process's ExecMain*
// replace it; from the same call, so it cannot be of the next process). fail prints why the unit
// is not running, then that (or, without it, what systemd says now) and the unit's last
// journal lines, and exits 1; with a third argument "stop" it then stops the unit, so
// systemd stops restarting a process that cannot run.
const systemdState = `state() {
  out=$(systemctl show -p ` + showProps + ` -- "$1") || exit
  as=; ss=; mp=; nr=; rs=
  while IFS='=' read -r k v; do
    case $k in ActiveState) as=$v ;; SubState) ss=$v ;; MainPID) mp=$v ;; NRestarts) nr=$v ;; Result) rs=$v ;; esac
  done <<EOF
$out
EOF
}
exited() { last=$out; }
fail() {
  echo "$1: $2" >&2
  echo "systemctl show -p ` + showProps + ` $1:" >&2
  if [ -n "$last" ]; then echo "$last" >&2; else systemctl show -p ` + showProps + ` -- "$1" >&2; fi
  echo "journalctl -u $1 -n ` + journalLines + ` --no-pager:" >&2
  journalctl -u "$1" -n ` + journalLines + ` --no-pager >&2 2>&1
  if [ "$3" = stop ]; then systemctl stop -- "$1" >/dev/null 2>&1; fi
  exit 1
}
`

// showProps are the properties a failure quotes: how the main process ended, how often
// systemd restarted it, and where the unit is now.
const showProps = "Result,ExecMainCode,ExecMainStatus,NRestarts,ActiveState,SubState,MainPID"

// journalLines is how many of the unit's last journal lines a failure quotes.
const journalLines = "20"

// systemdSettle waits until the unit runs one main process, other than $3, for a second: a
// Type=simple unit counts as started as soon as its process is forked, so `systemctl start`
// succeeding proves nothing about a process that exits right after (a port already taken).
// A unit that failed, went inactive, or exited again after systemd restarted it is reported
// and stopped (while it waits for its next restart, so the journal's last lines are its
// exit), as is one not running steadily within the wait. $1 unit, $2 seconds,
// $3 the main pid that must not count (the one before a restart), or empty.
const systemdSettle = sessionGuard + `settle() {
  state "$1"; n0=${nr:-0}; stable=""; up=0; i=0; last=""
  while :; do
    if orphaned; then exit 125; fi
    state "$1"
    case $ss in auto-restart|failed|dead|exited) exited "$1" ;; esac
    case $as in
    active)
      if [ "$ss" = running ] && [ -n "$mp" ] && [ "$mp" != 0 ] && [ "$mp" != "$3" ]; then
        if [ "$mp" = "$stable" ]; then up=$((up+1)); else stable=$mp; up=0; fi
        [ "$up" -ge 10 ] && return 0
      fi ;;
    failed) fail "$1" "failed right after it started (Result=$rs)" stop ;;
    inactive) fail "$1" "exited right after it started (Result=$rs)" stop ;;
    esac
    r=$((${nr:-0} - n0))
    if [ "$r" -ge 2 ] || { [ "$r" -ge 1 ] && [ "$ss" = auto-restart ]; }; then
      fail "$1" "keeps exiting right after it starts: it exited again after systemd restarted it ($r restart(s))" stop
    fi
    i=$((i+1)); if [ "$i" -gt $(($2*10)) ]; then fail "$1" "not running steadily within $2s" stop; fi
    sleep 0.1
  done
}
`

// systemdStart starts the unit and waits for it to settle. $1 unit, $2 seconds.
const systemdStart = systemdState + systemdSettle + `systemctl start -- "$1" || fail "$1" "systemctl start failed" stop
settle "$1" "$2" ""`

// systemdRestart restarts the unit and waits for a new main process to settle. $1 unit,
// $2 seconds.
const systemdRestart = systemdState + systemdSettle + `state "$1"; old=$mp
systemctl restart -- "$1" || fail "$1" "systemctl restart failed" stop
settle "$1" "$2" "$old"`

// systemdReload runs the unit's ExecReload and then checks for half a second that the same
// main process still runs and systemd did not restart it: a reload command that kills the
// process (a signal it does not handle) leaves systemd restarting it, which a digest check
// alone would take for a reload. $1 unit.
const systemdReload = systemdState + `state "$1"; pid=$mp; n0=${nr:-0}
systemctl reload -- "$1" || fail "$1" "systemctl reload failed"
i=0; while [ "$i" -lt 5 ]; do
  sleep 0.1; state "$1"
  if [ "$mp" != "$pid" ] || [ "${nr:-0}" != "$n0" ] || [ "$as" != active ]; then
    fail "$1" "the reload restarted it (MainPID $pid -> $mp, NRestarts $n0 -> ${nr:-0}, $as/$ss): its ExecReload must make the running process re-read its configuration"
  fi
  i=$((i+1))
done`

// systemdGracefulStop stops the unit with the given signal. When the unit's KillSignal is that
// signal (as latticepush renders it), `systemctl stop` sends it and waits up to the unit's
// TimeoutStopSec, then kills; a stop that timed out is reported. Otherwise the script signals
// the main process itself, waits for it to exit, then stops the unit so systemd does not
// restart it. $1 unit, $2 signal, $3 seconds.
const systemdGracefulStop = sessionGuard + `ks=$(systemctl show -p KillSignal --value -- "$1") || exit
if [ -n "$ks" ] && [ "$(kill -l "$ks" 2>/dev/null)" = "$2" ]; then
  systemctl stop -- "$1" || exit
  if [ "$(systemctl show -p Result --value -- "$1")" = timeout ]; then
    echo "$1 did not exit within its TimeoutStopSec after SIG$2: systemd killed it" >&2; exit 124
  fi
  exit 0
fi
pid=$(systemctl show -p MainPID --value -- "$1") || exit
if [ -z "$pid" ] || [ "$pid" = 0 ]; then exec systemctl stop -- "$1"; fi
kill -s "$2" "$pid" || exit
i=0; while kill -0 "$pid" 2>/dev/null; do
  if orphaned; then exit 125; fi
  i=$((i+1)); if [ "$i" -gt $(($3*10)) ]; then echo "$1 (pid $pid) still running $3s after SIG$2" >&2; exit 124; fi
  sleep 0.1
done
if orphaned; then exit 125; fi
systemctl stop -- "$1"`

// Start starts the unit and returns once one main process has run for a second; a unit
// that does not stay up is reported with its state and journal, and stopped.
func (c systemdCommands) Start(name string) []string { return Script(systemdStart, name, c.wait) }
func (systemdCommands) Stop(name string) []string    { return []string{"systemctl", "stop", "--", name} }

// Restart restarts the unit and returns once a new main process has run for a second.
func (c systemdCommands) Restart(name string) []string {
	return Script(systemdRestart, name, c.wait)
}

// Reload runs ExecReload and fails when systemd restarted the service instead.
func (systemdCommands) Reload(name string) []string { return Script(systemdReload, name) }

// Enable makes the unit start at boot (multi-user.target wants it).
func (systemdCommands) Enable(name string) []string {
	return []string{"systemctl", "enable", "--", name}
}

// systemdDisable stops the unit and removes what enable made. When the unit file is gone
// already (a rolled-back first start restores "no file" before it disables),
// systemctl disable refuses, so the links enable made are removed here. $1 unit.
const systemdDisable = `systemctl disable --now -- "$1" 2>/dev/null && exit 0
systemctl stop -- "$1" 2>/dev/null
for l in ` + SystemdDir + `/*.wants/"$1".service; do
  if [ -L "$l" ]; then rm -f -- "$l" || exit; fi
done
systemctl daemon-reload || exit
if systemctl is-active --quiet -- "$1"; then echo "$1 still runs after systemctl stop" >&2; exit 1; fi`

// Disable stops the unit and undoes Enable.
func (systemdCommands) Disable(name string) []string { return Script(systemdDisable, name) }
func (systemdCommands) DaemonReload() []string       { return []string{"systemctl", "daemon-reload"} }
func (systemdCommands) IsActive(name string) []string {
	return []string{"systemctl", "is-active", "--quiet", "--", name}
}

func (c systemdCommands) GracefulStop(name, signal string) []string {
	return Script(systemdGracefulStop, name, signal, c.wait)
}

// UnitState is what `systemctl show` says of a unit: the properties a failure quotes, and the
// main pid.
type UnitState struct {
	ActiveState, SubState string
	// Result is how the unit last ended ("success", "exit-code", "signal", "timeout", ...).
	Result string
	// ExecMainCode is how the main process ended (1 exited, 2 killed, 3 dumped core), and
	// ExecMainStatus its exit status or signal number.
	ExecMainCode, ExecMainStatus int
	MainPID                      int
	// NRestarts counts systemd's automatic restarts since the unit was last started by hand.
	NRestarts int
}

// ShowArgv is the `systemctl show` command line whose output ParseShow reads.
func ShowArgv(unit string) []string {
	return []string{"systemctl", "show", "-p", showProps, "--", unit}
}

// ParseShow reads the KEY=VALUE lines of `systemctl show`; properties it does not know are
// ignored, a number that does not parse is an error naming the property.
func ParseShow(out []byte) (UnitState, error) {
	var st UnitState
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		var num *int
		switch k {
		case "ActiveState":
			st.ActiveState = v
		case "SubState":
			st.SubState = v
		case "Result":
			st.Result = v
		case "ExecMainCode":
			num = &st.ExecMainCode
		case "ExecMainStatus":
			num = &st.ExecMainStatus
		case "MainPID":
			num = &st.MainPID
		case "NRestarts":
			num = &st.NRestarts
		}
		if num != nil && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return st, fmt.Errorf("systemctl show: %s=%s is not a number", k, quoteClip(v, 40))
			}
			*num = n
		}
	}
	return st, nil
}

// quoteClip quotes s for a message, cut after its first n bytes: a value a host printed can
// be of any length, and a message holds only enough of it to recognise it.
func quoteClip(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + fmt.Sprintf("… (%d bytes)", len(s))
}

// seconds is d in whole seconds, as a shell argument.
func seconds(d time.Duration) string { return fmt.Sprint(int(d.Round(time.Second) / time.Second)) }
