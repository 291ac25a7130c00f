package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/verify"
)

func newRestoreBucketsCommand(g *globals) *cobra.Command {
	var replicas int
	cmd := &cobra.Command{
		Use:   "restore-buckets INVENTORY SNAPSHOT.json...",
		Short: "Put the keys of bucket snapshots (apply --snapshot) back, on the lattice's current domain",
		Long: `restore-buckets reads snapshot files written by ` + "`apply --snapshot DIR`" + ` and puts every key
back into its bucket through a hub node, on the inventory's js_domain, oldest revision first.
A missing bucket is created with --replicas (default: the number of hub nodes, at most 3).
Keys that are not in a snapshot are left alone; keys that are get the snapshot's value back,
over anything written since (it is for recovering a failed cutover).

` + exitCodesHelp,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			inv, err := g.loadInventory(args[0], inventory.Options{})
			if err != nil {
				return err
			}
			if replicas <= 0 {
				replicas = min(3, len(inv.Hubs()))
			}
			pool := remote.NewPool(g.remoteOptions())
			defer pool.Close()
			gates := fleet.NewGates(fleet.New(inv, pool, fleet.Options{}), verify.Options{})
			start := time.Now()
			n, err := gates.RestoreBuckets(ctx, args[1:], replicas)
			if err != nil {
				return fmt.Errorf("restore-buckets: %d key(s) put before: %w", n, err)
			}
			fmt.Fprintf(g.stdout, "Put %d key(s) from %d snapshot file(s) on domain %q in %.1fs.\n", n, len(args)-1, inv.Lattice.JSDomain, time.Since(start).Seconds())
			return nil
		},
	}
	g.addVarFlags(cmd)
	cmd.Flags().IntVar(&replicas, "replicas", 0, "replicas of a bucket that has to be created (default: min(3, hub nodes))")
	return cmd
}
