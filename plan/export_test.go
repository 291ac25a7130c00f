package plan

import (
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// LeafListeners exposes leafListeners to the external tests.
var LeafListeners = leafListeners

// Decisions exposes decisions to the external tests.
var Decisions = decisions

// RenderCAStep renders every host as a plan at a CA rotation's step does.
func RenderCAStep(inv *inventory.Inventory, step int) (Desired, error) {
	d := Desired{}
	for _, h := range inv.Hosts {
		files, err := renderHostFiles(inv, h, unit.Options{CAStep: step})
		if err != nil {
			return nil, err
		}
		d[h.Name] = files
	}
	return d, nil
}
