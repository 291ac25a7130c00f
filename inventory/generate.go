package inventory

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// expand evaluates each hosts block's for_each and decodes its body once per element, with
// each.key and each.value set, into host blocks. Diagnostics about an instance name it.
func expand(groups []hostsBlock, ctx *hcl.EvalContext) ([]hostBlock, hcl.Diagnostics) {
	var set diagSet
	var out []hostBlock
	seen := map[string]*hostsBlock{}
	for gi := range groups {
		g := &groups[gi]
		if prev, dup := seen[g.Name]; dup {
			set.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate hosts block",
				Detail:   fmt.Sprintf("hosts %q is already declared at %s. Rename one of them or merge the two blocks.", g.Name, pos(prev.DeclRange)),
				Subject:  g.NameRange.Ptr(),
			}, instance{})
			continue
		}
		seen[g.Name] = g
		keys, vals, diags := forEach(g, ctx)
		for _, d := range diags {
			set.add(d, instance{})
		}
		gen := g.DeclRange
		if b, ok := g.Rest.(*hclsyntax.Body); ok {
			gen = hcl.RangeOver(gen, b.SrcRange)
		}
		for i, key := range keys {
			inst := instance{g.Name, key}
			child := ctx.NewChild()
			child.Variables = map[string]cty.Value{
				"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "value": vals[i]}),
			}
			var gh generatedHost
			diags := dropConsequences(bastionReferences(gohcl.DecodeBody(g.Rest, child, &gh)))
			for _, d := range diags {
				set.add(d, inst)
			}
			if diags.HasErrors() {
				continue
			}
			hb := hostBlock{
				Name:                key,
				Address:             gh.Address,
				Roles:               gh.Roles,
				Labels:              gh.Labels,
				SSH:                 gh.SSH,
				NATS:                gh.NATS,
				Wasmcloud:           gh.Wasmcloud,
				DeclRange:           g.DeclRange,
				NameRange:           g.NameRange,
				AddressRange:        gh.AddressRange,
				RolesRange:          gh.RolesRange,
				LabelsRange:         gh.LabelsRange,
				ServiceManager:      gh.ServiceManager,
				ServiceManagerRange: gh.ServiceManagerRange,
				Group:               g,
				Instance:            inst,
				GenRange:            gen,
			}
			if gh.Name != nil {
				hb.Name, hb.NameRange = *gh.Name, gh.NameRange
			}
			out = append(out, hb)
		}
	}
	return out, set.done()
}

// forEach evaluates a hosts block's for_each: a map or object (each.key is the key), or a set,
// list or tuple of strings (each.key and each.value are the string).
func forEach(g *hostsBlock, ctx *hcl.EvalContext) ([]string, []cty.Value, hcl.Diagnostics) {
	val, diags := g.ForEach.Value(ctx)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	subject := g.ForEach.Range().Ptr()
	invalid := func(detail string, args ...any) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid for_each argument",
			Detail:   fmt.Sprintf("hosts %q: ", g.Name) + fmt.Sprintf(detail, args...),
			Subject:  subject,
		})
	}
	ty := val.Type()
	switch {
	case val.IsNull():
		return nil, nil, invalid("for_each is null. Give it a map, or a set or list of host names.")
	case !val.IsWhollyKnown():
		return nil, nil, invalid("for_each must be known when the inventory is read.")
	case ty.IsMapType() || ty.IsObjectType():
		var keys []string
		var vals []cty.Value
		for it := val.ElementIterator(); it.Next(); {
			k, v := it.Element()
			keys = append(keys, k.AsString())
			vals = append(vals, v)
		}
		return keys, vals, diags
	case ty.IsSetType() || ty.IsListType() || ty.IsTupleType():
		var keys []string
		var vals []cty.Value
		seen := map[string]int{}
		i := 0
		for it := val.ElementIterator(); it.Next(); i++ {
			_, v := it.Element()
			if v.IsNull() || v.Type() != cty.String {
				return nil, nil, invalid("element %d is %s, not a string. for_each over a set or list takes host names (strings); use a map to attach values, or format() to make names.", i, friendly(v))
			}
			k := v.AsString()
			if j, dup := seen[k]; dup {
				return nil, nil, invalid("elements %d and %d are both %q: each key generates one host. Use distinct names (or distinct() to drop repeats).", j, i, k)
			}
			seen[k] = i
			keys = append(keys, k)
			vals = append(vals, v)
		}
		return keys, vals, diags
	}
	return nil, nil, invalid("for_each must be a map, an object, or a set or list of strings; this is %s. For numbered hosts write e.g. [for i in range(1, 101) : format(\"edge-%%03d\", i)].", friendly(val))
}

func friendly(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return "a " + v.Type().FriendlyName()
}
