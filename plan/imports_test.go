package plan

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports_NoTransport pins the design rule that plan (and plan/render) decide without
// doing: no SSH, SFTP, process execution, HTTP or NATS client anywhere in their dependencies.
// Those live behind the Fleet, Host and Gates interfaces, which cmd/latticepush wires to
// remote/ and verify/.
func TestImports_NoTransport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "./render").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"golang.org/x/crypto/ssh", "github.com/pkg/sftp", "os/exec", "net/http", "github.com/nats-io/nats.go",
		"github.com/latticepush/latticepush/remote", "github.com/latticepush/latticepush/verify"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("plan depends on %s", dep)
			}
		}
	}
}
