package plan_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports_NoTransport holds plan, unit and supervisor to deciding without doing, and the
// executor (rollout) to acting only through its interfaces: no SSH, SFTP, process execution,
// HTTP or NATS client anywhere in their dependencies. Those live behind rollout's Fleet, Host
// and Gates interfaces, which package fleet implements over remote/ and verify/.
func TestImports_NoTransport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "../unit", "../supervisor", "../rollout").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"golang.org/x/crypto/ssh", "github.com/pkg/sftp", "os/exec", "net/http", "github.com/nats-io/nats.go",
		"github.com/latticepush/latticepush/remote", "github.com/latticepush/latticepush/verify"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("plan, unit, supervisor or rollout depends on %s", dep)
			}
		}
	}
}
