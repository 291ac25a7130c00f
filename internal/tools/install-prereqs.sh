#!/usr/bin/env bash
# Installs the Debian packages latticepush's lab, tests and benchmarks need. Idempotent: does
# nothing when every package is present. Never starts a machine-wide sshd (policy-rc.d).
set -euo pipefail

pkgs=(openssh-server openssh-sftp-server openssh-client runit iproute2 nftables sudo graphviz systemd systemd-container debootstrap time)
if [ "${WITH_ANSIBLE:-0}" = 1 ]; then pkgs+=(ansible-core); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-prereqs: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-prereqs: installing ${missing[*]}"
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
