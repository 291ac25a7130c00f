package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// TestHubUpstream: with an upstream system in the inventory, a hub whose remote to it is not
// up fails hub.upstream, named with the URLs and the credentials file to check; without one,
// no hub.upstream check runs.
func TestHubUpstream(t *testing.T) {
	lat := startHubs(t, 3)
	inv := lat.inventory()
	ctx := context.Background()
	rep := Run(ctx, inv, targets(inv), fast)
	for _, r := range rep.Results {
		if r.Check == CheckHubUpstream {
			t.Fatalf("hub.upstream ran without an upstream system: %+v", r)
		}
	}
	inv.UpstreamSystem = &inventory.UpstreamSystem{URLs: []string{"tls://connect.example:7422"}, CredentialsFile: "/etc/nats/upstream.creds"}
	rep = Run(ctx, inv, targets(inv), fast)
	r := find(t, rep, CheckHubUpstream, "hub-1")
	if r.OK || !strings.Contains(r.Evidence, "tls://connect.example:7422") || !strings.Contains(r.Fix, `"/etc/nats/upstream.creds"`) {
		t.Errorf("hub.upstream on a hub without the remote: %+v", r)
	}
}
