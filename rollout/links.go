package rollout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// A leaf's link to the hub drops when the hub node it is connected to restarts (it
// reconnects to another node within seconds, longer with many leaves) and when the leaf
// itself reloads or restarts. A wasmCloud host started meanwhile finds no JetStream domain
// through its leaf and exits. So the executor remembers which leaves may be unlinked and,
// before a wave touches their machines, waits for their leaf gate again.

// cutLeaves marks every leaf of the apply as possibly unlinked by wave: a hub node that was
// running restarted, and any leaf may have been connected to it.
func (a *run) cutLeaves(wave plan.WaveName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range a.p.Units {
		if (u.Role == plan.RoleLeaf || u.Role == plan.RoleRelay) && u.Service == plan.ServiceNATS {
			if _, ok := a.hosts[u.Host]; ok {
				a.unlinked[u.Host] = wave
			}
		}
	}
}

// cutLeaf marks one leaf as possibly unlinked by wave (its own reload or restart).
func (a *run) cutLeaf(host string, wave plan.WaveName) {
	a.mu.Lock()
	a.unlinked[host] = wave
	a.mu.Unlock()
}

// linked records that host's leaf gate passed.
func (a *run) linked(host string) {
	a.mu.Lock()
	delete(a.unlinked, host)
	a.mu.Unlock()
}

// awaitLinks runs the leaf gate again, all at once, for every machine of wave w whose leaf may
// be unlinked, and reports how long it waited. It returns the machines whose link did not
// come back within the gate timeout, with the gate's error. A machine whose leaf this wave
// changes is left out: the leaf's own gate proves its link after the change, which may be
// what brings the link back.
func (a *run) awaitLinks(ctx context.Context, w plan.Wave) map[string]error {
	byWave := map[plan.WaveName][]string{}
	var hosts []string
	a.mu.Lock()
	seen := map[string]bool{}
	for _, batch := range w.Batches {
		for _, id := range batch {
			if u := a.p.Unit(id); u.Role == plan.RoleLeaf || u.Role == plan.RoleRelay {
				seen[u.Host] = true
			}
		}
	}
	for _, batch := range w.Batches {
		for _, id := range batch {
			h := a.p.Unit(id).Host
			if cut, ok := a.unlinked[h]; ok && !seen[h] {
				seen[h] = true
				hosts = append(hosts, h)
				byWave[cut] = append(byWave[cut], h)
			}
		}
	}
	a.mu.Unlock()
	if len(hosts) == 0 {
		return nil
	}
	sort.Strings(hosts)
	var why []string
	for cut, hs := range byWave {
		sort.Strings(hs)
		why = append(why, fmt.Sprintf("%s (cut by the %s wave)", strings.Join(hs, ", "), cut))
	}
	sort.Strings(why)
	a.emit(Event{Type: EventWait, Wave: w.Name, Message: fmt.Sprintf("before the %s wave: waiting for the leaf links of %s",
		w.Name, strings.Join(why, "; "))})

	start := time.Now()
	var mu sync.Mutex
	failed := map[string]error{}
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.gate(ctx, &plan.Unit{Host: h, Service: plan.ServiceNATS, Role: plan.RoleLeaf}); err != nil {
				mu.Lock()
				failed[h] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	msg := fmt.Sprintf("leaf links of %s back after %.1fs", strings.Join(hosts, ", "), took.Seconds())
	if len(failed) > 0 {
		var back, down []string
		for _, h := range hosts {
			if err, ok := failed[h]; ok {
				down = append(down, fmt.Sprintf("%s: %v", h, err))
			} else {
				back = append(back, h)
			}
		}
		msg = fmt.Sprintf("after %.1fs, leaf links not back: %s", took.Seconds(), strings.Join(down, "; "))
		if len(back) > 0 {
			msg += "; back: " + strings.Join(back, ", ")
		}
	}
	a.emit(Event{Type: EventWaited, Wave: w.Name, Message: msg, Elapsed: took.Seconds()})
	return failed
}
