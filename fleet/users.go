package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
)

var _ rollout.Users = (*host)(nil)

// usersScript creates each system user named in its arguments that is missing, with a group
// of the same name (the one already there, if only the group exists), no home and no login
// shell. useradd writes the user (passwd, shadow, group) under its lock, all or nothing; a
// user that exists is left as it is. It prints what it created.
const usersScript = `command -v useradd >/dev/null 2>&1 || { echo "useradd not found: install the passwd package (Debian) or shadow, or create the users $* yourself" >&2; exit 1; }
shell=/usr/sbin/nologin; [ -x "$shell" ] || shell=/sbin/nologin; [ -x "$shell" ] || shell=/bin/false
for u in "$@"; do
  getent passwd "$u" >/dev/null && continue
  if getent group "$u" >/dev/null; then g="-g $u"; else g="--user-group"; fi
  useradd --system $g --no-create-home --home-dir /nonexistent --shell "$shell" --comment "$u (latticepush)" "$u" || exit
  echo "created $u"
done`

// EnsureUsers creates the services' system users that the host does not have.
func (h *host) EnsureUsers(ctx context.Context, users []string) error {
	res, err := h.c.Run(ctx, remote.Script(usersScript, users...), remote.RunOptions{Become: h.inv.SSH.Become, Timeout: time.Minute})
	if err != nil {
		var ee *remote.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("creating users %v: %s", users, bytes.TrimSpace(append(res.Stdout, res.Stderr...)))
		}
		return err
	}
	return nil
}
