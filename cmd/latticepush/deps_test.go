package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/internal/testenv"
)

// TestDeps_NoTestCode keeps test code out of the shipped binary: the lab command is a product
// feature, but what it shares with the tests (locating nats-server, the prerequisites) lives in
// non-test packages, and the test helpers stay in packages that only _test.go files import.
func TestDeps_NoTestCode(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.Unavailable(t, "the go tool is not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/latticepush: %v\n%s", err, out)
	}
	const mod = "github.com/latticepush/latticepush/"
	forbidden := []string{"testing", "internal/testenv",
		mod + "internal/testenv", mod + "internal/labtest", mod + "internal/e2e"}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps printed only %d packages, not the binary's whole dependency list:\n%s",
			len(deps), out)
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the latticepush binary links %s; move what it needs into a non-test package", dep)
			}
		}
	}
}
