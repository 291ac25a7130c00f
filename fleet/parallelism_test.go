package fleet

import (
	"path/filepath"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// The inventory's `parallelism` is the fleet's, which apply also bounds its lock, stage and
// unlock phases by (cmd/latticepush passes it on); Options overrides it.
func TestParallelism(t *testing.T) {
	inv, diags := inventory.Load(filepath.Join("..", "examples", "lab", "inventory.hcl"), inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := New(inv, nil, Options{}).Parallelism(); got != 16 {
		t.Errorf("examples/lab sets parallelism = 16; the fleet works on %d hosts at once", got)
	}
	if got := New(inv, nil, Options{Parallelism: 3}).Parallelism(); got != 3 {
		t.Errorf("Options.Parallelism 3: got %d", got)
	}
	for _, h := range inv.Hosts {
		h.Parallelism = 0
	}
	if got := New(inv, nil, Options{}).Parallelism(); got != 32 {
		t.Errorf("no parallelism anywhere: got %d, want the default 32", got)
	}
}
