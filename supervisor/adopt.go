package supervisor

import (
	"path"
	"strconv"
	"strings"
	"time"
)

// Foreign is a service definition latticepush did not write, found in effect where a managed
// service belongs (or running the same server under another name): apply takes the service
// over from it, and a rollback gives it back as it was.
type Foreign struct {
	// Service is its name under the supervisor: the directory name under runit's service
	// directory, the systemd unit without ".service".
	Service string
	// Definition is what the supervisor runs: runit, the supervised path's target (the
	// path itself for a real directory); systemd, the unit's FragmentPath.
	Definition string
	// DropIns are the systemd drop-in files that apply to the unit.
	DropIns []string
	// Running and Enabled are its state before the takeover, which a give-back restores.
	Running bool
	Enabled bool
	// PID is its running process, to which the graceful stop is sent.
	PID int
}

// Adopter is a supervisor that can take a service over from a Foreign definition and give it
// back. Both supervisors implement it.
type Adopter interface {
	// Managed is the definition latticepush writes for service, as the supervisor names
	// it once it runs it: the target of runit's supervised link, systemd's FragmentPath.
	Managed(service string) string
	// Takeover is argv that checks the managed definition is in place, stops the foreign
	// service (sending signal to its process first, when it runs, and waiting for the exit)
	// and puts its definition aside, so that the supervisor runs the managed one next.
	Takeover(service string, from Foreign, signal string, wait time.Duration) []string
	// GiveBack undoes Takeover once the managed service is stopped and its files restored:
	// the foreign definition back where it was, enabled and running as before.
	GiveBack(service string, from Foreign, wait time.Duration) []string
}

var (
	_ Adopter = Runit{}
	_ Adopter = Systemd{}
)

// AsideSuffix marks what a takeover put aside: a runit service directory (renamed with a
// leading dot, which runsvdir ignores) or a systemd drop-in (which systemd ignores without
// its .conf suffix).
const AsideSuffix = ".latticepush-adopted"

// Managed is the service directory latticepush writes and links.
func (r Runit) Managed(service string) string { return r.dir(service) }

// aside is where a takeover keeps a foreign supervised entry: next to it, in the same
// directory (one rename, no copy), under a name runsvdir does not supervise.
func (r Runit) aside(name string) string {
	return path.Join(r.ServiceDir, "."+name+AsideSuffix)
}

// runitTakeover: $1 foreign supervised path, $2 managed service dir, $3 aside path, $4 signal,
// $5 seconds, $6 pid of the foreign process (0: none), $7 the definition the plan saw.
const runitTakeover = `sup=$1; own=$2; aside=$3; sig=$4; w=$5; pid=$6; def=$7
[ -x "$own/run" ] || { echo "$own/run is not in place: the managed service was not written" >&2; exit 1; }
if [ -e "$aside" ] || [ -L "$aside" ]; then echo "$aside exists (kept by an earlier takeover): put it back or remove it, then apply again" >&2; exit 1; fi
[ -e "$sup" ] || [ -L "$sup" ] || { echo "$sup is gone since the plan: plan again" >&2; exit 1; }
real=$(readlink -f -- "$sup"); want=$(readlink -f -- "$def")
[ "$real" = "$want" ] || { echo "$sup now runs $real, not $def as planned: plan again" >&2; exit 1; }
sv once "$sup" >/dev/null 2>&1
if [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; then
  kill -s "$sig" "$pid" || exit
  i=0; while kill -0 "$pid" 2>/dev/null; do
    i=$((i+1)); if [ "$i" -gt $((w*10)) ]; then echo "$sup (pid $pid) still running ${w}s after SIG$sig" >&2; exit 124; fi
    sleep 0.1
  done
fi
sv -w "$w" down "$sup" >/dev/null 2>&1
sv -w "$w" down "$sup/log" >/dev/null 2>&1
mv -- "$sup" "$aside"`

// runitGiveBack: $1 foreign supervised path, $2 aside path, $3 seconds, $4 1 when it ran,
// $5 the managed supervised link (removed when it is a link to $6, the managed dir, whose
// runsv is then told to exit, as runitDisable does).
const runitGiveBack = `sup=$1; aside=$2; w=$3; ran=$4; link=$5; own=$6
if [ -L "$link" ] && [ "$(readlink "$link")" = "$own" ]; then
  sv -w "$w" down "$link" >/dev/null 2>&1; rm -f -- "$link"; sv exit "$own" >/dev/null 2>&1
fi
if [ -e "$aside" ] || [ -L "$aside" ]; then
  if [ -e "$sup" ] || [ -L "$sup" ]; then echo "$sup exists: cannot put $aside back" >&2; exit 1; fi
  mv -- "$aside" "$sup" || exit
elif [ ! -e "$sup" ]; then
  echo "$aside is missing: the previous service cannot be put back" >&2; exit 1
fi
# Put aside or not (the takeover stopped before), bring it to the state it had.
i=0; while :; do
  st=$(sv status "$sup" 2>/dev/null)
  case $ran:$st in
  1:run:*) exit 0 ;;
  0:down:*) exit 0 ;;
  1:down:*) sv up "$sup" >/dev/null 2>&1 ;;
  0:run:*) sv down "$sup" >/dev/null 2>&1 ;;
  esac
  i=$((i+1)); if [ "$i" -gt $((w*10)) ]; then echo "runsvdir did not run $sup again within ${w}s (sv status: $st)" >&2; exit 1; fi
  sleep 0.1
done`

// Takeover stops the foreign runit service and renames its supervised entry aside; Enable
// then links the managed directory in its place.
func (r Runit) Takeover(service string, from Foreign, signal string, wait time.Duration) []string {
	return Script(runitTakeover, r.supervised(from.Service), r.dir(service), r.aside(from.Service), signal,
		seconds(wait), itoa(from.PID), from.Definition)
}

// GiveBack removes the managed link and renames the foreign entry back; runsvdir supervises
// it again and it is brought to the state it had.
func (r Runit) GiveBack(service string, from Foreign, wait time.Duration) []string {
	return Script(runitGiveBack, r.supervised(from.Service), r.aside(from.Service), seconds(wait), flag(from.Running),
		r.supervised(service), r.dir(service))
}

// Managed is the unit file latticepush writes.
func (Systemd) Managed(service string) string { return SystemdDir + "/" + service + ".service" }

// systemdTakeover: $1 managed unit, $2 foreign unit, $3 signal, $4 seconds, $5 managed unit
// file, then the drop-ins to put aside. A drop-in under /etc or /run is renamed aside; one
// shipped under /lib or /usr/lib is masked by an empty link of the same name in /etc.
const systemdTakeover = `own=$1; unit=$2; sig=$3; w=$4; file=$5; shift 5
[ -f "$file" ] || { echo "$file is not in place: the managed unit was not written" >&2; exit 1; }
pid=$(systemctl show -p MainPID --value -- "$unit") || exit
if [ -n "$pid" ] && [ "$pid" != 0 ]; then
  kill -s "$sig" "$pid" || exit
  i=0; while kill -0 "$pid" 2>/dev/null; do
    i=$((i+1)); if [ "$i" -gt $((w*10)) ]; then echo "$unit (pid $pid) still running ${w}s after SIG$sig" >&2; exit 124; fi
    sleep 0.1
  done
fi
systemctl stop -- "$unit" || exit
[ "$unit" = "$own" ] || systemctl disable -- "$unit" >/dev/null 2>&1
for d in "$@"; do
  case $d in
  /etc/*|/run/*) mv -- "$d" "$d@ASIDE@" || exit ;;
  *) m=/etc/systemd/system/$own.d; mkdir -p "$m" && ln -s /dev/null "$m/${d##*/}" || exit ;;
  esac
done
systemctl daemon-reload || exit
got=$(systemctl show -p FragmentPath,DropInPaths -- "$own") || exit
case $got in *"FragmentPath=$file"*) ;; *) echo "$own: systemd still runs another definition than $file ($got)" >&2; exit 1 ;; esac
for l in $got; do
  case $l in DropInPaths=*) l=${l#DropInPaths=} ;; FragmentPath=*) continue ;; esac
  [ -z "$l" ] || [ "$(readlink -f -- "$l")" = /dev/null ] || { echo "$own: the drop-in $l still applies" >&2; exit 1; }
done
exit 0`

// systemdGiveBack: $1 managed unit, $2 foreign unit, $3 1 when it was enabled, $4 1 when
// it ran, then the drop-ins to put back.
const systemdGiveBack = `own=$1; unit=$2; en=$3; ran=$4; shift 4
# A unit waiting to restart (a managed server that kept failing) is restarted by systemd with
# whatever definition it has by then: stop it before the foreign definition is back.
systemctl stop -- "$own" 2>/dev/null
for d in "$@"; do
  case $d in
  /etc/*|/run/*) [ -e "$d@ASIDE@" ] && { mv -- "$d@ASIDE@" "$d" || exit; } ;;
  *) m=/etc/systemd/system/$own.d/${d##*/}; [ -L "$m" ] && rm -f -- "$m" ;;
  esac
done
rmdir "/etc/systemd/system/$own.d" 2>/dev/null
systemctl daemon-reload || exit
if [ "$en" = 1 ]; then systemctl reenable -- "$unit" >/dev/null 2>&1 || exit
else systemctl disable -- "$unit" >/dev/null 2>&1; fi
[ "$ran" = 1 ] || exit 0
systemctl start -- "$unit"`

// Takeover stops the foreign unit (the managed unit file is already written and, for a
// unit of the same name, wins over one under /lib) and puts its drop-ins aside.
func (s Systemd) Takeover(service string, from Foreign, signal string, wait time.Duration) []string {
	script := strings.ReplaceAll(systemdTakeover, "@ASIDE@", AsideSuffix)
	args := append([]string{service + ".service", from.Service + ".service", signal, seconds(wait), s.Managed(service)}, from.DropIns...)
	return Script(script, args...)
}

// GiveBack puts the drop-ins back and starts the foreign unit as it was (its own unit file
// is back once the managed one is removed).
func (Systemd) GiveBack(service string, from Foreign, wait time.Duration) []string {
	script := strings.ReplaceAll(systemdGiveBack, "@ASIDE@", AsideSuffix)
	args := append([]string{service + ".service", from.Service + ".service", flag(from.Enabled), flag(from.Running)}, from.DropIns...)
	return Script(script, args...)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func itoa(n int) string { return strconv.Itoa(n) }
