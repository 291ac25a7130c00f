package unit

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// TestValidatedRenders: every inventory in the repository that validates also renders, with
// secrets revealed as apply renders them. A rule the renderer enforces that validate does not
// know fails here as soon as a fixture or example exercises it.
func TestValidatedRenders(t *testing.T) {
	var paths []string
	for _, root := range []string{filepath.Join("..", "inventory", "testdata"), filepath.Join("..", "examples")} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".hcl") && !strings.Contains(p, "varfiles") {
				paths = append(paths, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rendered := 0
	for _, p := range paths {
		path := p
		if filepath.Base(filepath.Dir(p)) == "fleet" {
			path = filepath.Dir(p) // an inventory directory
		}
		inv, diags := inventory.Load(path, inventory.Options{SkipSecrets: true})
		if diags.HasErrors() {
			continue
		}
		withSecrets(inv)
		if _, err := All(inv, Options{RevealSecrets: true}); err != nil {
			t.Errorf("%s validates but does not render: %v", path, err)
		}
		rendered++
	}
	if rendered < 8 {
		t.Errorf("only %d inventories validated; the walk found %d files", rendered, len(paths))
	}
}

// withSecrets gives every secret of inv a plain value, as the secrets file would.
func withSecrets(inv *inventory.Inventory) {
	inv.Auth.SystemPassword = inventory.NewSecret(inventory.SecretSystemPassword, "s3cret-system", "test")
	inv.Auth.LeafPassword = inventory.NewSecret(inventory.SecretLeafPassword, "s3cret-leaf", "test")
	inv.Auth.CheckPassword = inventory.NewSecret(inventory.SecretCheckPassword, "s3cret-check", "test")
	inv.Auth.RoutePassword = inventory.NewSecret(inventory.SecretRoutePassword, "s3cret-route", "test")
	for _, h := range inv.Hosts {
		if h.Wasmcloud != nil {
			h.Wasmcloud.HostSeed = inventory.NewSecret(inventory.HostSeedName(h.Name), "SNAXXX", "test")
		}
	}
}
