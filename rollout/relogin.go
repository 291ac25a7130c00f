package rollout

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// LeafLinks is what a Host does to prove a leaf linked again after its remote changed: the
// ids of the connections the leaf's own nats-server holds to the servers it dials (/leafz,
// is_spoke). nats-server reports no user for a leaf connection; but a reload that changes a
// remote's URL removes that remote and closes its connection, so once the new config is
// confirmed, a link on a connection that did not exist before the reload is the new remote's,
// logged in with the new credentials.
type LeafLinks interface {
	LeafLinkIDs(ctx context.Context, monitorAddr string) ([]uint64, error)
}

func leafLinksOf(h Host) (LeafLinks, bool) {
	if c, ok := h.(changeRecorder); ok {
		h = c.Host
	}
	l, ok := h.(LeafLinks)
	return l, ok
}

// linksBefore returns the leaf's links before a reload that switches its login (u.Relogin).
func (a *run) linksBefore(ctx context.Context, h Host, u *plan.Unit) ([]uint64, error) {
	if u.Relogin == "" {
		return nil, nil
	}
	l, ok := leafLinksOf(h)
	if !ok {
		return nil, fmt.Errorf("%s: cannot read the leaf's links to prove it logs in as %s", u.Host, u.Relogin)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.ConfirmTimeout)
	defer cancel()
	ids, err := l.LeafLinkIDs(ctx, u.MonitorAddr)
	if err != nil {
		return nil, fmt.Errorf("%s: read the leaf's links (/leafz) before switching it to %s: %w", u.Host, u.Relogin, err)
	}
	return ids, nil
}

// confirmRelogin waits until the reloaded leaf holds a link on a connection it did not have
// before the reload, and none of those: it logs in as u.Relogin. A failure fails the unit,
// which is rolled back to the previous login, which the hubs still accept.
func (a *run) confirmRelogin(ctx context.Context, h Host, u *plan.Unit, before []uint64) error {
	if u.Relogin == "" {
		return nil
	}
	l, _ := leafLinksOf(h)
	ctx, cancel := context.WithTimeout(ctx, a.opts.ConfirmTimeout)
	defer cancel()
	var last []uint64
	var lastErr error
	for {
		ids, err := l.LeafLinkIDs(ctx, u.MonitorAddr)
		if err == nil && len(ids) > 0 && !slices.ContainsFunc(ids, func(id uint64) bool { return slices.Contains(before, id) }) {
			return nil
		}
		last, lastErr = ids, err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("the leaf was not seen linked as %s: /leafz unreachable: %v", u.Relogin, lastErr)
			}
			return fmt.Errorf("the leaf was not seen linked as %s: its links %v, before the reload %v (want a new one, none of the old; "+
				"the server log says why). The hubs keep accepting both users: fix the cause, then plan and apply again", u.Relogin, last, before)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
