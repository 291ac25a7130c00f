// Package plan turns an inventory and what was observed on the hosts into a plan — which
// unit on which host is reloaded, restarted or cut over, in which wave — and carries a plan
// out.
//
// The package is pure where it decides: Build takes rendered files and observed Facts and
// returns a Plan value; it does no I/O and prints nothing. The executor (Apply) drives only
// the interfaces defined here (Fleet, Host, Gates), which cmd/latticepush wires to remote/
// and verify/. plan never imports SSH, SFTP or os/exec code.
//
// Decisions come from the live state, never from "did this run change a file": a rerun after
// a failed apply sees the files already in place but the running config digest still old,
// and plans the pending reload or restart again.
package plan
