// Package service runs a supervisor's command lines (package supervisor) on a host through
// a Runner (a *remote.Client), and turns a refusal into an error that names the command and
// quotes what it printed. It holds no state and knows no supervisor itself.
package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/supervisor"
)

// Runner runs one command on a host; *remote.Client satisfies it.
type Runner interface {
	Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error)
}

var _ Runner = (*remote.Client)(nil)

// Manager controls services on one host. Every method returns an error naming the
// command that failed (with its stderr) when the supervisor refuses.
type Manager interface {
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	// Reload asks the service to re-read its configuration. It does not confirm that the
	// reload took effect: callers check that (e.g. config_digest).
	Reload(ctx context.Context, name string) error
	// IsActive reports whether the service is running; an error means it could not be told.
	IsActive(ctx context.Context, name string) (bool, error)
	// Enable makes the service start at boot (systemd) or supervised (runit), and returns
	// once the supervisor knows it.
	Enable(ctx context.Context, name string) error
	// Disable undoes Enable and stops the service: used when a first start is rolled back,
	// so no supervisor keeps trying to run a service whose files were removed.
	Disable(ctx context.Context, name string) error
	// Supervise makes the supervisor know new services ahead of their start, held down
	// (supervisor.EarlyCommands), all in one command; nothing where the supervisor has no
	// such step.
	Supervise(ctx context.Context, names ...string) error
	// DaemonReload makes the supervisor re-read definitions after one changed; a no-op where
	// the supervisor needs none.
	DaemonReload(ctx context.Context) error
	// GracefulStop sends signal (e.g. "USR2", nats-server's lame duck) to the service's main
	// process, waits up to Options.Wait for it to exit, and leaves the service stopped (not
	// restarted by the supervisor).
	GracefulStop(ctx context.Context, name, signal string) error
	// Run runs another command line of the supervisor (a takeover, a give-back), with the
	// same wait and error reporting.
	Run(ctx context.Context, argv []string) error
}

// Options adjust a Manager; the zero value uses the defaults noted.
type Options struct {
	Become bool          // run every command through sudo (remote.RunOptions.Become)
	Wait   time.Duration // how long to wait for a state change; default 60s
}

// New returns the Manager that drives sup's commands through r.
func New(sup supervisor.Supervisor, r Runner, opt Options) Manager {
	if opt.Wait <= 0 {
		opt.Wait = 60 * time.Second
	}
	return &manager{r: r, opt: opt, cmd: sup.Commands(opt.Wait)}
}

type manager struct {
	r   Runner
	opt Options
	cmd supervisor.Commands
}

func (m *manager) Start(ctx context.Context, name string) error {
	return m.do(ctx, m.cmd.Start(name))
}
func (m *manager) Stop(ctx context.Context, name string) error { return m.do(ctx, m.cmd.Stop(name)) }
func (m *manager) Restart(ctx context.Context, name string) error {
	return m.do(ctx, m.cmd.Restart(name))
}
func (m *manager) Reload(ctx context.Context, name string) error {
	return m.do(ctx, m.cmd.Reload(name))
}
func (m *manager) Enable(ctx context.Context, name string) error {
	return m.do(ctx, m.cmd.Enable(name))
}
func (m *manager) Disable(ctx context.Context, name string) error {
	return m.do(ctx, m.cmd.Disable(name))
}
func (m *manager) Supervise(ctx context.Context, names ...string) error {
	e, ok := m.cmd.(supervisor.EarlyCommands)
	if !ok || len(names) == 0 {
		return nil
	}
	if len(names) == 1 {
		return m.do(ctx, e.Supervise(names[0]))
	}
	// One round trip for all: each command line quoted as for its own exec, joined.
	lines := make([]string, len(names))
	for i, n := range names {
		line, err := remote.Command(e.Supervise(n))
		if err != nil {
			return err
		}
		lines[i] = line
	}
	return m.do(ctx, []string{"sh", "-c", strings.Join(lines, " && ")})
}
func (m *manager) GracefulStop(ctx context.Context, name, signal string) error {
	return m.do(ctx, m.cmd.GracefulStop(name, signal))
}

func (m *manager) Run(ctx context.Context, argv []string) error { return m.do(ctx, argv) }

func (m *manager) DaemonReload(ctx context.Context) error {
	argv := m.cmd.DaemonReload()
	if argv == nil {
		return nil
	}
	return m.do(ctx, argv)
}

func (m *manager) IsActive(ctx context.Context, name string) (bool, error) {
	_, err := m.run(ctx, m.cmd.IsActive(name))
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		return false, nil
	}
	return err == nil, err
}

func (m *manager) run(ctx context.Context, argv []string) (remote.Result, error) {
	// Give the remote side its own wait plus slack before the transport gives up.
	return m.r.Run(ctx, argv, remote.RunOptions{Become: m.opt.Become, Timeout: m.opt.Wait + 30*time.Second})
}

// quoteLines is how many of its last output lines a failed command's error quotes: enough for
// a start failure's state and journal lines, which a supervisor script prints.
const quoteLines = 40

// do runs argv; a non-zero exit becomes an error naming the command briefly (a script by its
// arguments, not its text) with the last lines it printed.
func (m *manager) do(ctx context.Context, argv []string) error {
	res, err := m.run(ctx, argv)
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	msg := strings.TrimSpace(string(res.Stderr))
	if msg == "" {
		msg = strings.TrimSpace(string(res.Stdout))
	}
	if lines := strings.Split(msg, "\n"); len(lines) > quoteLines {
		msg = strings.Join(lines[len(lines)-quoteLines:], "\n")
	}
	return fmt.Errorf("%s: exit status %d: %s", describe(argv), res.ExitCode, msg)
}

// describe names a command for an error: a script run by supervisor.Script as its arguments.
func describe(argv []string) string {
	if len(argv) >= 3 && argv[0] == "sh" && argv[1] == "-c" {
		return "service script on " + strings.Join(argv[min(4, len(argv)):], " ")
	}
	return strings.Join(argv, " ")
}
