package main

import "github.com/spf13/cobra"

func newRenderCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "render",
		Short: "render (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("render")
		},
	}
}
