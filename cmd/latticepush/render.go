package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/latticepush/latticepush/internal/atomicfile"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
	"github.com/spf13/cobra"
)

type renderArgs struct {
	path   string
	outDir string
	reveal bool
}

func newRenderCommand(g *globals) *cobra.Command {
	var a renderArgs
	cmd := &cobra.Command{
		Use:   "render INVENTORY -o DIR",
		Short: "Write every host's files (nats-server.conf, wasmCloud env, services) for review",
		Long: `Render writes, offline, the exact files apply would put on each host, as
DIR/<host>/<path on the host>: nats-server.conf, the wasmCloud environment file and the
systemd units or runit service directories. Secrets appear as ${secret:<name>} placeholders
unless --reveal-secrets is given; files that hold secrets are written with mode 0600.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.path = args[0]
			return g.runRender(a)
		},
	}
	cmd.Flags().StringVarP(&a.outDir, "out", "o", "", "directory to write the hosts' files into (required)")
	cmd.Flags().BoolVar(&a.reveal, "reveal-secrets", false, "write secret values instead of placeholders")
	g.addVarFlags(cmd)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func (g *globals) runRender(a renderArgs) error {
	// Placeholders need no secret values: do not require the secrets file for them.
	inv, err := g.loadInventory(a.path, inventory.Options{SkipSecrets: !a.reveal})
	if err != nil {
		return err
	}
	all, err := unit.All(inv, unit.Options{RevealSecrets: a.reveal})
	if err != nil {
		return err
	}
	hosts := make([]string, 0, len(all))
	for h := range all {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	n := 0
	for _, h := range hosts {
		for _, f := range all[h] {
			if err := writeRendered(filepath.Join(a.outDir, h, filepath.FromSlash(strings.TrimPrefix(f.Path, "/"))), f); err != nil {
				return err
			}
			n++
		}
	}
	what := "secrets as placeholders; --reveal-secrets writes their values"
	if a.reveal {
		what = "secrets revealed: files holding them have mode 0600"
	}
	fmt.Fprintf(g.stdout, "Wrote %s for %s to %s (%s).\n",
		plural(n, "file", "files"), plural(len(hosts), "host", "hosts"), a.outDir, what)
	return nil
}

// writeRendered writes f at path with f's mode, replacing any file there. The mode is set
// at creation, so a secret is never readable by others, even briefly.
func writeRendered(path string, f unit.File) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(path, f.Content, f.Mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
