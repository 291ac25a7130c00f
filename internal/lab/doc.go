// Package lab brings up a real multi-host fleet on one Linux machine, for latticepush's tests,
// benchmarks and demo. Each host is a network namespace with its own address on a per-lab
// bridge and a real OpenSSH sshd; its own writable /usr/local/bin holds the binaries the Spec
// names (hard links to the lab's copies: replace one by renaming over it), next to its own
// empty /opt. Its init
// (HostSpec.Init) is one of:
//   - runit: mount, UTS and PID namespaces whose process 1 is runsvdir supervising sshd, with
//     the host's own /etc and /var (overlays over the machine's), /root, /home, /etc/nats,
//     /var/lib/nats, /etc/wasmcloud and runit directories (/etc/sv, /etc/service), and a fresh
//     /run and /tmp;
//   - systemd: a Debian tree (SystemdBase, built by `make deps`) booted by systemd-nspawn with
//     systemd as process 1, through an overlay whose upper layer is the host's own, started
//     from a cgroup of the host's own.
//
// Root logs in with the lab's ed25519 key; so does SudoUser, a non-root user with passwordless
// sudo. Host keys are checked: the lab writes a known_hosts file and an ssh_config.
//
// Labs are registered under BaseDir. Two labs never share a bridge, an address range or a name;
// allocation happens under a lock. Down removes everything a lab created (processes it started,
// namespaces, links, state) and works on a half-built or crashed lab. A lab that is not
// Persistent belongs to the process that created it: once that process is gone, the next Up
// (or DownStale) removes it, so an interrupted test run cannot leave hosts behind for long.
//
// The package needs root and the tools named by Prerequisites; it never changes the machine's
// own /etc. It prints nothing.
package lab
