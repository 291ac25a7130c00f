package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/spf13/cobra"
)

type validateArgs struct {
	path string
	json bool
}

func newValidateCommand(g *globals) *cobra.Command {
	var a validateArgs
	cmd := &cobra.Command{
		Use:   "validate INVENTORY",
		Short: "Check an inventory offline: syntax, topology rules and secrets",
		Long: `Validate decodes the inventory, applies every topology rule (one hub cluster, valid and
distinct JetStream domains, a local nats-server for each wasmCloud host, unique names, addresses
and ports...) and reads its secrets, without contacting any host; a missing secrets file or
secret is only a warning here (plan and apply need them). It reports every problem at once,
each with file:line:col, the offending source and how to fix it. INVENTORY is a .hcl file
or a directory of them; -var NAME=VALUE and -var-file FILE set its variables.

With --json it prints one document instead:
  {"format_version": "1.0", "valid": bool, "error_count": n, "warning_count": n,
   "diagnostics": [{"severity", "summary", "detail", "range": {"filename",
     "start": {"line", "column", "byte"}, "end": {...}}, "snippet": {...}}]}

Exit status: 0 when valid (warnings allowed), 1 with any error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.path = args[0]
			return g.runValidate(a)
		},
	}
	cmd.Flags().BoolVar(&a.json, "json", false, "print a JSON document instead of text")
	g.addVarFlags(cmd)
	return cmd
}

func (g *globals) runValidate(a validateArgs) error {
	l := inventory.NewLoader()
	// Offline and without secrets: missing ones are warnings here, errors for plan and apply.
	inv, diags := l.Load(a.path, inventory.Options{SecretsOptional: true, Vars: g.vars})

	if a.json {
		doc := newDiagnosticsDocument(l.Files(), diags)
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
		if !doc.Valid {
			return silentExit(exitError)
		}
		return nil
	}

	if err := g.writeDiagnostics(g.stderr, l.Files(), diags); err != nil {
		return err
	}
	doc := newDiagnosticsDocument(nil, diags)
	if !doc.Valid {
		fmt.Fprintf(g.stdout, "Invalid: %s, %s.\n", plural(doc.ErrorCount, "error", "errors"), plural(doc.WarningCount, "warning", "warnings"))
		return silentExit(exitError)
	}
	fmt.Fprintf(g.stdout, "Valid: %s.\n", inventorySummary(inv, doc.WarningCount))
	return nil
}

// inventorySummary is one line about a valid inventory, e.g.
// "3 hubs, 4 leaves, 4 wasmCloud hosts, lattice prod, domain core".
func inventorySummary(inv *inventory.Inventory, warnings int) string {
	parts := []string{
		plural(len(inv.Hubs()), "hub", "hubs"),
		plural(len(inv.HostsWithRole(inventory.RoleLeaf)), "leaf", "leaves"),
		plural(len(inv.HostsWithRole(inventory.RoleWasmcloud)), "wasmCloud host", "wasmCloud hosts"),
		"lattice " + inv.Lattice.Name,
		"domain " + inv.Lattice.JSDomain,
	}
	if n := len(inv.Relays()); n > 0 {
		parts = slices.Insert(parts, 1, plural(n, "relay", "relays"))
	}
	s := strings.Join(parts, ", ")
	if warnings > 0 {
		s += " (" + plural(warnings, "warning", "warnings") + ")"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
