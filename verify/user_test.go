package verify

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// TestCheckServiceUser reads /proc for real (the script runs here, as it would through SSH):
// a process of the binary passes as the user it runs as and fails, naming that user and
// the fix, when the inventory says another; no process at all fails too.
func TestCheckServiceUser(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	src, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &inventory.Host{Name: "hub-1"}
	r := &round{targets: map[string]Target{h.Name: {Host: h, Run: func(ctx context.Context, argv []string) ([]byte, error) {
		return exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	}}}}
	ctx := context.Background()
	if res := r.checkServiceUser(ctx, h, CheckNATSUser, "nats-server", bin, me.Username, "nats { user }"); res.OK {
		t.Errorf("no process running passed: %+v", res)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	res := r.checkServiceUser(ctx, h, CheckNATSUser, "nats-server", bin, me.Username, "nats { user }")
	if !res.OK || !strings.Contains(res.Evidence, "as "+me.Username+" (uid "+me.Uid+")") {
		t.Errorf("process as %s: %+v", me.Username, res)
	}
	res = r.checkServiceUser(ctx, h, CheckNATSUser, "nats-server", bin, "nats", "nats { user }")
	if res.OK || !strings.Contains(res.Evidence, "runs as "+me.Username) || !strings.Contains(res.Evidence, "the inventory says nats") ||
		!strings.Contains(res.Fix, "latticepush apply") {
		t.Errorf("process as %s where the inventory says nats: %+v", me.Username, res)
	}
}
