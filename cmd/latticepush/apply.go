package main

import "github.com/spf13/cobra"

func newApplyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "apply",
		Short: "apply (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("apply")
		},
	}
}
