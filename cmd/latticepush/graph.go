package main

import (
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
	"github.com/spf13/cobra"
)

func newGraphCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graph INVENTORY",
		Short: "Print the topology as Graphviz DOT (hub cluster, leaves, wasmCloud hosts, domains)",
		Long: `Graph prints the lattice's topology in Graphviz DOT, offline: the hub cluster and the
JetStream domain it homes, every edge machine with its leaf node (and own domain, if any)
and wasmCloud host, the leaf links and the hosts' NATS connections. For a picture:

  latticepush graph inventory.hcl | dot -Tsvg > topology.svg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := g.loadInventory(args[0], inventory.Options{SkipSecrets: true})
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(unit.Graph(inv))
			return err
		},
	}
	g.addVarFlags(cmd)
	return cmd
}
