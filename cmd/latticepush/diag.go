package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcled"
	"github.com/latticepush/latticepush/inventory"
	"github.com/mitchellh/go-wordwrap"
	"golang.org/x/term"
)

// loadInventory loads the inventory at path and prints its diagnostics, errors and warnings,
// once, to stderr. With errors it returns an error that exits 1 without printing more; with
// warnings only it returns the inventory. Every command that reads an inventory uses it.
func (g *globals) loadInventory(path string, opts inventory.Options) (*inventory.Inventory, error) {
	l := inventory.NewLoader()
	opts.Vars = g.vars
	inv, diags := l.Load(path, opts)
	if len(diags) > 0 {
		if err := g.writeDiagnostics(g.stderr, l.Files(), diags); err != nil {
			return nil, err
		}
	}
	if diags.HasErrors() {
		return nil, silentExit(exitError)
	}
	return inv, nil
}

// writeDiagnostics prints diags for a person: severity and summary, file:line:col with the
// enclosing block, the source lines with the subject highlighted (in colour only on a
// terminal, and never with --no-color or NO_COLOR), then the detail wrapped to the terminal.
func (g *globals) writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	color, width := g.terminal(w)
	var b bytes.Buffer
	for _, d := range diags {
		writeDiagnostic(&b, files, d, color, width)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// terminal reports whether w is a terminal that gets colour, and its width (80 otherwise).
func (g *globals) terminal(w io.Writer) (color bool, width uint) {
	width = 80
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, width
	}
	if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
		width = uint(cols)
	}
	return !g.noColor && os.Getenv("NO_COLOR") == "", width
}

func writeDiagnostic(b *bytes.Buffer, files map[string]*hcl.File, d *hcl.Diagnostic, color bool, width uint) {
	sev, paint, bold, reset := severityName(d.Severity), "", "", ""
	if color {
		paint, bold, reset = "\x1b[31m", "\x1b[1;4m", "\x1b[0m"
		if d.Severity == hcl.DiagWarning {
			paint = "\x1b[33m"
		}
	}
	fmt.Fprintf(b, "%s%s%s: %s\n\n", paint, strings.ToUpper(sev[:1])+sev[1:], reset, d.Summary)
	if d.Subject != nil {
		s := d.Subject
		fmt.Fprintf(b, "  on %s:%d:%d", s.Filename, s.Start.Line, s.Start.Column)
		if sn := snippetOf(files, s); sn != nil {
			if sn.Context != "" {
				fmt.Fprintf(b, ", in %s", sn.Context)
			}
			b.WriteString(":\n")
			line := sn.StartLine
			for l := range strings.SplitSeq(sn.Code, "\n") {
				start, end := max(0, min(sn.HighlightStart, len(l))), max(0, min(sn.HighlightEnd, len(l)))
				fmt.Fprintf(b, "  %4d: %s%s%s%s%s\n", line, l[:start], bold, l[start:end], reset, l[end:])
				sn.HighlightStart -= len(l) + 1
				sn.HighlightEnd -= len(l) + 1
				line++
			}
		} else {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if d.Detail != "" {
		if width > 2 {
			b.WriteString(wordwrap.WrapString(d.Detail, width-1))
		} else {
			b.WriteString(d.Detail)
		}
		b.WriteString("\n\n")
	}
}

func severityName(s hcl.DiagnosticSeverity) string {
	switch s {
	case hcl.DiagError:
		return "error"
	case hcl.DiagWarning:
		return "warning"
	}
	return "unknown"
}

// snippet is the source a diagnostic is about: whole lines, and the subject's byte offsets
// within them.
type snippet struct {
	Context        string `json:"context,omitempty"` // enclosing block, e.g. host "edge-1"
	Code           string `json:"code"`
	StartLine      int    `json:"start_line"`
	HighlightStart int    `json:"highlight_start_offset"`
	HighlightEnd   int    `json:"highlight_end_offset"`
}

func snippetOf(files map[string]*hcl.File, subject *hcl.Range) *snippet {
	f := files[subject.Filename]
	if f == nil || f.Bytes == nil {
		return nil
	}
	rng := *subject
	if rng.Empty() {
		rng.End.Byte++
		rng.End.Column++
	}
	var lines []string
	sn := &snippet{Context: hcled.ContextString(f, subject.Start.Byte)}
	codeStart := -1
	sc := hcl.NewRangeScanner(f.Bytes, subject.Filename, bufio.ScanLines)
	for sc.Scan() {
		lr := sc.Range()
		if !lr.Overlaps(rng) {
			if codeStart >= 0 {
				break
			}
			continue
		}
		if codeStart < 0 {
			codeStart, sn.StartLine = lr.Start.Byte, lr.Start.Line
		}
		lines = append(lines, string(sc.Bytes()))
	}
	if codeStart < 0 {
		return nil
	}
	sn.Code = strings.Join(lines, "\n")
	sn.HighlightStart = min(subject.Start.Byte-codeStart, len(sn.Code))
	sn.HighlightEnd = min(subject.End.Byte-codeStart, len(sn.Code))
	return sn
}

// diagnosticsDocument is the -json output of validate (and of other commands' diagnostics).
// Its shape is versioned by FormatVersion: fields are only added within a major version.
type diagnosticsDocument struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

type jsonDiagnostic struct {
	Severity string     `json:"severity"` // "error" or "warning"
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *jsonRange `json:"range,omitempty"`
	Snippet  *snippet   `json:"snippet,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

const diagnosticsFormatVersion = "1.0"

func newDiagnosticsDocument(files map[string]*hcl.File, diags hcl.Diagnostics) diagnosticsDocument {
	doc := diagnosticsDocument{FormatVersion: diagnosticsFormatVersion, Diagnostics: []jsonDiagnostic{}}
	for _, d := range diags {
		jd := jsonDiagnostic{Severity: severityName(d.Severity), Summary: d.Summary, Detail: d.Detail}
		if s := d.Subject; s != nil {
			jd.Range = &jsonRange{
				Filename: s.Filename,
				Start:    jsonPos{s.Start.Line, s.Start.Column, s.Start.Byte},
				End:      jsonPos{s.End.Line, s.End.Column, s.End.Byte},
			}
			jd.Snippet = snippetOf(files, s)
		}
		switch d.Severity {
		case hcl.DiagError:
			doc.ErrorCount++
		case hcl.DiagWarning:
			doc.WarningCount++
		}
		doc.Diagnostics = append(doc.Diagnostics, jd)
	}
	doc.Valid = doc.ErrorCount == 0
	return doc
}
