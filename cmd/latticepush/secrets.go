package main

import "github.com/spf13/cobra"

func newSecretsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "secrets",
		Short: "secrets (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("secrets")
		},
	}
}
