#!/usr/bin/env bash
# Builds the Debian bookworm tree the lab boots its systemd hosts from (systemd-nspawn, one
# overlay per host), once, into the cache:
#   internal/tools/systemd-base.sh [CACHE_DIR]     (default ~/.cache/latticepush)
# Result: CACHE_DIR/systemd-base-bookworm, holding the stamp file .latticepush-base (the lab
# refuses a tree without it). Idempotent: nothing to do when the stamped tree exists. The tree
# is built and prepared in a temporary directory and renamed into place only when complete,
# so an interrupted build never leaves a tree that looks ready.
#
# The package archive is the one this machine's apt uses (the first bookworm entry of
# /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources); LATTICEPUSH_DEBIAN_MIRROR
# overrides it.
set -euo pipefail

# Bump when the preparation below changes: trees with another stamp are rebuilt.
RECIPE=2
SUITE=bookworm
CACHE=${1:-${HOME}/.cache/latticepush}
DEST=$CACHE/systemd-base-$SUITE
STAMP=.latticepush-base

if [ -f "$DEST/$STAMP" ] && [ "$(cat "$DEST/$STAMP")" = "recipe $RECIPE" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "systemd-base: building the systemd hosts' base tree needs root (debootstrap)" >&2
  exit 1
fi
for prog in debootstrap systemctl; do
  if ! command -v "$prog" >/dev/null; then
    echo "systemd-base: $prog is missing; run internal/tools/install-prereqs.sh (make prereqs) first" >&2
    exit 1
  fi
done

# mirror prints the URI of the first apt source whose suite is S (given as an awk regular
# expression), and the file it came from.
mirror() {
  local s=$1 f
  if [ -f /etc/apt/sources.list ]; then
    awk -v s="$s" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i+1) ~ ("^" s "$")) { print $i, FILENAME; exit }
      }' /etc/apt/sources.list
  fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$s" -v file="$f" '
      function flush() {
        n = split(suites, ss, /[ \t]+/)
        for (k = 1; k <= n; k++) if (types ~ /(^| )deb( |$)/ && ss[k] ~ ("^" s "$") && uri != "") { print uri, file; found = 1; exit }
        types = suites = uri = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^Types:/  { sub(/^Types:[ \t]*/, "");  types = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      /^URIs:/   { sub(/^URIs:[ \t]*/, "");   split($0, u, /[ \t]+/); uri = u[1] }
      END { if (!found) flush() }' "$f"
  done
}

if [ -n "${LATTICEPUSH_DEBIAN_MIRROR:-}" ]; then
  MIRROR=$LATTICEPUSH_DEBIAN_MIRROR FROM='$LATTICEPUSH_DEBIAN_MIRROR'
else
  # The machine's own bookworm source, else the archive of its release (a Debian mirror serves
  # every release; not its -security or -updates suites, which are separate archives).
  read -r MIRROR FROM < <({ mirror "$SUITE"; mirror '[a-z]+'; } | head -n1) || true
fi
if [ -z "${MIRROR:-}" ]; then
  echo "systemd-base: no apt source for Debian $SUITE in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources;" >&2
  echo "  set LATTICEPUSH_DEBIAN_MIRROR to a Debian archive URL that serves $SUITE" >&2
  exit 1
fi

mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.systemd-base-$SUITE.XXXXXX")
chmod 0755 "$tmp" # the container's / (mktemp makes it 0700, which locks out non-root users)
log=$tmp.log
cleanup() { rm -rf "$tmp" "$log"; }
trap cleanup EXIT
echo "systemd-base: debootstrap $SUITE from $MIRROR (apt source in $FROM) into $DEST (about a minute)"
start=$SECONDS
if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,openssh-server,dbus,iproute2,sudo \
  "$SUITE" "$tmp" "$MIRROR" >"$log" 2>&1; then
  if grep -qiE "Failed getting release file|Couldn't download|Temporary failure|Unable to fetch|Connection refused|timed out|Name or service not known" "$log"; then
    echo "systemd-base: debootstrap cannot reach the Debian archive at $MIRROR (apt source in $FROM)." >&2
    echo "  Check this machine's network or proxy (apt-get update should work), or set LATTICEPUSH_DEBIAN_MIRROR." >&2
  else
    echo "systemd-base: debootstrap failed; its log ends:" >&2
  fi
  tail -n 15 "$log" | sed 's/^/  /' >&2
  exit 1
fi

# Prepare: every host gets its own machine-id, hostname and host key from the lab, so the base
# has none; the network is configured from outside the container, so nothing waits for it;
# timers that only make sense on a long-lived machine are off.
: >"$tmp/etc/machine-id"
rm -f "$tmp/var/lib/dbus/machine-id" "$tmp/etc/hostname" "$tmp"/etc/ssh/ssh_host_*
systemctl --root="$tmp" mask systemd-networkd-wait-online.service >/dev/null 2>&1
for timer in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
  if [ -e "$tmp/lib/systemd/system/$timer" ]; then
    systemctl --root="$tmp" disable "$timer" >/dev/null 2>&1
  fi
done
mkdir -p "$tmp/etc/ssh/sshd_config.d"
cat >"$tmp/etc/ssh/sshd_config.d/00-hostkey.conf" <<'EOF'
# Lab hosts have an ed25519 host key only; without this, sshd looks for RSA and ECDSA keys too.
HostKey /etc/ssh/ssh_host_ed25519_key
EOF
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/cache/apt/*.bin "$tmp"/var/lib/apt/lists/*_*
echo "recipe $RECIPE" >"$tmp/$STAMP"

rm -rf "$DEST"
mv "$tmp" "$DEST"
trap 'rm -f "$log"' EXIT
echo "systemd-base: ready in $((SECONDS - start)) s: $DEST ($(du -sh "$DEST" | cut -f1))"
