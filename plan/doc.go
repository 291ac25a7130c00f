// Package plan turns an inventory and what was observed on the hosts into a plan: which unit
// (a service on a host) is reloaded, restarted or cut over, in which wave, and why. A plan is
// plain data: it is printed, saved to a file, compared with a fresh one (staleness), and
// carried out by package rollout.
//
// The package is pure: Build takes rendered files and observed Facts and returns a Plan value;
// it does no I/O and prints nothing, and it imports no SSH, SFTP, process, HTTP or NATS code
// (a test holds it to that).
//
// Decisions come from the live state, never from "did this run change a file": a rerun after
// a failed apply sees the files already in place but the running config digest still old,
// and plans the pending reload or restart again.
package plan
