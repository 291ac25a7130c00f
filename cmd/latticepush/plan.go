package main

import "github.com/spf13/cobra"

func newPlanCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "plan (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("plan")
		},
	}
}
