package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// stage uploads every changed file of every unit. It succeeds only when every host staged.
func (a *applier) stage(ctx context.Context) error {
	byHost := map[string][]*Unit{}
	files := 0
	for _, u := range a.p.Units {
		if len(u.Files) > 0 {
			byHost[u.Host] = append(byHost[u.Host], u)
			files += len(u.Files)
		}
	}
	a.phase("stage", fmt.Sprintf("uploading %d files to %d hosts", files, len(byHost)))
	var mu sync.Mutex
	var errs []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Parallelism)
	for host, units := range byHost {
		h := a.hosts[host]
		g.Go(func() error {
			for _, u := range units {
				var sf []StageFile
				for _, f := range u.Files {
					if sum := sha256.Sum256(f.content); hex.EncodeToString(sum[:]) != f.NewSHA256 {
						mu.Lock()
						errs = append(errs, fmt.Errorf("%s: %s: the content to upload does not match the plan's hash", u.ID(), f.Path))
						mu.Unlock()
						return nil
					}
					sf = append(sf, StageFile{Path: f.Path, Mode: f.Mode, Content: f.content})
				}
				staged, err := h.Stage(gctx, sf)
				mu.Lock()
				if len(staged) > 0 {
					a.staged[u.ID()] = staged
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: stage: %w", u.ID(), WithoutHost(u.Host, err)))
				}
				mu.Unlock()
				if err != nil {
					return nil
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return fmt.Errorf("staging failed; nothing was swapped in or restarted:\n%w", errors.Join(errs...))
	}
	return ctx.Err()
}

// precheck runs each host's nats-server -t on its staged config, and compares the digest it
// prints with the one planned: the digest reload and restart are confirmed against.
func (a *applier) precheck(ctx context.Context) error {
	a.phase("precheck", "checking staged configs with each host's nats-server")
	var mu sync.Mutex
	var errs []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Parallelism)
	for _, u := range a.p.Units {
		if u.Service != ServiceNATS {
			continue
		}
		var cfg *Staged
		for i, s := range a.staged[u.ID()] {
			if s.Path == u.ConfigPath {
				cfg = &a.staged[u.ID()][i]
			}
		}
		if cfg == nil {
			continue
		}
		h := a.hosts[u.Host]
		g.Go(func() error {
			digest, err := h.CheckNATS(gctx, u.Binary, cfg.Temp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: nats-server -t rejects the staged config: %w", u.ID(), WithoutHost(u.Host, err)))
			case u.DesiredDigest != "" && digest != u.DesiredDigest:
				errs = append(errs, fmt.Errorf("%s: the staged config's digest %s differs from the planned %s", u.ID(), digest, u.DesiredDigest))
			default:
				u.DesiredDigest = digest
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("pre-check failed; nothing was swapped in or restarted:\n%w", errors.Join(errs...))
	}
	return ctx.Err()
}

// discardAll removes every staged file that was never swapped in.
func (a *applier) discardAll(ctx context.Context) {
	a.mu.Lock()
	pending := map[string][]Staged{}
	for id, s := range a.staged {
		if len(s) > 0 {
			host := strings.SplitN(id, "/", 2)[0]
			pending[host] = append(pending[host], s...)
		}
		delete(a.staged, id)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for host, staged := range pending {
		h := a.hosts[host]
		if h == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := h.Discard(dctx, staged); err != nil {
				a.emit(Event{Type: "warning", Unit: host, Message: "removing staged files failed: " + err.Error()})
			}
		}()
	}
	wg.Wait()
}

// takeStaged hands a unit's staged files to the code that swaps them in.
func (a *applier) takeStaged(u *Unit) []Staged {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.staged[u.ID()]
	delete(a.staged, u.ID())
	return s
}

// audit records the apply on every host it changed.
func (a *applier) audit(ctx context.Context, runErr error) {
	byHost := map[string][]string{}
	a.mu.Lock()
	for _, r := range a.result {
		if r.Result == "applied" || r.Result == "rolled back" {
			host := strings.SplitN(r.Unit, "/", 2)[0]
			byHost[host] = append(byHost[host], fmt.Sprintf("%s: %s %s", strings.SplitN(r.Unit, "/", 2)[1], r.Action, r.Result))
		}
	}
	a.mu.Unlock()
	result := "ok"
	if runErr != nil {
		result = "failed: " + runErr.Error()
	}
	for host, units := range byHost {
		sort.Strings(units)
		rec := AuditRecord{Time: time.Now().UTC(), Owner: a.opts.Owner, InventoryDigest: a.p.InventoryDigest, Units: units, Result: result}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := a.hosts[host].Audit(actx, rec); err != nil {
			a.emit(Event{Type: "warning", Unit: host, Message: "audit record failed: " + err.Error()})
		}
		cancel()
	}
}
