package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
)

func newApplyCommand(g *globals) *cobra.Command {
	var f planFlags
	var autoApprove bool
	var snapshotDir string
	cmd := &cobra.Command{
		Use:   "apply PLANFILE | INVENTORY",
		Short: "Carry out a plan: stage, swap, reload or restart hub first, gated, then verify",
		Long: `apply locks every host, re-observes it and refuses a stale plan, uploads every changed file
next to its destination, checks staged configs with each host's own nats-server, then runs
the waves: hub nodes one at a time (meta leader last), leaves and wasmCloud hosts in batches,
each gated by the checks of ` + "`latticepush verify`" + `. A failed gate restores that host's previous
files and restarts it; the rollout stops once the role's max_failures is exceeded. Then it
verifies the whole lattice, leaves an audit record on each changed host and unlocks.

Given an inventory, apply locks every host first, observes each once under the lock, plans,
and asks before changing anything (--auto-approve skips the question); the hosts stay locked
while it asks. Given a saved plan file, it applies exactly that plan or refuses it.

A JetStream domain cutover (plan --allow-domain-change) can save the lattice buckets first:
--snapshot DIR writes every key of LATTICEDATA_<lattice> and CONFIGDATA_<lattice>, read on
the old domain after the preflight and before any hub stops, to DIR (JSON, mode 0600);
` + "`latticepush restore-buckets`" + ` puts them back.

` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			saved, invPath, err := readPlanArg(args[0])
			if err != nil {
				return err
			}
			opts := f.options()
			if saved != nil {
				opts = plan.OptionsOf(saved)
			}
			s, err := g.newSession(ctx, invPath, opts)
			if err != nil {
				return err
			}
			defer s.Close()
			if saved != nil {
				if err := plan.CheckVariables(saved, s.Inv.VariablesDigest); err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
			}
			events := g.progress(f.json)
			ropts := rollout.Options{Owner: lockOwner(args), Events: events, SnapshotDir: snapshotDir, Settle: s.Inv.Settle(), Parallelism: s.Fleet.Parallelism()}
			gates := s.Gates(verify.Options{})
			if saved != nil {
				g.snapshotTip(saved, snapshotDir, f.json)
				target := rollout.Target{Plan: saved, Probes: s.Probes, Replan: s.build}
				res, err := rollout.Apply(ctx, target, s.Fleet, gates, ropts)
				return g.finishApply(res, err, f.json)
			}
			// Plan under the lock: what is shown and confirmed is what is applied.
			var reviewed *plan.Plan
			target := rollout.Target{Probes: s.Probes, Replan: s.planFrom(ctx), Review: func(p *plan.Plan) error {
				reviewed = p
				if !f.json {
					g.printPlan(p)
				}
				if !p.HasChanges() {
					return nil
				}
				if !autoApprove {
					if err := g.confirm(ctx); err != nil {
						return err
					}
				}
				g.snapshotTip(p, snapshotDir, f.json)
				return nil
			}}
			res, err := rollout.Apply(ctx, target, s.Fleet, gates, ropts)
			if errors.Is(err, errAborted) {
				return err // said no, or Ctrl-C at the question: nothing was changed, no table
			}
			if err == nil && reviewed != nil && !reviewed.HasChanges() {
				if f.json {
					return g.emitJSON(map[string]any{"type": "result", "changes": false})
				}
				return nil
			}
			return g.finishApply(res, err, f.json)
		},
	}
	f.add(cmd)
	g.addVarFlags(cmd)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "apply without asking (for CI)")
	cmd.Flags().StringVar(&snapshotDir, "snapshot", "", "before a domain cutover stops the hubs, save the lattice buckets to this directory")
	return cmd
}

// readPlanArg tells a saved plan file from an inventory. For a plan it returns the plan and
// the inventory it was made from.
func readPlanArg(path string) (*plan.Plan, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return nil, path, nil
	}
	p, err := plan.Read(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return p, p.Inventory, nil
}

// snapshotTip suggests --snapshot before a domain cutover that does not save the buckets.
func (g *globals) snapshotTip(p *plan.Plan, snapshotDir string, asJSON bool) {
	if p.Cutover != nil && snapshotDir == "" && !asJSON {
		fmt.Fprintln(g.stdout, "Tip: --snapshot DIR saves the lattice buckets before the hubs stop (latticepush restore-buckets puts them back).")
	}
}

// confirm asks the operator to type "yes" on a terminal. Ctrl-C (ctx) stops the question:
// apply holds the hosts' locks meanwhile, and releases them.
func (g *globals) confirm(ctx context.Context) error {
	in, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return errors.New("apply needs confirmation, and standard input is not a terminal: review the plan and pass --auto-approve, or save it with `plan --out FILE` and apply the file")
	}
	fmt.Fprint(g.stdout, "\nDo you want to apply these changes? Only 'yes' will be accepted: ")
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(in).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(g.stdout)
		return errAborted
	case line := <-answer:
		if strings.TrimSpace(line) != "yes" {
			return errAborted
		}
	}
	return nil
}

// progress returns the event sink: JSON lines, or one plain line per event.
func (g *globals) progress(asJSON bool) func(rollout.Event) {
	start := time.Now()
	return func(e rollout.Event) {
		if asJSON {
			_ = g.emitJSON(e)
			return
		}
		t := fmt.Sprintf("[%6.1fs]", time.Since(start).Seconds())
		switch e.Type {
		case rollout.EventPhase:
			name := string(e.Phase)
			if e.Wave != "" {
				name += " " + string(e.Wave)
			}
			fmt.Fprintf(g.stdout, "%s == %s: %s\n", t, name, e.Message)
		case rollout.EventUnitStart:
			fmt.Fprintf(g.stdout, "%s    %s: %s ...\n", t, e.Unit, e.Action)
		case rollout.EventWait, rollout.EventWaited:
			fmt.Fprintf(g.stdout, "%s    %s: %s\n", t, subject(e), e.Message)
		case rollout.EventUnitDone:
			fmt.Fprintf(g.stdout, "%s    %s: done (%.1fs)\n", t, subject(e), e.Elapsed)
		case rollout.EventUnitFailed:
			fmt.Fprintf(g.stdout, "%s    %s: FAILED: %s\n", t, subject(e), e.Message)
		case rollout.EventRolledBack:
			fmt.Fprintf(g.stdout, "%s    %s: rolled back: %s\n", t, e.Unit, e.Message)
		case rollout.EventSnapshot:
			fmt.Fprintf(g.stdout, "%s    %s\n", t, e.Message)
		default:
			if who := subject(e); who != "" {
				fmt.Fprintf(g.stdout, "%s    %s: %s: %s\n", t, e.Type, who, e.Message)
			} else {
				fmt.Fprintf(g.stdout, "%s    %s: %s\n", t, e.Type, e.Message)
			}
		}
	}
}

// subject names what an event is about: its unit, else its host, else its wave, else its
// phase.
func subject(e rollout.Event) string {
	switch {
	case e.Unit != "":
		return e.Unit
	case e.Host != "":
		return e.Host
	case e.Wave == "":
		return string(e.Phase)
	}
	return string(e.Wave)
}

func (g *globals) emitJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "%s\n", b)
	return err
}

// finishApply prints the per-unit table (or the JSON result) and maps the outcome to an exit
// code: 1 for a failed or rolled-back apply, 3 when the final verification failed.
func (g *globals) finishApply(res *rollout.Result, err error, asJSON bool) error {
	if asJSON {
		doc := map[string]any{"type": "result", "result": res}
		if err != nil {
			doc["error"] = err.Error()
		}
		_ = g.emitJSON(doc)
	} else if res != nil && len(res.Units) > 0 {
		fmt.Fprintln(g.stdout, "\nUnit                      Action    Result        Time")
		for _, u := range res.Units {
			fmt.Fprintf(g.stdout, "%-25s %-9s %-13s %5.1fs\n", u.Unit, u.Action, u.Result, u.Duration)
		}
		if res.Verify != "" {
			fmt.Fprintf(g.stdout, "\nVerify: %s, in %.2fs\n", res.Verify, res.VerifySeconds)
			if res.VerifyError == "" {
				fmt.Fprintf(g.stdout, "Settle: every check passed %.1fs after the waves\n", res.Settle)
			} else {
				fmt.Fprintf(g.stdout, "Settle: checks still failed %.1fs after the waves (the settle deadline)\n", res.Settle)
			}
		}
	}
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		return &exitStatus{code: exitCanceled, err: fmt.Errorf("interrupted: %w", err)}
	case err != nil:
		if asJSON {
			return silentExit(exitError)
		}
		return &exitStatus{code: exitError, err: err}
	case res != nil && res.VerifyError != "":
		if !asJSON {
			fmt.Fprintf(g.stderr, "Verify failed after apply: %s\nRun `latticepush verify` for the details.\n", res.VerifyError)
		}
		return silentExit(exitVerify)
	}
	if !asJSON {
		fmt.Fprintln(g.stdout, "\nApply complete.")
	}
	return nil
}
