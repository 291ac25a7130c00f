package main

import "github.com/spf13/cobra"

func newFmtCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "fmt",
		Short: "fmt (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("fmt")
		},
	}
}
