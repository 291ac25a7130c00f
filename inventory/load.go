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
	"time"

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
	// SecretsOptional makes a missing secrets file, or secrets missing from it, warnings
	// instead of errors (validate: a fresh clone has no secrets yet). Plan and apply need them.
	SecretsOptional bool
	// LookupEnv reads environment variables named in `secrets { env = {...} }` and
	// LATTICEPUSH_VAR_<name>. Nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// Vars are the command line's -var and -var-file, in the order given.
	Vars []VarArg
	// Now is the clock TLS certificates are issued and checked against; zero means the
	// current time.
	Now time.Time
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
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

// source is one inventory file's name and bytes.
type source struct {
	name string
	src  []byte
}

// Load reads, decodes, resolves and validates the inventory at path, then reads its secrets
// unless opts.SkipSecrets. path is one .hcl file, or a directory whose *.hcl files together
// are the inventory. It returns every problem it finds as diagnostics, each with the source
// range it is about. The Inventory is nil if and only if the diagnostics hold an error;
// warnings come with a usable Inventory.
func (l *Loader) Load(path string, opts Options) (*Inventory, hcl.Diagnostics) {
	cannot := func(err error, hint string) hcl.Diagnostics {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read inventory",
			Detail:   fmt.Sprintf("%v. %s", err, hint),
		}}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, cannot(err, "Pass the path of an inventory .hcl file or of a directory of them.")
	}
	if !st.IsDir() {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, cannot(err, "Pass the path of an inventory .hcl file or of a directory of them.")
		}
		return l.load(path, filepath.Dir(path), []source{{path, src}}, opts)
	}
	names, err := filepath.Glob(filepath.Join(path, "*.hcl"))
	if err == nil && len(names) == 0 {
		err = fmt.Errorf("%s holds no .hcl file", path)
	}
	if err != nil {
		return nil, cannot(err, "An inventory directory holds the inventory's .hcl files (variables files passed with -var-file belong elsewhere).")
	}
	sort.Strings(names)
	var srcs []source
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			return nil, cannot(err, "Fix the file's permissions.")
		}
		srcs = append(srcs, source{n, src})
	}
	return l.load(path, path, srcs, opts)
}

// LoadSource is Load for an inventory already in memory; filename names it in diagnostics and
// relative paths in it (the secrets file) are resolved against filename's directory.
func (l *Loader) LoadSource(filename string, src []byte, opts Options) (*Inventory, hcl.Diagnostics) {
	return l.load(filename, filepath.Dir(filename), []source{{filename, src}}, opts)
}

func (l *Loader) load(name, dir string, srcs []source, opts Options) (*Inventory, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var files []*hcl.File
	for _, s := range srcs {
		f, d := l.parser.ParseHCL(s.src, s.name)
		diags = append(diags, d...)
		files = append(files, f)
	}
	if diags.HasErrors() {
		// A body with syntax errors decodes into noise; report the syntax errors alone.
		return nil, diags
	}

	// Variables, locals and every reference to them first: values that cannot be computed
	// would only turn into a cascade of errors further down.
	sc := &scope{dir: dir}
	body, d := sc.declare(files)
	diags = append(diags, d...)
	diags = append(diags, sc.references(files)...)
	if !diags.HasErrors() {
		diags = append(diags, sc.assign(l.parser.ParseHCLFile, opts)...)
	}
	if !diags.HasErrors() {
		diags = append(diags, sc.evalLocals()...)
	}
	if diags.HasErrors() {
		sortDiagnostics(diags)
		return nil, diags
	}

	var fs fileSchema
	// hclsyntax already adds "Did you mean" to unknown arguments and blocks.
	// bastion.<name> is known to every expression once the variables are.
	sc.ctx.Variables["bastion"] = bastionContext(body).Variables["bastion"]
	diags = append(diags, dropConsequences(bastionReferences(gohcl.DecodeBody(body, sc.ctx, &fs)))...)
	diags = append(diags, firstLattice(body, sc.ctx, &fs)...)
	generated, d := expand(fs.Groups, sc.ctx)
	diags = append(diags, d...)
	diags = misspelt(suggestNames(diags, files), files)
	fs.Hosts = append(fs.Hosts, generated...)

	dec := newDecoded(&fs)
	inv := dec.resolve(name, dir, digest(srcs))
	inv.VariablesDigest = sc.digest()
	for _, s := range srcs {
		inv.Files = append(inv.Files, s.name)
	}
	diags = append(diags, dec.diags...)
	diags = append(diags, validate(inv, dec)...)
	diags = append(diags, resolveTLS(inv, dec, sc.ctx, opts.now())...)

	if !opts.SkipSecrets {
		diags = append(diags, loadSecrets(inv, dec, opts)...)
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
		for n := range bastionsIn(d.EvalContext).AsValueMap() {
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

// bastionsIn is the bastion object of ctx or of the context it was made from (a generated
// host's each.* context is a child of the inventory's).
func bastionsIn(ctx *hcl.EvalContext) cty.Value {
	for c := ctx; c != nil; c = c.Parent() {
		if v, ok := c.Variables["bastion"]; ok && v.Type().IsObjectType() {
			return v
		}
	}
	return cty.EmptyObjectVal
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

// digest is a sha256 (hex) of the inventory's source: of its bytes for one file, else of
// every file's name and bytes.
func digest(srcs []source) string {
	if len(srcs) == 1 {
		sum := sha256.Sum256(srcs[0].src)
		return hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(s.name), len(s.src))
		h.Write(s.src)
	}
	return hex.EncodeToString(h.Sum(nil))
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

// firstLattice decodes the first lattice block when there are several (gohcl reports the
// duplicate and decodes none), so the rest of the inventory is checked against it rather than
// against an empty lattice.
func firstLattice(body hcl.Body, ctx *hcl.EvalContext, fs *fileSchema) hcl.Diagnostics {
	if fs.Lattice.DeclRange != (hcl.Range{}) {
		return nil
	}
	content, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "lattice", LabelNames: []string{"name"}}}})
	if len(content.Blocks) < 2 {
		return nil
	}
	b := content.Blocks[0]
	diags := gohcl.DecodeBody(b.Body, ctx, &fs.Lattice)
	fs.Lattice.Name, fs.Lattice.NameRange, fs.Lattice.DeclRange = b.Labels[0], b.LabelRanges[0], b.DefRange
	return diags
}
