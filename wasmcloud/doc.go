// Package wasmcloud speaks the control interface of wasmCloud 1.x hosts (control API "v1",
// wasmCloud 1.0 through 1.9.2) over NATS: the wire types, the subjects, and a small client.
//
// Only the 1.x protocol is understood. The 0.82 and OTP hosts answer on other subjects with bare
// objects, and wasmCloud 2.x has no wasmbus.ctl at all; none of those is a "host" here.
//
// Every reply is a CtlResponse envelope ({"success","message","response"}); events are
// CloudEvents on wasmbus.evt.<lattice>. The traps that shape the API:
//
//   - Ping is scatter/gather. Every host publishes its own CtlResponse to the reply inbox, so a
//     plain request/reply would see only the first host. Client.Ping gathers for a window.
//   - host.get.<id> has exactly one subscriber, so an absent host is an immediate NATS
//     "no responders", reported as ErrHostAbsent, never a timeout.
//   - host_started and host_stopped carry the host id only in the CloudEvent source, not in
//     data. Event.HostID reads it from there.
//   - HostInventory has no lattice and no js_domain: the lattice is implied by the subject.
//   - Host.JSDomain only echoes the host's configuration; it proves nothing about whether that
//     JetStream domain is reachable.
//
// The same types are used by the lab's host stand-in (internal/lab/wasmcloud-standin), so both
// sides of the protocol are written once.
package wasmcloud
