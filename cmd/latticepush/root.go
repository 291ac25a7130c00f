package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/latticepush/latticepush/inventory"
)

// Exit codes, documented in `latticepush --help` and the README.
const (
	exitOK       = 0   // success; for plan -detailed-exitcode: no changes
	exitError    = 1   // any error, including invalid inventories
	exitChanges  = 2   // plan -detailed-exitcode: changes present
	exitVerify   = 3   // verify (or apply's final verify) found a failing check
	exitCanceled = 130 // interrupted
)

const exitCodesHelp = `Exit codes:
  0    success (plan -detailed-exitcode: no changes)
  1    error: invalid inventory, unreachable host, failed apply, rolled back
  2    plan -detailed-exitcode: changes present
  3    verify failed: the lattice does not work as the inventory says
  130  interrupted`

// globals are the streams and settings every command shares.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	noColor        bool
	// vars are the command line's -var and -var-file, in order, for every inventory it loads.
	vars []inventory.VarArg
}

// exitStatus is an error carrying the exit code it maps to. A command returns it after it
// has already printed what the user needs to know.
type exitStatus struct {
	code int
	err  error
}

func (e *exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitStatus) Unwrap() error { return e.err }

// silentExit returns an error that makes run exit with code without printing anything more.
func silentExit(code int) error { return &exitStatus{code: code} }

func (g *globals) exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var es *exitStatus
	if errors.As(err, &es) {
		if es.err != nil {
			fmt.Fprintf(g.stderr, "Error: %v\n", es.err)
		}
		return es.code
	}
	if errors.Is(err, errCanceled) {
		fmt.Fprintln(g.stderr, "Interrupted.")
		return exitCanceled
	}
	fmt.Fprintf(g.stderr, "Error: %v\n", err)
	return exitError
}

var errCanceled = errors.New("canceled")

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "latticepush",
		Short: "Deploy and change NATS + wasmCloud lattices over SSH",
		Long: `latticepush compiles an HCL inventory of hosts and roles (NATS hub cluster, leaf-node
servers, wasmCloud hosts) into a plan, applies it over SSH hub first with health gates, and
verifies that every leaf is linked and the JetStream domain answers through every leaf.

` + exitCodesHelp,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVar(&g.noColor, "no-color", os.Getenv("NO_COLOR") != "", "disable colour (also NO_COLOR)")
	root.SetVersionTemplate("latticepush {{.Version}}\n")
	root.AddCommand(
		newValidateCommand(g),
		newRenderCommand(g),
		newGraphCommand(g),
		newFmtCommand(g),
		newSecretsCommand(g),
		newPlanCommand(g),
		newApplyCommand(g),
		newVerifyCommand(g),
		newLabCommand(g),
		newForceUnlockCommand(g),
		newRestoreBucketsCommand(g),
		newImportCommand(g),
	)
	return root
}

// errNotYet marks a command whose implementation has not landed yet.
func errNotYet(what string) error {
	return &exitStatus{code: exitError, err: fmt.Errorf("%s is not implemented yet", what)}
}
