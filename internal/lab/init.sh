#!/bin/sh
# Process 1 of a lab host, run by the lab as
#   ip netns exec NETNS unshare --mount --uts --pid --fork --mount-proc /bin/sh init.sh \
#     HOSTDIR NAME ADDR/LEN BINDIR (the host's own /usr/local/bin)
# in fresh mount, UTS and PID namespaces with private mount propagation: nothing mounted here
# shows on the machine, and it all vanishes with the host. It brings up the network, mounts the
# host's own view of the file system over the machine's, then becomes runsvdir.
set -eu
H=$1 NAME=$2 ADDR=$3 BIN=$4

ip -batch - <<END
link set lo up
addr add $ADDR dev eth0
link set eth0 up
END

# Per-host /etc and /var: the machine's as lower layers, the host's writes in its own upper.
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$H/etc.upper,workdir=$H/etc.work" /etc
mount -t overlay overlay -o "lowerdir=/var,upperdir=$H/var.upper,workdir=$H/var.work" /var
mkdir -p /etc/nats /etc/wasmcloud /var/lib/nats /etc/sv
[ -e /etc/service ] || mkdir -p /etc/service

# Per-host directories, bind-mounted (safe to read and write from the machine while running).
mount --bind "$H/etc-nats" /etc/nats
mount --bind "$H/var-lib-nats" /var/lib/nats
mount --bind "$H/etc-wasmcloud" /etc/wasmcloud
mount --bind "$H/etc-sv" /etc/sv
mount --bind "$H/etc-service" /etc/service
mount --bind "$H/root" /root
mount --bind "$H/home" /home
# Its own /usr/local/bin (the lab's binaries, writable) and /opt: binaries are installed there.
mount --bind "$BIN" /usr/local/bin
mkdir -p "$H/opt" && [ -d /opt ] && mount --bind "$H/opt" /opt

# Copies of the machine's network namespace mounts would keep other hosts' (and other labs')
# namespaces alive after `ip netns del`: drop them before hiding /run.
umount -l /run/netns 2>/dev/null || true
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -m 0755 /run/sshd /run/lock
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp

echo "$NAME" > /proc/sys/kernel/hostname
cd /
# As Debian's /etc/runit/2 starts it: with a log argument, runsvdir keeps its runsv processes'
# error messages in its process title (`ps`), read from a pipe, and wakes on every byte there.
exec env - PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin runsvdir -P /etc/service \
  'log: ..........................................................................................................................................................................'
