package main

import (
	"github.com/latticepush/latticepush/inventory"
	"github.com/spf13/cobra"
)

// varFlag is -var NAME=VALUE or -var-file FILE. Both append to one list, so the command
// line's order decides which value wins, as in Terraform.
type varFlag struct {
	list *[]inventory.VarArg
	file bool
}

func (f varFlag) String() string { return "" }

func (f varFlag) Type() string {
	if f.file {
		return "file"
	}
	return "name=value"
}

func (f varFlag) Set(s string) error {
	if f.file {
		*f.list = append(*f.list, inventory.VarArg{File: s})
		return nil
	}
	a, err := inventory.ParseVarArg(s)
	if err != nil {
		return err
	}
	*f.list = append(*f.list, a)
	return nil
}

// addVarFlags gives cmd -var and -var-file, for the inventory it reads.
func (g *globals) addVarFlags(cmd *cobra.Command) {
	cmd.Flags().Var(varFlag{list: &g.vars}, "var", "set an inventory variable, NAME=VALUE (repeatable; later values win)")
	cmd.Flags().Var(varFlag{list: &g.vars, file: true}, "var-file", "set inventory variables from an HCL file of NAME = value lines (repeatable)")
}
