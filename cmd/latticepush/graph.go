package main

import "github.com/spf13/cobra"

func newGraphCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "graph",
		Short: "graph (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("graph")
		},
	}
}
