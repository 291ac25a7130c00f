// Package testenv finds what tests need from the machine (the pinned nats-server build, root,
// network namespaces) and decides what happens when it is missing: under CI=true the test
// fails with a clear message; elsewhere it is skipped with the same message. Never silently.
package testenv

import (
	"os"
	"os/exec"
	"testing"

	"github.com/latticepush/latticepush/internal/natsbin"
)

// NATSVersion is the nats-server release the Makefile builds and the tests run.
const NATSVersion = natsbin.Version

// InCI reports whether the tests run in CI (CI=true), where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable fails the test under CI and skips it elsewhere, with msg either way.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=true: this must not be skipped; run `make deps` as root)", msg)
	}
	t.Skipf("%s (run `make deps` as root, or `make test`)", msg)
}

// NATSServerPath returns the path of the pinned nats-server binary, or "" when it is absent
// (see natsbin.Path).
func NATSServerPath() string { return natsbin.Path() }

// NATSServer returns the pinned nats-server binary or ends the test (see Unavailable).
func NATSServer(t testing.TB) string {
	t.Helper()
	p := NATSServerPath()
	if p == "" {
		Unavailable(t, "nats-server "+NATSVersion+" not built")
	}
	return p
}

// RequireRoot ends the test (see Unavailable) unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "lab tests need root (network namespaces, sshd, runit)")
	}
}

// RequireCommand ends the test (see Unavailable) unless name is on PATH or is an absolute
// path that exists. It returns the path.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name+" not installed")
	}
	return p
}

// NATSRelease returns the cached build of another nats-server release (natsbin.Upgrades), or
// ends the test (see Unavailable).
func NATSRelease(t testing.TB, version string) string {
	t.Helper()
	p := natsbin.PathFor(version)
	if p == "" {
		Unavailable(t, "nats-server "+version+" not built")
	}
	return p
}
