// Package verify proves from the live system that a lattice works as its inventory says:
// the hub cluster is healthy and agrees on one JetStream domain, every leaf is linked, the hub's
// domain answers through every leaf (and it is the hub that answers), no leaf answers for the
// hub's domain or holds a stray lattice bucket, and every wasmCloud host is in the lattice.
//
// Each check yields a named [Result] with its evidence and, when failing, what to do. [Run]
// runs them all; [HubNodeGate], [LeafGate] and [WasmcloudGate] poll the checks for one unit
// until they pass or a deadline passes, for apply to wait on. [ConnectHub] opens the NATS
// connection "from the hub side" as latticepush's check user, for the checks and for apply.
// The monitoring replies are decoded with package natsmon, as the facts of a plan are.
//
// verify reaches hosts only through the dialers it is given ([Target.Dial]): in production
// they open TCP connections through each host's SSH connection, so monitoring and client
// ports are addressed as seen on the host. Every network step has a timeout: an unreachable
// host is a failed check, never a stuck command. The package prints nothing and imports
// neither plan nor remote.
package verify
