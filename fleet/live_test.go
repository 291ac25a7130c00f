package fleet

import (
	"path/filepath"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

func TestLiveInventory_FollowsSwapsAndRestores(t *testing.T) {
	inv, diags := inventory.Load(filepath.Join("..", "..", "examples", "lab", "inventory.hcl"), inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	f := New(inv, nil, Options{})
	// hub-2 was observed on the old ports of a rollout that moves them.
	f.recordPorts("hub-2", 4111, 8111)
	f.recordPorts("hub-1", 4222, 8222) // matches the inventory

	live := f.liveInventory()
	if n := live.Host("hub-2").Hub; n.ClientPort != 4111 || n.HTTPPort != 8111 {
		t.Errorf("before its swap hub-2 is reached at %d/%d, want the observed 4111/8111", n.ClientPort, n.HTTPPort)
	}
	if live.Host("hub-1") != inv.Host("hub-1") {
		t.Error("a host whose ports agree with the inventory was copied")
	}
	if inv.Host("hub-2").Hub.ClientPort != 4222 {
		t.Error("liveInventory changed the inventory itself")
	}
	f.setSwapped("hub-2", true)
	if n := f.liveInventory().Host("hub-2").Hub; n.ClientPort != 4222 || n.HTTPPort != 8222 {
		t.Errorf("after its swap hub-2 is reached at %d/%d, want the inventory's 4222/8222", n.ClientPort, n.HTTPPort)
	}
	f.setSwapped("hub-2", false) // restored
	if n := f.liveInventory().Host("hub-2").Hub; n.ClientPort != 4111 {
		t.Errorf("after a restore hub-2 is reached at %d, want the observed 4111", n.ClientPort)
	}
}
