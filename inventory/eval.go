package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// VarEnvPrefix prefixes the environment variables that set inventory variables:
// LATTICEPUSH_VAR_site=ams sets var.site.
const VarEnvPrefix = "LATTICEPUSH_VAR_"

// VarArg is one -var NAME=VALUE or -var-file FILE from the command line. They apply in the
// order given, after the variables' defaults and LATTICEPUSH_VAR_<name>: the last one wins.
type VarArg struct {
	// File is a variables file (HCL attributes, `name = value`); when empty, Name and Value
	// are one -var.
	File        string
	Name, Value string
}

// ParseVarArg splits a -var argument, NAME=VALUE.
func ParseVarArg(s string) (VarArg, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return VarArg{}, fmt.Errorf("-var %q: write NAME=VALUE", s)
	}
	return VarArg{Name: name, Value: value}, nil
}

// variable is a declared `variable "<name>"` block and the value it ends up with.
type variable struct {
	name      string
	typ       cty.Type // cty.DynamicPseudoType without `type`
	declRange hcl.Range
	value     cty.Value // cty.NilVal while unset
	given     bool      // a value was given, valid or not
	source    string    // where value came from, for diagnostics
}

// scope is what inventory expressions can refer to: var.*, local.* and the functions.
type scope struct {
	dir       string
	vars      map[string]*variable
	varOrder  []string
	locals    map[string]*hcl.Attribute
	localVals map[string]cty.Value
	ctx       *hcl.EvalContext
}

var declSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
}}

var variableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "default"}, {Name: "type"}, {Name: "description"},
}}

// declare takes the variable and locals blocks out of every file and returns the rest of the
// files' bodies, merged.
func (s *scope) declare(files []*hcl.File) (hcl.Body, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var rest []hcl.Body
	s.vars, s.locals = map[string]*variable{}, map[string]*hcl.Attribute{}
	for _, f := range files {
		content, remain, d := f.Body.PartialContent(declSchema)
		diags = append(diags, d...)
		rest = append(rest, remain)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				diags = append(diags, s.declareVariable(b)...)
			case "locals":
				attrs, d := b.Body.JustAttributes()
				diags = append(diags, d...)
				names := make([]string, 0, len(attrs))
				for n := range attrs {
					names = append(names, n)
				}
				sort.Slice(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
				for _, n := range names {
					a := attrs[n]
					if prev, dup := s.locals[n]; dup {
						diags = append(diags, &hcl.Diagnostic{
							Severity: hcl.DiagError,
							Summary:  "Duplicate local value",
							Detail:   fmt.Sprintf("local.%s is already defined at %s. Remove one of them or rename it.", n, pos(prev.NameRange)),
							Subject:  a.NameRange.Ptr(),
						})
						continue
					}
					s.locals[n] = a
				}
			}
		}
	}
	if len(rest) == 1 {
		return rest[0], diags
	}
	return hcl.MergeBodies(rest), diags
}

func (s *scope) declareVariable(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	subject := b.LabelRanges[0].Ptr()
	if !hclsyntax.ValidIdentifier(name) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   fmt.Sprintf("Variable name %q must start with a letter and contain only letters, digits, '_' and '-'.", name),
			Subject:  subject,
		}}
	}
	if prev, dup := s.vars[name]; dup {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate variable",
			Detail:   fmt.Sprintf("Variable %q is already declared at %s. Remove one of the two blocks.", name, pos(prev.declRange)),
			Subject:  subject,
		}}
	}
	content, diags := b.Body.Content(variableSchema)
	v := &variable{name: name, typ: cty.DynamicPseudoType, declRange: b.DefRange}
	if a := content.Attributes["type"]; a != nil {
		t, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.typ = t
		}
	}
	if a := content.Attributes["description"]; a != nil {
		var desc string
		diags = append(diags, decodeStatic(a, &desc)...)
	}
	if a := content.Attributes["default"]; a != nil {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			val, d = s.convert(v, val, "its default", a.Expr.Range())
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.value, v.source = val, "default"
			}
		}
	}
	s.vars[name] = v
	s.varOrder = append(s.varOrder, name)
	return diags
}

func decodeStatic(a *hcl.Attribute, dst *string) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	if val, err := convert.Convert(val, cty.String); err != nil || val.IsNull() {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid description", Detail: "description must be a string.", Subject: a.Expr.Range().Ptr()}}
	} else {
		*dst = val.AsString()
	}
	return nil
}

// convert converts val to v's type.
func (s *scope) convert(v *variable, val cty.Value, from string, subject hcl.Range) (cty.Value, hcl.Diagnostics) {
	out, err := convert.Convert(val, v.typ)
	if err != nil {
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value of variable %q from %s is not a %s: %s.", v.name, from, v.typ.FriendlyName(), err),
		}
		if subject != (hcl.Range{}) {
			d.Subject = subject.Ptr()
		}
		return cty.NilVal, hcl.Diagnostics{d}
	}
	return out, nil
}

// references checks every var.* and local.* reference in the files (outside variable blocks,
// which may not refer to anything) against what is declared.
func (s *scope) references(files []*hcl.File) hcl.Diagnostics {
	var diags hcl.Diagnostics
	varNames := make([]string, 0, len(s.vars))
	for n := range s.vars {
		varNames = append(varNames, n)
	}
	localNames := make([]string, 0, len(s.locals))
	for n := range s.locals {
		localNames = append(localNames, n)
	}
	check := func(expr hcl.Expression) {
		for _, t := range expr.Variables() {
			root := t.RootName()
			if root != "var" && root != "local" {
				continue
			}
			if len(t) < 2 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   fmt.Sprintf("%s is not a value on its own: write %s.<name>.", root, root),
					Subject:  t.SourceRange().Ptr(),
				})
				continue
			}
			attr, ok := t[1].(hcl.TraverseAttr)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   fmt.Sprintf("Refer to a %s by name: %s.<name>.", map[string]string{"var": "variable", "local": "local value"}[root], root),
					Subject:  t.SourceRange().Ptr(),
				})
				continue
			}
			subject := hcl.RangeBetween(t[0].SourceRange(), t[1].SourceRange())
			switch {
			case root == "var" && s.vars[attr.Name] == nil:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown variable",
					Detail: fmt.Sprintf("There is no variable %q.%s Declare it with a variable %q block, or fix the name.",
						attr.Name, didYouMean(attr.Name, varNames), attr.Name),
					Subject: subject.Ptr(),
				})
			case root == "local" && s.locals[attr.Name] == nil:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown local value",
					Detail: fmt.Sprintf("There is no local value %q.%s Define it in a locals block, or fix the name.",
						attr.Name, didYouMean(attr.Name, localNames)),
					Subject: subject.Ptr(),
				})
			}
		}
	}
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			check(a.Expr)
		}
		for _, blk := range b.Blocks {
			if blk.Type != "variable" {
				walk(blk.Body)
			}
		}
	}
	for _, f := range files {
		if b, ok := f.Body.(*hclsyntax.Body); ok {
			walk(b)
		}
	}
	return diags
}

// assign gives every variable its value: default, then LATTICEPUSH_VAR_<name>, then the
// command line's -var and -var-file in order.
func (s *scope) assign(parse func(path string) (*hcl.File, hcl.Diagnostics), opts Options) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range s.varOrder {
		v := s.vars[name]
		env := VarEnvPrefix + name
		if raw, ok := opts.lookupEnv(env); ok {
			v.given = true
			val, d := s.parseRaw(v, raw, "the environment variable "+env)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.value, v.source = val, "env "+env
			}
		}
	}
	declared := make([]string, 0, len(s.vars))
	for n := range s.vars {
		declared = append(declared, n)
	}
	for _, a := range opts.Vars {
		if a.File == "" {
			v := s.vars[a.Name]
			if v == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Value for undeclared variable",
					Detail: fmt.Sprintf("-var %s=… sets a variable the inventory does not declare.%s Declare it with a variable %q block, or fix the name.",
						a.Name, didYouMean(a.Name, declared), a.Name),
				})
				continue
			}
			v.given = true
			val, d := s.parseRaw(v, a.Value, "-var "+a.Name)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.value, v.source = val, "-var"
			}
			continue
		}
		f, d := parse(a.File)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		attrs, d := f.Body.JustAttributes()
		diags = append(diags, d...)
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
		for _, n := range names {
			attr := attrs[n]
			v := s.vars[n]
			if v == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Value for undeclared variable",
					Detail: fmt.Sprintf("%s sets variable %q, which the inventory does not declare.%s Declare it with a variable %q block, or fix the name.",
						a.File, n, didYouMean(n, declared), n),
					Subject: attr.NameRange.Ptr(),
				})
				continue
			}
			v.given = true
			val, d := attr.Expr.Value(nil)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			val, d = s.convert(v, val, a.File, attr.Expr.Range())
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.value, v.source = val, a.File
			}
		}
	}
	for _, name := range s.varOrder {
		v := s.vars[name]
		if v.value == cty.NilVal && !v.given {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("Variable %q has no default. Give it a value: -var %s=VALUE, a -var-file that sets it, or %s%s in the environment.",
					name, name, VarEnvPrefix, name),
				Subject: v.declRange.Ptr(),
			})
		}
	}
	return diags
}

// parseRaw reads a -var or environment value as Terraform does: literally for a string,
// number or bool variable (or one without a type), else as an HCL expression.
func (s *scope) parseRaw(v *variable, raw, from string) (cty.Value, hcl.Diagnostics) {
	if v.typ == cty.DynamicPseudoType || v.typ.IsPrimitiveType() {
		return s.convert(v, cty.StringVal(raw), from, hcl.Range{})
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), fmt.Sprintf("<value for var.%s>", v.name), hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return s.convert(v, val, from, hcl.Range{})
}

// evalLocals evaluates the locals in dependency order and builds the evaluation context.
func (s *scope) evalLocals() hcl.Diagnostics {
	vars := map[string]cty.Value{}
	for n, v := range s.vars {
		vars[n] = v.value
	}
	s.localVals = map[string]cty.Value{}
	s.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.EmptyObjectVal},
		Functions: functions(s.dir),
	}
	var diags hcl.Diagnostics
	pending := make([]string, 0, len(s.locals))
	for n := range s.locals {
		pending = append(pending, n)
	}
	sort.Strings(pending)
	for len(pending) > 0 {
		var next []string
		for _, n := range pending {
			if !s.ready(s.locals[n]) {
				next = append(next, n)
				continue
			}
			val, d := s.locals[n].Expr.Value(s.ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				val = cty.DynamicVal
			}
			s.localVals[n] = val
			s.ctx.Variables["local"] = cty.ObjectVal(s.localVals)
		}
		if len(next) == len(pending) {
			for _, n := range next {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Local value cycle",
					Detail:   fmt.Sprintf("local.%s depends on itself through %s. Break the cycle.", n, "local."+strings.Join(next, ", local.")),
					Subject:  s.locals[n].NameRange.Ptr(),
				})
			}
			break
		}
		pending = next
	}
	return diags
}

// ready reports whether every local a refers to has a value.
func (s *scope) ready(a *hcl.Attribute) bool {
	for _, t := range a.Expr.Variables() {
		if t.RootName() != "local" || len(t) < 2 {
			continue
		}
		if attr, ok := t[1].(hcl.TraverseAttr); ok {
			if _, done := s.localVals[attr.Name]; !done {
				return false
			}
		}
	}
	return true
}

// digest is a sha256 over every variable's final value, "" when the inventory declares none.
func (s *scope) digest() string {
	if len(s.vars) == 0 {
		return ""
	}
	names := append([]string(nil), s.varOrder...)
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		raw, err := ctyjson.Marshal(s.vars[n].value, cty.DynamicPseudoType)
		if err != nil {
			raw = []byte(s.vars[n].value.GoString())
		}
		fmt.Fprintf(h, "%s=%s\n", n, raw)
	}
	return hex.EncodeToString(h.Sum(nil))
}
