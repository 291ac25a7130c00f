package main

import (
	"fmt"

	"github.com/latticepush/latticepush/inventory"
	"github.com/spf13/cobra"
)

func newSecretsCommand(g *globals) *cobra.Command {
	var rotate, finish string
	cmd := &cobra.Command{
		Use:   "secrets INVENTORY",
		Short: "Generate the missing secrets into the inventory's secrets file",
		Long: `Secrets creates the inventory's secrets file (secrets { file = ... }, default secrets.json
next to the inventory) with mode 0600, or completes it: a random password for each account
password (system, leaf, check) and for the hub cluster's routes (route) that neither the
file nor its environment variable supplies, and an nkeys server seed for each wasmCloud host without one (its stable host ID).

Existing values are never changed, and no value is ever printed: only the names of the
secrets it added. Run it after adding wasmCloud hosts; keep the file out of version control.

--rotate passwords.leaf (or passwords.system, passwords.check, passwords.route) writes a new
password under the other user name of its pair (leaf-a, leaf-b; sys-a, sys-b; latticepush-a,
latticepush-b; route-a, route-b) and keeps the current one as retiring; plan and apply then
roll it out without a refused connection (README, Secrets; the route password takes one
apply per cluster member and one more). --rotate ca.key creates a new fleet CA and keeps the current
one as retiring: plan trusts both, reissues every certificate, then drops the old CA
(README, TLS). --finish-rotation forgets the retiring user or CA once plan reports the
rotation complete.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case rotate != "" && finish != "":
				return fmt.Errorf("--rotate and --finish-rotation do not go together: run one, then the other")
			case rotate != "" || finish != "":
				return g.runRotate(args[0], rotate, finish)
			}
			return g.runSecrets(args[0])
		},
	}
	cmd.Flags().StringVar(&rotate, "rotate", "", "rotate this secret: `passwords.leaf`, `passwords.system`, `passwords.check`, `passwords.route` or `ca.key`")
	cmd.Flags().StringVar(&finish, "finish-rotation", "", "forget the retiring user (or CA) of this secret's completed rotation")
	g.addVarFlags(cmd)
	return cmd
}

func (g *globals) runRotate(path, rotate, finish string) error {
	inv, err := g.loadInventory(path, inventory.Options{SkipSecrets: true})
	if err != nil {
		return err
	}
	if finish == inventory.SecretCAKey {
		old, err := inventory.FinishCARotation(inv)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s: forgot the retiring CA %s of %s.\n", inv.Auth.SecretsFile, old, finish)
		return nil
	}
	if rotate == inventory.SecretCAKey {
		old, cur, err := inventory.RotateCA(inv)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s: new fleet CA %s; CA %s is retiring (mode 0600, no key printed).\n", inv.Auth.SecretsFile, cur, old)
		fmt.Fprintf(g.stdout, "Next: `latticepush plan %s` shows the steps; apply, then plan and apply again for each next step.\n", path)
		return nil
	}
	if finish != "" {
		r, err := inventory.FinishRotation(inv, finish)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s: forgot the retiring user %s of %s; %s is its user.\n", inv.Auth.SecretsFile, r.OldUser, r.Secret, r.NewUser)
		return nil
	}
	r, err := inventory.RotatePassword(inv, rotate, inventory.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s: new %s for user %s; %s is retiring (mode 0600, no value printed).\n", inv.Auth.SecretsFile, r.Secret, r.NewUser, r.OldUser)
	next := "apply, then plan and apply again for the last"
	if r.Secret == inventory.SecretRoutePassword {
		next = "apply, then plan and apply again for each next step"
	}
	fmt.Fprintf(g.stdout, "Next: `latticepush plan %s` shows the steps; %s.\n", path, next)
	return nil
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
