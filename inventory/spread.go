package inventory

import (
	"fmt"
	"strings"
)

// spreadBy checks a role's rollout spread_by: a label key that every host of the role sets.
func (v *validator) spreadBy(role string, ro *rolloutBlock) {
	if ro.SpreadBy == nil {
		return
	}
	key := *ro.SpreadBy
	if !labelKeyRE.MatchString(key) {
		v.errorf(ro.SpreadByRange, "Invalid rollout spread_by",
			"spread_by %q in role %q must name a host label: letters, digits and '_' (spread_by = \"rack\").", key, role)
		return
	}
	var missing []string
	for _, h := range v.inv.Hosts {
		if _, ok := h.Labels[key]; h.HasRole(role) && !ok {
			missing = append(missing, h.Name)
		}
	}
	if len(missing) == 0 {
		return
	}
	more := ""
	if len(missing) > 3 {
		more = fmt.Sprintf(" and %d more", len(missing)-3)
		missing = missing[:3]
	}
	v.errorf(ro.SpreadByRange, "Host without the spread_by label",
		"spread_by %q in role %q: %s%s set no label %q. Give every host of the role one (labels = { %s = \"r1\" }), or remove spread_by.",
		key, role, strings.Join(missing, ", "), more, key, key)
}
