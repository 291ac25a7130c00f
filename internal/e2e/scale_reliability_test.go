package e2e

import (
	"os"
	"testing"
)

// The reliability suite runs each fault a few times in `make test` and many times in
// `make reliability` (LATTICEPUSH_RELIABILITY=full): the CI subset proves every path, the full
// run gives the figures RELIABILITY.md quotes.

// reliabilityFull reports whether the full reliability run was asked for.
func reliabilityFull() bool { return os.Getenv("LATTICEPUSH_RELIABILITY") == "full" }

// reliabilityCount is how many times a reliability test repeats its fault: ci in `make test`,
// full in `make reliability`. It logs which, so every figure says what it was taken from.
func reliabilityCount(t *testing.T, ci, full int) int {
	t.Helper()
	if reliabilityFull() {
		t.Logf("full reliability run (LATTICEPUSH_RELIABILITY=full): %d trials", full)
		return full
	}
	t.Logf("CI subset: %d trials (make reliability runs %d)", ci, full)
	return ci
}
