package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/atomicfile"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
)

// planFlags are the options plan and apply share.
type planFlags struct {
	targets           []string
	excludes          []string
	allowDomainChange bool
	replace           []string
	allowDowngrade    bool
	json              bool
}

func (f *planFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.targets, "target", nil, "only these hosts (repeatable, or comma-separated)")
	cmd.Flags().StringSliceVar(&f.excludes, "exclude", nil, "never these hosts (repeatable, or comma-separated)")
	cmd.Flags().BoolVar(&f.allowDomainChange, "allow-domain-change", false, "allow a JetStream domain cutover (every hub stops, then starts)")
	cmd.Flags().StringSliceVar(&f.replace, "replace", nil, "hub nodes whose server_name or cluster name may change (node replacement)")
	cmd.Flags().BoolVar(&f.allowDowngrade, "allow-downgrade", false, "allow moving a JetStream server to an older minor nats-server release")
	cmd.Flags().BoolVar(&f.json, "json", false, "machine-readable output")
}

func (f *planFlags) options() plan.Options {
	return plan.Options{Targets: f.targets, Excludes: f.excludes, AllowDomainChange: f.allowDomainChange, Replace: f.replace,
		AllowDowngrade: f.allowDowngrade}
}

func newPlanCommand(g *globals) *cobra.Command {
	var f planFlags
	var out string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan INVENTORY",
		Short: "Show what apply would change, on which host, in which order",
		Long: `plan connects to every host (one SSH connection each, bounded in parallel), observes the
managed files, services and running nats-server config in one round trip per host, and
shows per unit (a service on a host) whether it is unchanged, reloaded, restarted or cut
over, with a unified diff of every file (secrets redacted) and the waves apply will run.

With --out FILE the plan is saved (mode 0600, no secrets) for ` + "`latticepush apply FILE`" + `, which
refuses it if anything it observed has changed since.

` + exitCodesHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.newSession(cmd.Context(), args[0], f.options())
			if err != nil {
				return err
			}
			defer s.Close()
			// A plan does nothing more on a host once its facts are in: its connection is
			// closed then, so a large fleet never holds every connection at once.
			s.Fleet = fleet.New(s.Inv, s.Pool, fleet.Options{Release: true})
			p, err := s.plan(cmd.Context())
			if err != nil {
				return err
			}
			if out != "" {
				if err := writePlanFile(out, p); err != nil {
					return err
				}
			}
			if f.json {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(p); err != nil {
					return err
				}
			} else {
				g.printPlan(p)
				if out != "" {
					fmt.Fprintf(g.stdout, "\nSaved the plan to %s. Apply exactly this plan with:\n  latticepush apply %s\n", out, out)
				}
			}
			if detailed && p.HasChanges() {
				return silentExit(exitChanges)
			}
			return nil
		},
	}
	f.add(cmd)
	g.addVarFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "", "save the plan to this file (mode 0600) for apply")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when the plan has changes, 0 when it has none")
	return cmd
}

// session is one command's connection to the fleet (fleet.Session, the wiring the lab tests
// run too), with the CLI's error texts.
type session struct {
	*fleet.Session
}

func (g *globals) newSession(ctx context.Context, path string, opts plan.Options) (*session, error) {
	inv, err := g.loadInventory(path, inventory.Options{})
	if err != nil {
		return nil, err
	}
	fs, err := fleet.NewSession(inv, opts, g.remoteOptions())
	if err != nil {
		return nil, err
	}
	return &session{fs}, nil
}

// remoteOptions asks for key passphrases and the sudo password on the terminal, when there
// is one; without a terminal such hosts fail with an error that says so.
func (g *globals) remoteOptions() remote.Options {
	var o remote.Options
	in, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return o
	}
	o.Passphrase = func(keyFile string) ([]byte, error) {
		fmt.Fprintf(g.stderr, "Passphrase for %s: ", keyFile)
		defer fmt.Fprintln(g.stderr)
		return term.ReadPassword(int(in.Fd()))
	}
	o.BecomePassword = func() ([]byte, error) {
		fmt.Fprint(g.stderr, "sudo password: ")
		defer fmt.Fprintln(g.stderr)
		return term.ReadPassword(int(in.Fd()))
	}
	return o
}

func (s *session) plan(ctx context.Context) (*plan.Plan, error) {
	return planned(ctx)(s.Plan(ctx))
}

// planFrom is apply's plan under the lock, from the facts it observed there.
func (s *session) planFrom(ctx context.Context) rollout.Replanner {
	return func(facts map[string]plan.Facts) (*plan.Plan, error) {
		return planned(ctx)(s.PlanFrom(ctx, facts))
	}
}

// planned gives a plan's error the CLI's words: canceled, or "cannot plan".
func planned(ctx context.Context) func(*plan.Plan, error) (*plan.Plan, error) {
	return func(p *plan.Plan, err error) (*plan.Plan, error) {
		switch {
		case ctx.Err() != nil:
			return nil, errCanceled
		case err != nil:
			return nil, fmt.Errorf("cannot plan:\n%w", err)
		}
		return p, nil
	}
}

// build is apply's re-plan.
func (s *session) build(facts map[string]plan.Facts) (*plan.Plan, error) {
	p, err := s.Build(facts)
	if err != nil {
		return nil, fmt.Errorf("cannot plan:\n%w", err)
	}
	return p, nil
}

// writePlanFile writes p to path with mode 0600, atomically.
func writePlanFile(path string, p *plan.Plan) error {
	var b bytes.Buffer
	if err := plan.Write(&b, p); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// lockOwner says who holds the host locks during an apply.
func lockOwner(args []string) rollout.LockOwner {
	o := rollout.LockOwner{PID: os.Getpid(), Time: time.Now().UTC(), Command: "latticepush apply"}
	if u, err := user.Current(); err == nil {
		o.User = u.Username
	}
	o.Host, _ = os.Hostname()
	if len(args) > 0 {
		o.Command += " " + args[0]
	}
	return o
}

var errAborted = errors.New("apply canceled: nothing was changed")
