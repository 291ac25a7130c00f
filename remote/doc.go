// Package remote is latticepush's SSH layer: it resolves how to reach a host (its own small
// Target, merged with ~/.ssh/config), dials it once (keys, ssh-agent, strict known_hosts,
// ProxyJump chains through one connection per bastion), and then offers everything the apply
// needs over that one connection: exec with every argument shell-quoted, sudo, atomic SFTP
// uploads staged beside their destination, a per-host lock, and TCP forwarding.
//
// remote knows nothing about inventories or plans: callers translate their model into a
// Target, including a Hop for each jump host they know. It never prints; failures are
// returned as errors that say what to do and name their host once (HostError).
package remote
