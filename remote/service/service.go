// Package service drives the service managers latticepush deploys under (systemd and
// runit) through one small interface. It only builds command lines and runs them through a
// Runner (a *remote.Client); it holds no state and never talks to a host otherwise.
package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/latticepush/latticepush/remote"
)

// Runner runs one command on a host; *remote.Client satisfies it.
type Runner interface {
	Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error)
}

var _ Runner = (*remote.Client)(nil)

// Manager controls services on one host. Every method returns an error naming the
// command that failed (with its stderr) when the manager refuses.
type Manager interface {
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	// Reload asks the service to re-read its configuration (SIGHUP for nats-server). It
	// does not confirm that the reload took effect: callers check that (e.g. config_digest).
	Reload(ctx context.Context, name string) error
	// IsActive reports whether the service is running; an error means it could not be told.
	IsActive(ctx context.Context, name string) (bool, error)
	// Enable makes the service start at boot (systemd) or supervised (runit), and returns
	// once the supervisor knows it.
	Enable(ctx context.Context, name string) error
	// Disable undoes Enable and stops the service: used when a first start is rolled back,
	// so no supervisor keeps trying to run a service whose files were removed.
	Disable(ctx context.Context, name string) error
	// DaemonReload makes the manager re-read unit files after one changed (systemd); a
	// no-op for runit.
	DaemonReload(ctx context.Context) error
	// LameDuckStop stops a nats-server gracefully: it signals lame-duck mode with
	// `<natsServer> --signal ldm=<pid>` so clients migrate, waits up to Options.Wait for the
	// process to exit, and leaves the service stopped (not restarted by the supervisor).
	LameDuckStop(ctx context.Context, name, natsServer string) error
}

// Options adjust a Manager; the zero value uses the defaults noted.
type Options struct {
	Become bool          // run every command through sudo (remote.RunOptions.Become)
	Wait   time.Duration // how long to wait for a state change; default 60s
	// ServiceDir and SvDir are runit's supervised and available service directories;
	// defaults /etc/service and /etc/sv.
	ServiceDir, SvDir string
}

// New returns the Manager for kind ("systemd" or "runit").
func New(kind string, r Runner, opt Options) (Manager, error) {
	if opt.Wait <= 0 {
		opt.Wait = 60 * time.Second
	}
	if opt.ServiceDir == "" {
		opt.ServiceDir = "/etc/service"
	}
	if opt.SvDir == "" {
		opt.SvDir = "/etc/sv"
	}
	b := base{r: r, opt: opt}
	switch kind {
	case "systemd":
		return &Systemd{b}, nil
	case "runit":
		return &Runit{b}, nil
	}
	return nil, fmt.Errorf("unknown service manager %q (want systemd or runit)", kind)
}

type base struct {
	r   Runner
	opt Options
}

func (b base) run(ctx context.Context, argv ...string) (remote.Result, error) {
	// Give the remote side its own wait plus slack before the transport gives up.
	return b.r.Run(ctx, argv, remote.RunOptions{Become: b.opt.Become, Timeout: b.opt.Wait + 30*time.Second})
}

// do runs argv; a non-zero exit becomes an error naming the command briefly (a script by its
// arguments, not its text) with the last lines it printed.
func (b base) do(ctx context.Context, argv ...string) error {
	res, err := b.run(ctx, argv...)
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	msg := strings.TrimSpace(string(res.Stderr))
	if msg == "" {
		msg = strings.TrimSpace(string(res.Stdout))
	}
	if lines := strings.Split(msg, "\n"); len(lines) > 5 {
		msg = strings.Join(lines[len(lines)-5:], "\n")
	}
	return fmt.Errorf("%s: exit status %d: %s", describe(argv), res.ExitCode, msg)
}

// describe names a command for an error: a script run by remote.Script as its arguments.
func describe(argv []string) string {
	if len(argv) >= 3 && argv[0] == "sh" && argv[1] == "-c" {
		return "service script on " + strings.Join(argv[min(3, len(argv)):], " ")
	}
	return strings.Join(argv, " ")
}

func (b base) waitSeconds() string {
	return strconv.Itoa(int(b.opt.Wait.Round(time.Second) / time.Second))
}

// exited reports whether err is only a non-zero exit (the command ran).
func exited(err error) bool {
	var ee *remote.ExitError
	return errors.As(err, &ee)
}
