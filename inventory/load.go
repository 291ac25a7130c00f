package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Options change what Load requires.
type Options struct {
	// SkipSecrets decodes and validates without reading the secrets file or the environment:
	// every Secret in the result is unset. For commands that never need a value (fmt, graph,
	// render without secrets); validate, plan and apply load secrets.
	SkipSecrets bool
	// LookupEnv reads environment variables named in `secrets { env = {...} }`.
	// Nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

func (o Options) lookupEnv(name string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// Loader loads inventories and keeps the parsed source of every file it read, so the caller
// can print diagnostics with snippets (hcl.NewDiagnosticTextWriter). A Loader is not safe for
// concurrent use.
type Loader struct {
	parser *hclparse.Parser
}

// NewLoader returns an empty Loader.
func NewLoader() *Loader {
	return &Loader{parser: hclparse.NewParser()}
}

// Files returns the parsed files by filename, for diagnostic snippets.
func (l *Loader) Files() map[string]*hcl.File {
	return l.parser.Files()
}

// Load reads the inventory at path with a fresh Loader. Use a Loader directly to print
// diagnostics with source snippets.
func Load(path string, opts Options) (*Inventory, hcl.Diagnostics) {
	return NewLoader().Load(path, opts)
}

// Load reads, decodes, resolves and validates the inventory at path, then reads its secrets
// unless opts.SkipSecrets. It returns every problem it finds as diagnostics, each with the
// source range it is about. The Inventory is nil if and only if the diagnostics hold an error;
// warnings come with a usable Inventory.
func (l *Loader) Load(path string, opts Options) (*Inventory, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read inventory",
			Detail:   fmt.Sprintf("%v. Pass the path of an inventory .hcl file.", err),
		}}
	}
	return l.LoadSource(path, src, opts)
}

// LoadSource is Load for an inventory already in memory; filename names it in diagnostics and
// relative paths in it (the secrets file) are resolved against filename's directory.
func (l *Loader) LoadSource(filename string, src []byte, opts Options) (*Inventory, hcl.Diagnostics) {
	file, diags := l.parser.ParseHCL(src, filename)
	if diags.HasErrors() {
		// A body with syntax errors decodes into noise; report the syntax errors alone.
		return nil, diags
	}

	var fs fileSchema
	// hclsyntax already adds "Did you mean" to unknown arguments and blocks.
	diags = append(diags, bastionReferences(gohcl.DecodeBody(file.Body, bastionContext(file.Body), &fs))...)

	sum := sha256.Sum256(src)
	d := newDecoded(&fs)
	inv := d.resolve(filename, filepath.Dir(filename), hex.EncodeToString(sum[:]))
	diags = append(diags, d.diags...)
	diags = append(diags, validate(inv, d)...)

	if !opts.SkipSecrets {
		diags = append(diags, loadSecrets(inv, d, opts)...)
	}
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return inv, diags
}

// bastionContext is what expressions in the file can refer to: bastion.<name>, the
// [user@]address[:port] of each bastion block, for proxy_jump. A reference to a bastion that
// does not exist is an error at the reference. Problems in the blocks themselves are left to
// the full decode.
func bastionContext(body hcl.Body) *hcl.EvalContext {
	content, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "bastion", LabelNames: []string{"name"}}}})
	vals := map[string]cty.Value{}
	for _, blk := range content.Blocks.OfType("bastion") {
		var bb bastionBlock
		if gohcl.DecodeBody(blk.Body, nil, &bb).HasErrors() {
			continue
		}
		vals[blk.Labels[0]] = cty.StringVal(bastionJump(&bb))
	}
	return &hcl.EvalContext{Variables: map[string]cty.Value{"bastion": cty.ObjectVal(vals)}}
}

// bastionReferences rewrites HCL's diagnostics about a reference to an undeclared bastion into
// one that says so, and drops the "unsuitable value" that follows from it at the same place.
func bastionReferences(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	var unknownAt []hcl.Range
	for _, d := range diags {
		if d.Summary != "Unsupported attribute" || d.Expression == nil || d.EvalContext == nil {
			out = append(out, d)
			continue
		}
		tr, err := hcl.AbsTraversalForExpr(d.Expression)
		if err != nil || tr.RootName() != "bastion" || len(tr) < 2 {
			out = append(out, d)
			continue
		}
		name := ""
		if a, ok := tr[1].(hcl.TraverseAttr); ok {
			name = a.Name
		}
		var declared []string
		for n := range d.EvalContext.Variables["bastion"].AsValueMap() {
			declared = append(declared, n)
		}
		sort.Strings(declared)
		detail := fmt.Sprintf("There is no bastion %q.%s", name, didYouMean(name, declared))
		if len(declared) == 0 {
			detail += fmt.Sprintf(` Declare it: bastion %q { address = "..." }.`, name)
		} else {
			detail += fmt.Sprintf(" Declared bastions: %s.", strings.Join(declared, ", "))
		}
		out = append(out, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown bastion", Detail: detail, Subject: d.Subject})
		if d.Subject != nil {
			unknownAt = append(unknownAt, *d.Subject)
		}
	}
	kept := out[:0]
	for _, d := range out {
		follows := false
		for _, r := range unknownAt {
			follows = follows || d.Summary == "Unsuitable value type" && d.Subject != nil && d.Subject.Overlaps(r)
		}
		if !follows {
			kept = append(kept, d)
		}
	}
	return kept
}

// bastionJump is the proxy_jump element for a bastion block: [user@]address[:port].
func bastionJump(bb *bastionBlock) string {
	s := bb.Address
	if bb.Port != nil {
		s = net.JoinHostPort(s, strconv.Itoa(*bb.Port))
	}
	if bb.User != nil && *bb.User != "" {
		s = *bb.User + "@" + s
	}
	return s
}

// sortDiagnostics orders diagnostics as the file reads: by file, then position; those without
// a source range first.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
