package supervisor

import (
	"fmt"
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
	if svc.Hardened {
		b.WriteString("NoNewPrivileges=yes\nPrivateTmp=yes\nProtectHome=yes\nProtectSystem=full\n")
	}
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	return []File{{Path: SystemdDir + "/" + svc.Name + ".service", Mode: 0o644, Content: []byte(b.String())}}, nil
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

func (systemdCommands) Start(name string) []string { return []string{"systemctl", "start", "--", name} }
func (systemdCommands) Stop(name string) []string  { return []string{"systemctl", "stop", "--", name} }
func (systemdCommands) Restart(name string) []string {
	return []string{"systemctl", "restart", "--", name}
}
func (systemdCommands) Reload(name string) []string {
	return []string{"systemctl", "reload", "--", name}
}
func (systemdCommands) Enable(name string) []string {
	return []string{"systemctl", "enable", "--", name}
}
func (systemdCommands) Disable(name string) []string {
	return []string{"systemctl", "disable", "--now", "--", name}
}
func (systemdCommands) DaemonReload() []string { return []string{"systemctl", "daemon-reload"} }
func (systemdCommands) IsActive(name string) []string {
	return []string{"systemctl", "is-active", "--quiet", "--", name}
}

// systemdGracefulStop signals the unit's main process, waits for it to exit, then stops the
// unit so systemd does not restart it. $1 unit, $2 signal, $3 seconds.
const systemdGracefulStop = `pid=$(systemctl show -p MainPID --value -- "$1") || exit
if [ -z "$pid" ] || [ "$pid" = 0 ]; then exit 0; fi
kill -s "$2" "$pid" || exit
i=0; while kill -0 "$pid" 2>/dev/null; do
  i=$((i+1)); if [ "$i" -gt $(($3*10)) ]; then echo "$1 (pid $pid) still running $3s after SIG$2" >&2; exit 124; fi
  sleep 0.1
done
systemctl stop -- "$1"`

func (c systemdCommands) GracefulStop(name, signal string) []string {
	return Script(systemdGracefulStop, name, signal, c.wait)
}

// seconds is d in whole seconds, as a shell argument.
func seconds(d time.Duration) string { return fmt.Sprint(int(d.Round(time.Second) / time.Second)) }
