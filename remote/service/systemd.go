package service

import (
	"context"

	"github.com/latticepush/latticepush/remote"
)

// Systemd drives systemctl.
type Systemd struct{ base }

var _ Manager = (*Systemd)(nil)

// Start runs `systemctl start`.
func (s *Systemd) Start(ctx context.Context, name string) error {
	return s.do(ctx, "systemctl", "start", "--", name)
}

// Stop runs `systemctl stop`.
func (s *Systemd) Stop(ctx context.Context, name string) error {
	return s.do(ctx, "systemctl", "stop", "--", name)
}

// Restart runs `systemctl restart`.
func (s *Systemd) Restart(ctx context.Context, name string) error {
	return s.do(ctx, "systemctl", "restart", "--", name)
}

// Reload runs `systemctl reload` (the unit's ExecReload).
func (s *Systemd) Reload(ctx context.Context, name string) error {
	return s.do(ctx, "systemctl", "reload", "--", name)
}

// Disable runs `systemctl disable --now`.
func (s *Systemd) Disable(ctx context.Context, name string) error {
	return s.do(ctx, "systemctl", "disable", "--now", "--", name)
}

// Enable runs `systemctl enable`.
func (s *Systemd) Enable(ctx context.Context, name string) error {
	return s.do(ctx, "systemctl", "enable", "--", name)
}

// DaemonReload runs `systemctl daemon-reload`; call it after a unit file changed.
func (s *Systemd) DaemonReload(ctx context.Context) error {
	return s.do(ctx, "systemctl", "daemon-reload")
}

// IsActive runs `systemctl is-active --quiet`: exit 0 is active, any other exit is not.
func (s *Systemd) IsActive(ctx context.Context, name string) (bool, error) {
	_, err := s.run(ctx, "systemctl", "is-active", "--quiet", "--", name)
	if exited(err) {
		return false, nil
	}
	return err == nil, err
}

// systemdLameDuck signals the unit's main process, waits for it to exit, then stops the
// unit so systemd does not restart it. $1 unit, $2 nats-server, $3 seconds.
const systemdLameDuck = `pid=$(systemctl show -p MainPID --value -- "$1") || exit
if [ -z "$pid" ] || [ "$pid" = 0 ]; then exit 0; fi
"$2" --signal ldm="$pid" || exit
i=0; while kill -0 "$pid" 2>/dev/null; do
  i=$((i+1)); if [ "$i" -gt $(($3*10)) ]; then echo "nats-server $pid still running after $3s of lame duck" >&2; exit 124; fi
  sleep 0.1
done
systemctl stop -- "$1"`

// LameDuckStop signals lame duck to the unit's MainPID, waits, then stops the unit.
func (s *Systemd) LameDuckStop(ctx context.Context, name, natsServer string) error {
	return s.do(ctx, remote.Script(systemdLameDuck, name, natsServer, s.waitSeconds())...)
}
