package inventory

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// bastions checks bastion blocks as host blocks are checked: a name proxy_jump can refer to
// (bastion.<name>), declared once, an address SSH reaches, a port in range, a valid
// strict_host_key_checking. It also catches proxy_jump = "bastion.<name>" written as a
// string, which names a host called that instead of the bastion.
func (v *validator) bastions() {
	seen := map[string]*bastionBlock{}
	for i := range v.d.fs.Bastions {
		bb := &v.d.fs.Bastions[i]
		if !isName(bb.Name) || !(bb.Name[0] == '_' || bb.Name[0] >= 'a' && bb.Name[0] <= 'z' || bb.Name[0] >= 'A' && bb.Name[0] <= 'Z') {
			v.errorf(bb.NameRange, "Invalid bastion name",
				"Bastion name %q must start with a letter or '_' and contain only letters, digits, '_' and '-': proxy_jump refers to it as bastion.<name>.", bb.Name)
		}
		if prev, dup := seen[bb.Name]; dup {
			v.errorf(bb.NameRange, "Duplicate bastion",
				"Bastion %q is already declared at %s. Rename one of them or merge the two blocks.", bb.Name, pos(prev.DeclRange))
			continue
		}
		seen[bb.Name] = bb
		if bb.AddressRange == (hcl.Range{}) {
			// no address: decoding reported the missing argument
		} else if bb.Address == "" || strings.ContainsFunc(bb.Address, isSpace) || strings.Contains(bb.Address, "://") || strings.Contains(bb.Address, "@") {
			v.errorf(bb.AddressRange, "Invalid address",
				"address %q must be a host name or IP address that SSH reaches, without spaces, a user or a scheme (set user = \"...\" in the block).", bb.Address)
		}
		if bb.Port != nil && (*bb.Port < 1 || *bb.Port > 65535) {
			v.errorf(bb.PortRange, "Port out of range", "ssh port %d must be between 1 and 65535 (or omitted).", *bb.Port)
		}
		if bb.User != nil && strings.ContainsFunc(*bb.User, isSpace) {
			v.errorf(bb.UserRange, "Invalid SSH user", "SSH user %q must not contain spaces.", *bb.User)
		}
		if s := bb.StrictHostKeyChecking; s != nil && *s != "yes" && *s != "accept-new" {
			v.errorf(bb.StrictRange, "Invalid strict_host_key_checking",
				"strict_host_key_checking %q must be \"yes\" (the host key must already be in known_hosts) or \"accept-new\" (trust a host's key on first contact).", *s)
		}
	}
	var bodies []hcl.Body
	if def := v.d.fs.Defaults; def != nil && def.SSH != nil {
		bodies = append(bodies, def.SSH.Body)
	}
	for i := range v.d.fs.Hosts {
		if hb := &v.d.fs.Hosts[i]; hb.SSH != nil {
			bodies = append(bodies, hb.SSH.Body)
		}
	}
	for _, b := range bodies {
		attrs, _ := b.JustAttributes()
		a, ok := attrs["proxy_jump"]
		if !ok {
			continue
		}
		val, diags := a.Expr.Value(nil) // only a literal evaluates without the bastions
		if diags.HasErrors() || !val.Type().Equals(cty.String) || val.IsNull() {
			continue
		}
		for _, el := range strings.Split(val.AsString(), ",") {
			name, ok := strings.CutPrefix(strings.TrimSpace(el), "bastion.")
			if _, known := seen[name]; ok && known {
				v.errorf(a.Expr.Range(), "Bastion named as a string",
					"proxy_jump %q names a host called %q, not the bastion block %q: write it without quotes, proxy_jump = bastion.%s (or \"${bastion.%s},...\" in a chain).",
					val.AsString(), strings.TrimSpace(el), name, name, name)
			}
		}
	}
}
