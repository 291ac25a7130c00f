package verify

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// With nats { user } or wasmcloud { user }, every process of the service's binary on the
// host runs as that user (its effective uid in /proc/PID/status, read through the host's SSH
// connection).
const (
	CheckNATSUser      = "service.nats-user"
	CheckWasmcloudUser = "service.wasmcloud-user"
)

// procUsersScript prints "pid uid user" for every process of the binary $1 (resolved, as
// /proc/PID/exe names it): the effective uid from /proc/PID/status and its user name.
const procUsersScript = `real=$(readlink -f -- "$1") || exit 0
for d in /proc/[0-9]*; do
  [ "$(readlink "$d/exe" 2>/dev/null)" = "$real" ] || continue
  u=$(sed -n 's/^Uid:[[:space:]]*[0-9]*[[:space:]]*\([0-9]*\).*/\1/p' "$d/status" 2>/dev/null)
  [ -n "$u" ] || continue
  n=$(getent passwd "$u" | cut -d: -f1)
  echo "${d#/proc/} $u ${n:-$u}"
done`

// userTasks check the service users of every host that names one.
func (r *round) userTasks() []task {
	var ts []task
	for _, h := range r.inv.Hosts {
		if n := h.NATS(); n != nil && n.User != "" {
			ts = append(ts, one(CheckNATSUser, h.Name, func(ctx context.Context) Result {
				return r.checkServiceUser(ctx, h, CheckNATSUser, "nats-server", n.Binary, n.User, "nats { user }")
			}))
		}
	}
	for _, h := range r.inv.Hosts {
		if w := h.Wasmcloud; w != nil && w.User != "" {
			ts = append(ts, one(CheckWasmcloudUser, h.Name, func(ctx context.Context) Result {
				return r.checkServiceUser(ctx, h, CheckWasmcloudUser, "wasmCloud host", w.Binary, w.User, "wasmcloud { user }")
			}))
		}
	}
	return ts
}

// checkServiceUser reads who runs the service's processes on h.
func (r *round) checkServiceUser(ctx context.Context, h *inventory.Host, check, what, binary, user, setting string) Result {
	t := r.targets[h.Name]
	switch {
	case t.Err != nil:
		return fail(check, h.Name, fmt.Sprintf("%s: cannot reach the host: %v", what, t.Err), fixUnreachable(h))
	case t.Run == nil:
		return fail(check, h.Name, what+": no command can run on the host to read /proc", "run verify over SSH (latticepush verify)")
	}
	out, err := t.Run(ctx, []string{"sh", "-c", procUsersScript, "latticepush", binary})
	if err != nil {
		return fail(check, h.Name, fmt.Sprintf("%s: reading /proc: %v", what, err), fixUnreachable(h))
	}
	var as, wrong []string
	for _, line := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		as = append(as, fmt.Sprintf("pid %s as %s (uid %s)", f[0], f[2], f[1]))
		if f[2] != user {
			wrong = append(wrong, fmt.Sprintf("pid %s runs as %s (uid %s)", f[0], f[2], f[1]))
		}
	}
	switch {
	case len(as) == 0:
		return fail(check, h.Name, fmt.Sprintf("no %s process of %s runs", what, binary),
			"start it: latticepush apply starts what the inventory names")
	case len(wrong) > 0:
		return fail(check, h.Name, fmt.Sprintf("%s %s, the inventory says %s (%s)", what, strings.Join(wrong, ", "), user, setting),
			"run latticepush apply: it restarts the service as "+user+" (and plan shows the move first)")
	}
	return pass(check, h.Name, fmt.Sprintf("%s %s", what, strings.Join(as, ", ")))
}
