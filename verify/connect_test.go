package verify

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// During a rotation of passwords.check, a hub that does not accept the new check user yet is
// logged into as the retiring one; without a retiring user recorded, the refusal is the error.
func TestConnectHub_FallsBackToRetiringCheckUser(t *testing.T) {
	lat := startHubs(t, 3) // they accept user latticepush with checkPassword only
	inv := lat.inventory()
	inv.Auth.CheckPassword = inventory.NewSecret("passwords.check", "new-check-secret", "test")
	inv.Auth.Users = map[string]string{"check": "latticepush-a"}
	var d net.Dialer
	dial := func(context.Context, *inventory.Host) (Dialer, error) { return d.DialContext, nil }
	ctx := context.Background()

	_, _, err := ConnectHub(ctx, inv, dial, 5*time.Second)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") || strings.Contains(err.Error(), "new-check-secret") {
		t.Fatalf("new user unknown to the hubs, no retiring one: %v, want an authorization error without the password", err)
	}
	inv.Auth.Retiring = map[string]inventory.RetiringUser{"check": {User: "latticepush", Password: inventory.NewSecret("retiring.check", checkPassword, "test")}}
	nc, hub, err := ConnectHub(ctx, inv, dial, 5*time.Second)
	if err != nil {
		t.Fatalf("with the retiring user recorded: %v", err)
	}
	defer nc.Close()
	if !strings.HasPrefix(hub, "hub-") {
		t.Errorf("connected to %s", hub)
	}
}
