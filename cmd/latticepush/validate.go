package main

import "github.com/spf13/cobra"

func newValidateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "validate (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("validate")
		},
	}
}
