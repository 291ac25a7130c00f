package inventory

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// didYouMean returns ` Did you mean "x"?` for the candidate closest to given, or "" when none
// is close (the same distance hcl uses for misspelt attributes).
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// pos formats where r starts as file:line:col, the form editors and the CLI use.
func pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// misspelt drops the "Missing required argument" error that follows from a misspelt one: a
// block with `adress = ...` gets "An argument named "adress" is not expected here. Did you
// mean "address"?" and, at its opening brace, "The argument "address" is required". The
// second says nothing the first does not, and points away from the line to fix.
func misspelt(diags hcl.Diagnostics, files []*hcl.File) hcl.Diagnostics {
	type key struct {
		file  string
		brace int
		name  string
	}
	suggested := map[key]bool{}
	for _, d := range diags {
		if d.Summary != "Unsupported argument" || d.Subject == nil {
			continue
		}
		m := suggestionRE.FindStringSubmatch(d.Detail)
		if m == nil {
			continue
		}
		if b := innermostBody(files, *d.Subject); b != nil {
			suggested[key{b.SrcRange.Filename, b.SrcRange.Start.Byte, m[1]}] = true
		}
	}
	if len(suggested) == 0 {
		return diags
	}
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Summary == "Missing required argument" && d.Subject != nil {
			if m := requiredRE.FindStringSubmatch(d.Detail); m != nil && suggested[key{d.Subject.Filename, d.Subject.Start.Byte, m[1]}] {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

var (
	suggestionRE = regexp.MustCompile(`Did you mean "([^"]+)"\?`)
	requiredRE   = regexp.MustCompile(`The argument "([^"]+)" is required`)
)

// innermostBody is the deepest block body in files that holds r.
func innermostBody(files []*hcl.File, r hcl.Range) *hclsyntax.Body {
	if b := innermostBlock(files, r); b != nil {
		return b.Body
	}
	return nil
}

// blockSchemas are the bodies of the inventory's blocks by block type, for suggestions.
var blockSchemas = map[string]any{
	"lattice":   &latticeBlock{},
	"secrets":   &secretsBlock{},
	"defaults":  &defaultsBlock{},
	"ssh":       &sshBlock{},
	"role":      &roleBlock{},
	"host":      &hostBlock{},
	"hosts":     &generatedHost{},
	"bastion":   &bastionBlock{},
	"nats":      &natsBlock{},
	"wasmcloud": &wasmcloudBlock{},
	"rollout":   &rolloutBlock{},
}

// suggestNames adds to HCL's "Unsupported argument" and "Unsupported block type" errors what
// HCL leaves out: a suggestion when the name is a prefix or a differently cased or dashed form
// of a known one ("addr", "Address", "client-port"), and otherwise the names the block takes.
func suggestNames(diags hcl.Diagnostics, files []*hcl.File) hcl.Diagnostics {
	for i, d := range diags {
		var what, noun string
		switch d.Summary {
		case "Unsupported argument":
			what, noun = "An argument named ", "arguments"
		case "Unsupported block type":
			what, noun = "Blocks of type ", "blocks"
		default:
			continue
		}
		if d.Subject == nil || strings.Contains(d.Detail, "Did you mean") {
			continue
		}
		m := quotedNameRE.FindStringSubmatch(d.Detail[strings.Index(d.Detail, what)+len(what):])
		blk := innermostBlock(files, *d.Subject)
		if m == nil || blk == nil {
			continue
		}
		schema, ok := blockSchemas[blk.Type]
		if !ok {
			continue
		}
		s, _ := gohcl.ImpliedBodySchema(schema)
		var names []string
		if noun == "arguments" {
			for _, a := range s.Attributes {
				names = append(names, a.Name)
			}
			if blk.Type == "hosts" {
				names = append(names, "for_each")
			}
		} else {
			for _, b := range s.Blocks {
				names = append(names, b.Type)
			}
		}
		sort.Strings(names)
		c := *d
		if best := closeName(m[1], names); best != "" {
			c.Detail = strings.TrimSuffix(d.Detail, ".") + fmt.Sprintf(". Did you mean %q?", best)
		} else if len(names) > 0 {
			c.Detail = strings.TrimSuffix(d.Detail, ".") + fmt.Sprintf(". A %s block takes the %s %s.", blk.Type, noun, strings.Join(names, ", "))
		} else {
			c.Detail = strings.TrimSuffix(d.Detail, ".") + fmt.Sprintf(". A %s block takes no %s.", blk.Type, noun)
		}
		diags[i] = &c
	}
	return diags
}

var quotedNameRE = regexp.MustCompile(`^"([^"]+)"`)

// closeName is the one name in names that given abbreviates or spells with other case or
// dashes, or "".
func closeName(given string, names []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	var prefixed []string
	for _, n := range names {
		if norm(n) == norm(given) {
			return n
		}
		if len(given) >= 3 && strings.HasPrefix(n, norm(given)) {
			prefixed = append(prefixed, n)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// innermostBlock is the deepest block in files whose body holds r.
func innermostBlock(files []*hcl.File, r hcl.Range) *hclsyntax.Block {
	var found *hclsyntax.Block
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, blk := range b.Blocks {
			if within(r, blk.Body.SrcRange) {
				found = blk
				walk(blk.Body)
				return
			}
		}
	}
	for _, f := range files {
		if f == nil {
			continue
		}
		if b, ok := f.Body.(*hclsyntax.Body); ok && within(r, b.SrcRange) {
			walk(b)
		}
	}
	return found
}
