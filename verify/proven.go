package verify

import (
	"sync"
	"time"
)

// Proven keeps the passing results of gates and when each was observed, so the final verify of
// an apply can take them instead of checking again (RunReusing). A result stays valid only
// while nothing changed since on its machine or on any hub node: every check depends on the
// host it names and on the hubs it is seen from or answered by. It is safe for concurrent use.
type Proven struct {
	mu sync.Mutex
	m  map[key]proof
}

type proof struct {
	res Result
	at  time.Time
}

// Record stores the results of one gate call that began at at (before its first observation).
// A passing result replaces an older one of the same check and host; a failing one removes it.
func (p *Proven) Record(at time.Time, results []Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[key]proof{}
	}
	for _, r := range results {
		k := keyOf(r)
		if !r.OK || r.Warning {
			delete(p.m, k)
			continue
		}
		if old, ok := p.m[k]; !ok || at.After(old.at) {
			p.m[k] = proof{res: r, at: at}
		}
	}
}

// Changes say when services last started, stopped, restarted or reloaded: per machine (the
// time the operation returned), and the latest of those on any hub node.
type Changes struct {
	Hosts map[string]time.Time
	Hub   time.Time
}

// Valid returns the results observed after every change that could affect them: the last
// change on the result's machine and the last change on any hub node. A lattice-wide result
// (no host) is valid only when observed after every change.
func (p *Proven) Valid(c Changes) []Result {
	var latest time.Time
	for _, t := range c.Hosts {
		if t.After(latest) {
			latest = t
		}
	}
	if c.Hub.After(latest) {
		latest = c.Hub
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Result
	for k, pr := range p.m {
		since := c.Hub
		switch {
		case k.host == "":
			since = latest
		case c.Hosts[k.host].After(since):
			since = c.Hosts[k.host]
		}
		if pr.at.After(since) {
			out = append(out, pr.res)
		}
	}
	sortResults(out)
	return out
}
