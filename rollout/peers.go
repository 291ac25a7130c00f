package rollout

import (
	"context"
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/plan"
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

// leaveMetaGroup removes from the JetStream meta group the name a hub node renamed in place
// (-replace) ran under, once the node runs under its new name and its gate passed: the group
// keeps the old name as a member for good, in its size and quorum. The old name is certain to
// be gone, since the server that ran under it is the one just restarted. The removal comes
// after the gate so that a failed gate's rollback finds the old name still a member: a name
// removed from the group does not join it again when its server comes back.
//
// A removal that fails leaves the node as it is, running well under its new name: a warning
// says so, the final verify fails on the group's size, and the next plan removes the name,
// then an offline member that no hub of the inventory is.
func (a *run) leaveMetaGroup(ctx context.Context, w plan.Wave, u *plan.Unit) {
	old := u.LeavesMetaGroup
	a.emit(Event{Type: EventWait, Wave: w.Name, Unit: u.ID(), Message: fmt.Sprintf("removing %s, the name %s ran under, from the hub cluster's JetStream meta group", old, u.Host)})
	pr := plan.PeerRemoval{Name: old, Peer: plan.PeerID(old), Why: fmt.Sprintf("%s ran under this name before -replace", u.Host)}
	if err := a.gates.RemovePeer(ctx, pr); err != nil {
		a.emit(Event{Type: EventWarning, Wave: w.Name, Unit: u.ID(), Host: u.Host, Message: fmt.Sprintf(
			"%s runs under its new name, but removing %s from the JetStream meta group failed: %v; run plan and apply again, which removes it", u.Host, old, err)})
		return
	}
	a.mu.Lock()
	a.removedPeers = append(a.removedPeers, old)
	a.mu.Unlock()
}

// setLeaving adds name to the names the gates accept in the meta group beside the inventory's
// hubs (on), or takes it out.
func (a *run) setLeaving(name string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.leaving == nil {
		a.leaving = map[string]bool{}
	}
	if on {
		a.leaving[name] = true
	} else {
		delete(a.leaving, name)
	}
}
