package rollout

import (
	"context"
	"fmt"
	"strings"
)

// peersPhase removes from the hub cluster's JetStream meta group the members that no hub of
// the inventory is (plan.PeerRemoval), before the hub wave: each hub gate asks that the group
// be the inventory's hubs, all current. One at a time (nats-server takes one membership change
// at once), each confirmed by the meta leader once the group committed it.
type peersPhase struct{}

func (peersPhase) Title() PhaseName { return PhasePeers }
func (peersPhase) Skip(r *run) bool { return len(r.p.PeerRemovals) == 0 }

func (peersPhase) Run(ctx context.Context, r *run) error {
	var names []string
	for _, pr := range r.p.PeerRemovals {
		names = append(names, pr.Name)
	}
	r.phase(PhasePeers, fmt.Sprintf("removing %s from the hub cluster's JetStream meta group (no hub of the inventory, not running)", strings.Join(names, ", ")))
	for _, pr := range r.p.PeerRemovals {
		if err := r.gates.RemovePeer(ctx, pr); err != nil {
			return fmt.Errorf("removing %s from the JetStream meta group: %w; nothing was restarted", pr.Name, err)
		}
		r.mu.Lock()
		r.removedPeers = append(r.removedPeers, pr.Name)
		r.mu.Unlock()
	}
	return ctx.Err()
}
