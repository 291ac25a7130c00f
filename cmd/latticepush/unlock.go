package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
)

func newForceUnlockCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "force-unlock INVENTORY HOST...",
		Short: "Remove the deploy lock an interrupted apply left on hosts",
		Long: `force-unlock removes the lock of each named host, whoever holds it. apply reports a lock
whose holder looks gone (its process dead, or the lock old) and says to run this; make sure
no latticepush run is still working on those hosts first. It prints who held each lock.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			inv, err := g.loadInventory(args[0], inventory.Options{SkipSecrets: true})
			if err != nil {
				return err
			}
			pool := remote.NewPool(g.remoteOptions())
			defer pool.Close()
			var failed []error
			for _, name := range args[1:] {
				h := inv.Host(name)
				if h == nil {
					failed = append(failed, fmt.Errorf("no host %q in %s", name, args[0]))
					continue
				}
				c, err := pool.Connect(ctx, fleet.Target(inv, h))
				if err != nil {
					failed = append(failed, err)
					continue
				}
				// Taking the lock tells whether one is held, and by whom.
				lock, err := c.Lock(ctx, remote.LockInfo{User: "force-unlock", Time: time.Now().UTC()}, remote.LockOptions{})
				var le *remote.LockedError
				switch {
				case err == nil:
					if err := lock.Unlock(ctx); err != nil {
						failed = append(failed, plan.OnHost(name, err))
						continue
					}
					if d := lock.TookOver; d != nil {
						// A lock left by a dead run of this machine is taken over, then released.
						fmt.Fprintf(g.stdout, "%s: removed the lock of %s@%s (pid %d, since %s, %q): that process is no longer running\n", name,
							d.User, d.Host, d.PID, d.Time.Format(time.RFC3339), d.Command)
						continue
					}
					fmt.Fprintf(g.stdout, "%s: not locked\n", name)
				case errors.As(err, &le):
					if err := c.ForceUnlock(ctx, remote.LockOptions{}); err != nil {
						failed = append(failed, plan.OnHost(name, err))
						continue
					}
					fmt.Fprintf(g.stdout, "%s: removed the lock of %s@%s (pid %d, since %s, %q)\n", name,
						le.Holder.User, le.Holder.Host, le.Holder.PID, le.Holder.Time.Format(time.RFC3339), le.Holder.Command)
				default:
					failed = append(failed, plan.OnHost(name, err))
				}
			}
			if len(failed) > 0 {
				return errors.Join(failed...)
			}
			return nil
		},
	}
	g.addVarFlags(cmd)
	return cmd
}
