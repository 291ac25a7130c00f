package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
)

type fmtArgs struct {
	paths []string
	check bool
	write bool
}

func newFmtCommand(g *globals) *cobra.Command {
	var a fmtArgs
	cmd := &cobra.Command{
		Use:   "fmt [--check] [-w=false] [FILE|DIR]...",
		Short: "Rewrite inventory files in the canonical HCL format",
		Long: `Fmt rewrites HCL inventory files in the canonical format (as terraform fmt does) and
lists the files it changed. A directory stands for the .hcl files in it; no argument means
the current directory.

  --check      change nothing; list the files that are not formatted and exit 1 if any
  -w=false     print the formatted source to stdout instead of rewriting files`,
		RunE: func(cmd *cobra.Command, args []string) error {
			a.paths = args
			return g.runFmt(a)
		},
	}
	cmd.Flags().BoolVar(&a.check, "check", false, "list unformatted files and exit 1 if any; change nothing")
	cmd.Flags().BoolVarP(&a.write, "write", "w", true, "rewrite files in place")
	return cmd
}

func (g *globals) runFmt(a fmtArgs) error {
	files, err := hclFiles(a.paths)
	if err != nil {
		return err
	}
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	unformatted := 0
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// hclwrite formats whatever it is given; refuse files that do not parse.
		if _, d := parser.ParseHCL(src, path); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		out := hclwrite.Format(src)
		changed := !bytes.Equal(src, out)
		switch {
		case a.check:
			if changed {
				unformatted++
				fmt.Fprintln(g.stdout, path)
			}
		case !a.write:
			if _, err := g.stdout.Write(out); err != nil {
				return err
			}
		case changed:
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, out, st.Mode().Perm()); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, path)
		}
	}
	if len(diags) > 0 {
		if err := g.writeDiagnostics(g.stderr, parser.Files(), diags); err != nil {
			return err
		}
		return silentExit(exitError)
	}
	if unformatted > 0 {
		return &exitStatus{code: exitError, err: fmt.Errorf("%s not in canonical format: run `latticepush fmt` to rewrite",
			plural(unformatted, "file", "files"))}
	}
	return nil
}

// hclFiles expands paths: files as given, directories to their *.hcl files. No path means the
// current directory.
func hclFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.hcl"))
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}
