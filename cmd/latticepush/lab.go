package main

import "github.com/spf13/cobra"

func newLabCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lab",
		Short: "lab (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("lab")
		},
	}
}
