package main

import "github.com/spf13/cobra"

func newVerifyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "verify (not implemented yet)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotYet("verify")
		},
	}
}
