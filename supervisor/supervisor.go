// Package supervisor holds what latticepush knows about each service manager (init system)
// it deploys under, one type per supervisor: the files that define a service, how a
// service's state is read on a host (its part of the facts script), the directories it
// writes into, and the command lines that start, stop, restart, reload, enable and disable a
// service. systemd and runit today.
//
// The package is pure: it renders bytes and builds argv, and runs nothing. remote/service
// runs the command lines over SSH; package unit renders the definitions; the facts script of
// package fleet embeds StateScript.
//
// Adding a supervisor (OpenRC, s6) is a new file here with a type implementing Supervisor,
// and one line in the registry below.
package supervisor

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
)

// Service is what a supervisor needs to run one service. Unit kinds describe their service
// with it; supervisors turn it into their definition files and commands.
type Service struct {
	// Name is the service's name: the systemd unit without ".service", the runit directory.
	Name string
	// Description is one line naming the service for people (systemd's Description=).
	Description string
	// Binary and Args are the command that runs the service in the foreground.
	Binary string
	Args   []string
	// EnvFile, when set, holds the service's environment (NAME="value" lines), read at start.
	EnvFile string
	// After names a service on the same host that must run first: this one is ordered after
	// it and waits for it at start.
	After string
	// KeepTrying says the service exits at once when what it needs is not up yet, so the
	// supervisor must keep restarting it without a limit; KeepTryingWhy says why, as a comment.
	KeepTrying    bool
	KeepTryingWhy string
	// Reload is the command that makes the running process re-read its configuration, with
	// PIDWord standing for the main process's pid; nil when the service cannot reload.
	Reload []string
	// StopSignal is the signal (without "SIG") that stops the service gracefully, when it
	// is not SIGTERM: every stop and restart then sends it, and waits StopTimeout for the exit.
	StopSignal  string
	StopTimeout time.Duration
	// StopWhy explains the graceful stop in the definition, per supervisor name: the wording
	// depends on how that supervisor stops a service. A supervisor without an entry writes none.
	StopWhy map[string]string
	// RestartAlways restarts the service whenever it exits; otherwise only on failure.
	// RestartWhy explains the choice as a comment; RestartDelay is the pause before a restart.
	RestartAlways bool
	RestartWhy    string
	RestartDelay  time.Duration
	// Hardened adds the supervisor's sandboxing (no new privileges, private /tmp, read-only
	// system and home) where it has one; with User set the system is read-only but for
	// StateDirs and StateFiles.
	Hardened bool
	// User, when set, is the system user the service runs as, with its group of the same
	// name; empty runs it as root. The user exists on the host before the definition is used.
	User string
	// StateDirs are directories the service writes (a store directory): with User set they
	// stay writable under a read-only system, and are created and handed to the user (chown
	// -R) before each start, with root's rights, while the service is not running.
	StateDirs []string
	// StateFiles are single files the service writes (a log file), handed to the user the
	// same way, without their directory.
	StateFiles []string
	// RuntimeDir, with User set, is a directory under /run owned by the user, created before
	// each start (for a pid file).
	RuntimeDir string
	// Check, when set, is how the supervisor tells that a started service is healthy.
	Check *HTTPCheck
	// ConnectedPort, when set (and Check is not), is how the supervisor tells that a started
	// service is up: its process holds an established TCP connection to this port, the
	// server it cannot run without (it exits when that server is not reachable).
	ConnectedPort int
}

// PIDWord stands for the main process's pid in Service.Reload.
const PIDWord = "{pid}"

// HTTPCheck is a health check: the service is healthy when GET Path on Host:Port answers 200.
type HTTPCheck struct {
	Host string // an address to dial from the host itself (never a wildcard)
	Port int
	Path string
}

// File is one definition file.
type File struct {
	Path    string
	Mode    fs.FileMode
	Content []byte
	// Script is set for files the supervisor runs (shell scripts), Unit for unit files.
	Script bool
}

// Supervisor is one service manager.
type Supervisor interface {
	// Name is the inventory's service_manager value.
	Name() string
	// Definition renders the files that define svc. header is the first comment line of each.
	Definition(header string, svc Service) ([]File, error)
	// Dirs lists the directories Definition writes into for the named service.
	Dirs(service string) []string
	// ReloadsDefinitions reports whether a changed definition needs a DaemonReload before the
	// service restarts (systemd re-reads unit files only when told).
	ReloadsDefinitions() bool
	// StateScript is the body of a POSIX shell function called with a service name as $1. It
	// prints "svc.$1.enabled=0|1" and leaves $r = 1 when the service runs, with its main pid
	// in $p (both variables are the caller's).
	StateScript() string
	// Commands returns the command lines that drive services, each waiting up to wait for
	// the state it asks for.
	Commands(wait time.Duration) Commands
}

// Commands are the command lines (argv) that drive services under one supervisor. Scripts
// are run as `sh -c <script> latticepush <args...>` (see Script).
type Commands interface {
	// Start starts the service and returns once it runs (and its check passes, if it has one).
	Start(name string) []string
	Stop(name string) []string
	// Restart restarts the service and returns once a new process runs.
	Restart(name string) []string
	// Reload asks the running service to re-read its configuration; it does not confirm it.
	Reload(name string) []string
	// Enable makes the service start with the host, and returns once the supervisor knows it.
	Enable(name string) []string
	// Disable stops the service and undoes Enable.
	Disable(name string) []string
	// DaemonReload makes the supervisor re-read definitions; nil where not needed.
	DaemonReload() []string
	// IsActive exits 0 when the service runs, non-zero otherwise.
	IsActive(name string) []string
	// GracefulStop sends signal (without "SIG") to the service's main process, waits for it
	// to exit, and leaves the service stopped (not restarted by the supervisor).
	GracefulStop(name, signal string) []string
}

// EarlyCommands are the commands of a supervisor that takes a while to notice a newly enabled
// service (runit's runsvdir rescans its directory every five seconds). Supervise makes the
// supervisor know the service ahead of its start, held down: it does not start, not even with
// the host, so it can be done for every new service of an apply at once, while files are
// staged, and no start waits for the rescan. Enable then lets the service start with the host;
// Disable undoes both. A supervisor that knows a service at once has no such command.
type EarlyCommands interface {
	Supervise(name string) []string
}

// Script returns argv that runs a fixed shell script with args as its positional parameters
// ($1, $2, ...): `sh -c <script> latticepush <args...>`. The script refers to its arguments
// only as "$1", "$@" and so on; they are data, quoted like any argument.
// sessionGuard starts the scripts that wait and then act (start, graceful stop, settle): it
// finds the sshd process serving the command, and orphaned() answers whether that process is
// gone. A controller that was killed or cut off leaves its commands running on the host
// (sshd does not end a command without a terminal when the connection drops); once orphaned,
// such a script stops without acting, so it cannot undo what a later run did meanwhile (mark
// a service down that the next apply has just started). Run other than under sshd (the
// in-process test server), orphaned() is always false. It walks up the process tree with
// shell builtins only (each script that waits pays it, on every host of a wave at once).
const sessionGuard = `lp_sshd=""; lp_p=$$
while [ -n "$lp_p" ] && [ "$lp_p" -gt 1 ] 2>/dev/null; do
  read -r lp_c 2>/dev/null <"/proc/$lp_p/comm" || break
  case $lp_c in sshd*) lp_sshd=$lp_p; break ;; esac
  read -r lp_s 2>/dev/null <"/proc/$lp_p/stat" || break
  lp_s=${lp_s##*) }; lp_s=${lp_s#* }; lp_p=${lp_s%% *}
done
orphaned() { [ -n "$lp_sshd" ] && [ ! -d "/proc/$lp_sshd" ]; }
`

func Script(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "latticepush"}, args...)
}

// registry holds every supervisor by name.
var registry = map[string]Supervisor{}

func register(s Supervisor) { registry[s.Name()] = s }

func init() {
	register(Systemd{})
	register(Runit{SvDir: RunitSvDir, ServiceDir: RunitServiceDir})
}

// For returns the supervisor named by an inventory's service_manager.
func For(name string) (Supervisor, error) {
	if s, ok := registry[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("service_manager %q: must be one of %s", name, strings.Join(Names(), ", "))
}

// Names lists the supervisors' names, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, fmt.Sprintf("%q", n))
	}
	sort.Strings(out)
	return out
}

// owned lists what is handed to the user before each start: the state directories and
// files, space-separated (every part is a checked path).
func (s Service) owned() string {
	return strings.Join(append(append([]string{}, s.StateDirs...), s.StateFiles...), " ")
}

// command is the service's command line: binary and arguments, space-separated (every part
// is a checked path or a fixed word).
func (s Service) command() string {
	return strings.Join(append([]string{s.Binary}, s.Args...), " ")
}
