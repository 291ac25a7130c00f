package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// ErrHubLost matches (errors.Is) the error of a hub node's change whose gate failed because
// another hub node was lost meanwhile (unreachable, or its server gone).
var ErrHubLost = errors.New("a hub node was lost")

// hubProbeTimeout bounds the question asked of each hub node once a hub gate failed.
const hubProbeTimeout = 10 * time.Second

// hubLost runs after hub node u's gate failed (gateErr). It asks every hub node for its
// running config digest. When u's node runs its new config and some other node does not
// answer, the gate failed for that node's loss, not for u's change: rolling u back would
// restart it once more while a peer is already gone, taking the cluster's quorum with it. It
// then returns the error that stops the wave (ErrHubLost), naming the lost nodes; otherwise
// nil, and u is rolled back as usual. A node changed in u's own batch (first starts go
// together) is never counted as lost: when it does not answer, its own change failed and is
// reported, and rolled back, on its own.
func (a *run) hubLost(ctx context.Context, h Host, u *plan.Unit, w plan.Wave, gateErr error) error {
	together := map[string]bool{}
	for _, b := range w.Batches {
		if slices.Contains(b, u.ID()) {
			for _, id := range b {
				if o := a.p.Unit(id); o != nil && o.Host != u.Host {
					together[o.Host] = true
				}
			}
		}
	}
	type answer struct {
		host string
		err  error
	}
	var (
		mu      sync.Mutex
		lost    []answer
		ownErr  error
		ownDig  string
		wg      sync.WaitGroup
		checked = map[string]bool{}
	)
	for _, o := range a.p.Units {
		if o.Role != plan.RoleHub || o.Service != plan.ServiceNATS || o.Step != "" || checked[o.Host] || together[o.Host] {
			continue
		}
		checked[o.Host] = true
		oh, ok := a.hosts[o.Host]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, hubProbeTimeout)
			defer cancel()
			addr := o.MonitorAddr
			if o.Host == u.Host {
				addr = u.MonitorAddr
			}
			d, err := oh.RunningDigest(pctx, addr)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case o.Host == u.Host:
				ownDig, ownErr = d, err
			case err != nil:
				lost = append(lost, answer{o.Host, err})
			}
		}()
	}
	wg.Wait()
	if len(lost) == 0 || ownErr != nil || (u.DesiredDigest != "" && ownDig != u.DesiredDigest) {
		return nil
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i].host < lost[j].host })
	var names, why []string
	for _, l := range lost {
		names = append(names, l.host)
		why = append(why, fmt.Sprintf("%s: %v", l.host, plan.WithoutHost(l.host, l.err)))
	}
	return fmt.Errorf("%w: %s lost during the %s of %s (%s). %s runs its new config and was not rolled back: its gate failed for the loss of %s (%v). No other hub node was changed. Bring %s back, then plan and apply again",
		ErrHubLost, strings.Join(names, ", "), u.Action, u.Host, strings.Join(why, "; "), u.Host, strings.Join(names, ", "), firstLine(gateErr.Error()), strings.Join(names, ", "))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
