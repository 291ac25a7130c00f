// Package rollout carries out a plan: the executor behind `latticepush apply`.
//
// An apply is a fixed list of phases (phases.go): lock every host, re-observe and refuse a
// stale plan, stage every file, pre-check the staged nats-server configs, run the waves with
// their gates (the lattice buckets are ensured once the hub is up), verify the lattice; then,
// whatever happened, remove what was staged and not used, leave an audit record and unlock.
// Each phase is a small type with a title; the runner checks for cancellation between
// phases, and every phase reports typed events (events.go).
//
// rollout decides nothing about what changes: plan does that, as pure data. rollout reaches
// hosts only through the Fleet, Host and Gates interfaces (fleet.go), which package fleet
// implements over remote/ (SSH) and verify/; it never imports a transport.
package rollout
