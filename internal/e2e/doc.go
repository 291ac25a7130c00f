// Package e2e runs latticepush's plan, apply and verify against a real lab fleet (sshd,
// runit, nats-server, the wasmCloud stand-in in network namespaces). Tests only; they need
// root, and fail under CI=true when the lab cannot start.
package e2e
