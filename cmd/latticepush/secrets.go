package main

import (
	"fmt"

	"github.com/latticepush/latticepush/inventory"
	"github.com/spf13/cobra"
)

func newSecretsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets INVENTORY",
		Short: "Generate the missing secrets into the inventory's secrets file",
		Long: `Secrets creates the inventory's secrets file (secrets { file = ... }, default secrets.json
next to the inventory) with mode 0600, or completes it: a random password for each account
password (system, leaf, check) and for the hub cluster's routes (route) that neither the
file nor its environment variable supplies, and an nkeys server seed for each wasmCloud host without one (its stable host ID).

Existing values are never changed, and no value is ever printed: only the names of the
secrets it added. Run it after adding wasmCloud hosts; keep the file out of version control.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runSecrets(args[0])
		},
	}
	g.addVarFlags(cmd)
	return cmd
}

func (g *globals) runSecrets(path string) error {
	inv, err := g.loadInventory(path, inventory.Options{SkipSecrets: true})
	if err != nil {
		return err
	}
	added, err := inventory.GenerateSecrets(inv, inventory.Options{})
	if err != nil {
		return err
	}
	if len(added) == 0 {
		fmt.Fprintf(g.stdout, "%s already holds every secret; nothing added.\n", inv.Auth.SecretsFile)
		return nil
	}
	fmt.Fprintf(g.stdout, "Added to %s (mode 0600):\n", inv.Auth.SecretsFile)
	for _, name := range added {
		fmt.Fprintf(g.stdout, "  + %s\n", name)
	}
	return nil
}
