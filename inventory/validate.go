package inventory

import "github.com/hashicorp/hcl/v2"

// validate applies the topology rules of design §3 to a resolved inventory.
func validate(inv *Inventory, d *decoded) hcl.Diagnostics {
	return nil
}
