package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/remote/service"
	"github.com/latticepush/latticepush/rollout"
)

// failingManager fails every operation with err.
type failingManager struct {
	service.Manager
	err error
}

func (m failingManager) Start(context.Context, string) error { return m.err }

// TestService_FailureIsRedacted: a start failure quotes the service's log lines, which may
// hold a secret (here the leaf password); the error shows its placeholder instead, and still
// wraps the cause.
func TestService_FailureIsRedacted(t *testing.T) {
	i := inv(&inventory.Host{Name: "edge-1"})
	i.Auth.LeafPassword = inventory.NewSecret("leaf_password", "s3cr3t-leaf-pw", "test")
	cause := errors.New("nats-server: keeps exiting\njournal: connect to nats://leaf:s3cr3t-leaf-pw@hub-1:7422 refused\nseed SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4")
	h := &host{f: &Fleet{inv: i}, inv: i.Hosts[0], svc: failingManager{err: cause}}
	err := h.Service(context.Background(), "nats-server", rollout.OpStart)
	if err == nil || !errors.Is(err, cause) {
		t.Fatalf("err %v: want one wrapping the cause", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-leaf-pw") || strings.Contains(err.Error(), "SUAIBDPB") {
		t.Fatalf("the error prints a secret:\n%s", err)
	}
	if !strings.Contains(err.Error(), "${secret:leaf_password}") || !strings.Contains(err.Error(), "keeps exiting") {
		t.Errorf("the error lost its text:\n%s", err)
	}
}
