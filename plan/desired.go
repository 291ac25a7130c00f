package plan

import (
	"fmt"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// Render renders every host's desired files twice: with secrets revealed (what is uploaded
// and hashed) and with placeholders (what diffs show).
func Render(inv *inventory.Inventory) (Desired, error) {
	revealed, err := unit.All(inv, unit.Options{RevealSecrets: true})
	if err != nil {
		return nil, err
	}
	display, err := unit.All(inv, unit.Options{})
	if err != nil {
		return nil, err
	}
	d := Desired{}
	for host, files := range revealed {
		shown := display[host]
		if len(shown) != len(files) {
			return nil, fmt.Errorf("%s: rendering with and without secrets gave different files", host)
		}
		for i, f := range files {
			if shown[i].Path != f.Path {
				return nil, fmt.Errorf("%s: rendering with and without secrets gave different files", host)
			}
			d[host] = append(d[host], DesiredFile{
				Path: f.Path, Mode: uint32(f.Mode.Perm()), Group: f.Group, Service: f.Service, Kind: f.Kind, Secret: f.Secret,
				Content: f.Content, Display: shown[i].Content,
			})
		}
	}
	return d, nil
}
