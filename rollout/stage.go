package rollout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/plan"
)

// stagePhase uploads every changed file of every unit next to its destination. It succeeds
// only when every host staged: nothing is swapped in before that, with one exception. When
// the first wave starts services for the first time only (a first deployment's hub wave),
// its hosts stage first and the wave may begin while the other hosts stage: nothing runs on
// its hosts yet, so no client is cut off, and what a later staging failure leaves behind is
// what a later wave's failure leaves, that wave applied and nothing else touched. The next
// wave waits for the rest (joinLaterStaging).
type stagePhase struct{}

func (stagePhase) Title() PhaseName { return PhaseStage }
func (stagePhase) Skip(*run) bool   { return false }

func (stagePhase) Run(ctx context.Context, a *run) error {
	work := a.stageWork()
	early := a.earlyHosts(work)
	if early == nil {
		a.phase(PhaseStage, fmt.Sprintf("uploading %d files to %d hosts", work.files(nil), len(work.units)))
		return stageFailed(a.stageHosts(ctx, work, nil))
	}
	w := a.p.Waves[0].Name
	rest := len(work.units) - len(early)
	a.phase(PhaseStage, fmt.Sprintf("uploading %d files to the %d hosts of the %s wave first (first starts only: nothing runs there yet); the other %d hosts stage while it runs, and the next wave waits for them",
		work.files(early), len(early), w, rest))
	if err := stageFailed(a.stageHosts(ctx, work, func(h string) bool { return early[h] })); err != nil {
		return err
	}
	a.later = map[string]bool{}
	for h := range work.units {
		if !early[h] {
			a.later[h] = true
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	a.laterStop, a.laterDone = cancel, done
	go func() {
		errs := a.stageHosts(lctx, work, func(h string) bool { return a.later[h] })
		if len(errs) == 0 && lctx.Err() == nil {
			errs = a.precheck(lctx, func(h string) bool { return a.later[h] }, nil)
		}
		if err := lctx.Err(); err != nil {
			done <- err // stopped: what failed then is the interruption's doing
			return
		}
		if len(errs) > 0 {
			sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
			done <- fmt.Errorf("staging the other %d hosts failed while the %s wave ran; that wave's first starts stay applied (nothing ran there before), nothing else was swapped in or restarted:\n%w",
				rest, w, errors.Join(errs...))
			return
		}
		done <- nil
	}()
	return nil
}

// stageFailed is the stage phase's error for the failures of stageHosts.
func stageFailed(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return fmt.Errorf("staging failed; nothing was swapped in or restarted:\n%w", errors.Join(errs...))
}

// joinLaterStaging waits for the hosts staging while the first wave ran (stagePhase), and
// returns their failure; nil at once when none stage so. stop cancels their staging first
// (the apply stops): what they staged is discarded by the cleanup.
func (a *run) joinLaterStaging(ctx context.Context, stop bool) error {
	if a.laterDone == nil {
		return nil
	}
	if stop {
		a.laterStop()
	}
	var err error
	select {
	case err = <-a.laterDone:
	default:
		if stop {
			err = <-a.laterDone
			break
		}
		w := a.p.Waves[0].Name
		a.emit(Event{Type: EventWait, Phase: PhaseStage, Message: fmt.Sprintf("waiting for the %d hosts staging since the %s wave began", len(a.later), w)})
		began := time.Now()
		select {
		case err = <-a.laterDone:
		case <-ctx.Done():
			a.laterStop()
			err = <-a.laterDone
		}
		if err == nil {
			a.emit(Event{Type: EventWaited, Phase: PhaseStage, Elapsed: time.Since(began).Seconds(),
				Message: fmt.Sprintf("the other %d hosts staged %.1fs after the %s wave ended", len(a.later), time.Since(began).Seconds(), w)})
		}
	}
	a.laterDone = nil
	a.laterStop()
	return err
}

// stageWork is what the stage phase uploads: per host, the units with files, and the users
// the host's services run as.
type stageWork struct {
	units map[string][]*plan.Unit
	users map[string][]string
}

func (a *run) stageWork() stageWork {
	w := stageWork{units: map[string][]*plan.Unit{}, users: map[string][]string{}}
	for _, u := range a.p.Units {
		if u.User != "" && u.Action != plan.Noop && !slices.Contains(w.users[u.Host], u.User) {
			w.users[u.Host] = append(w.users[u.Host], u.User)
			if _, ok := w.units[u.Host]; !ok {
				w.units[u.Host] = nil
			}
		}
		if len(u.Files) > 0 {
			w.units[u.Host] = append(w.units[u.Host], u)
		}
	}
	return w
}

// files counts the files to upload to the hosts in only (every host when nil).
func (w stageWork) files(only map[string]bool) int {
	n := 0
	for h, units := range w.units {
		if only == nil || only[h] {
			for _, u := range units {
				n += len(u.Files)
			}
		}
	}
	return n
}

// earlyHosts returns the hosts to stage before the first wave may begin while the others
// stage: the first wave's hosts when every unit of it is a first start and other hosts have
// files to stage; nil when every host stages first.
func (a *run) earlyHosts(w stageWork) map[string]bool {
	if len(a.p.Waves) < 2 || a.p.Waves[0].Name == plan.WaveCutover {
		return nil
	}
	early := map[string]bool{}
	for _, batch := range a.p.Waves[0].Batches {
		for _, id := range batch {
			u := a.p.Unit(id)
			if u == nil || !firstStart(u) {
				return nil
			}
			early[u.Host] = true
		}
	}
	for h := range w.units {
		if !early[h] {
			return early
		}
	}
	return nil
}

// stageHosts stages the work of the hosts only admits (every host when nil) and makes their
// first starts known to the supervisor; it returns each host's failure.
func (a *run) stageHosts(ctx context.Context, work stageWork, only func(string) bool) []error {
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Parallelism)
	for host, units := range work.units {
		if only != nil && !only(host) {
			continue
		}
		h := a.hosts[host]
		g.Go(func() error {
			// The services' users first: their groups own staged files, and the services
			// start as them.
			if need := work.users[host]; len(need) > 0 {
				err := fmt.Errorf("the inventory runs services as %s, which this host cannot create", strings.Join(need, ", "))
				if uh, ok := usersOf(h); ok {
					err = uh.EnsureUsers(gctx, need)
				}
				if err != nil {
					fail(fmt.Errorf("%s: users: %w", host, plan.WithoutHost(host, err)))
					return nil
				}
			}
			// Every unit's files of the host go up in one call: the host uploads them together.
			var sf []StageFile
			var of []*plan.Unit // the unit of each file
			for _, u := range units {
				for _, f := range u.Files {
					if sum := sha256.Sum256(f.Content()); hex.EncodeToString(sum[:]) != f.NewSHA256 {
						fail(fmt.Errorf("%s: %s: the content to upload does not match the plan's hash", u.ID(), f.Path))
						return nil
					}
					sf = append(sf, StageFile{Path: f.Path, Mode: f.Mode, Group: f.Group, Content: f.Content()})
					of = append(of, u)
				}
			}
			staged, err := h.Stage(gctx, sf)
			byUnit := stagedByUnit(sf, of, staged)
			a.mu.Lock()
			for u, st := range byUnit {
				a.staged[u.Key()] = st
			}
			a.mu.Unlock()
			if err != nil {
				fail(fmt.Errorf("%s: stage: %w", host, plan.WithoutHost(host, err)))
				return nil
			}
			for _, u := range units {
				rest, err := placeNow(gctx, h, u, byUnit[u])
				a.mu.Lock()
				a.staged[u.Key()] = rest
				a.mu.Unlock()
				if err != nil {
					fail(fmt.Errorf("%s: stage: %w", u.ID(), plan.WithoutHost(u.Host, err)))
					return nil
				}
			}
			// Once the host staged everything, its first starts become known to the
			// supervisor, held down, all hosts at once: no wave then waits for a supervisor
			// to notice a new service (runit rescans every five seconds).
			var first []*plan.Unit
			for _, u := range units {
				if firstStart(u) {
					first = append(first, u)
				}
			}
			if err := a.supervise(gctx, h, first); err != nil {
				fail(err)
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(errs) == 0 {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// supervise makes the first starts of one host known to its supervisor, held down: in one
// round trip when the host can (ManySupervised), else one by one. The cleanup undoes them.
func (a *run) supervise(ctx context.Context, h Host, units []*plan.Unit) error {
	if len(units) == 0 {
		return nil
	}
	a.mu.Lock()
	for _, u := range units {
		a.supervised[u.Key()] = true
	}
	a.mu.Unlock()
	inner := h
	if c, ok := h.(changeRecorder); ok {
		inner = c.Host
	}
	if m, ok := inner.(ManySupervised); ok && len(units) > 1 {
		var svcs []string
		for _, u := range units {
			svcs = append(svcs, u.Service)
		}
		if err := m.SuperviseAll(ctx, svcs); err != nil {
			return fmt.Errorf("%s: supervise %s: %w", units[0].Host, strings.Join(svcs, ", "), plan.WithoutHost(units[0].Host, err))
		}
		return nil
	}
	for _, u := range units {
		if err := h.Service(ctx, u.Service, OpSupervise); err != nil {
			return fmt.Errorf("%s: supervise: %w", u.ID(), plan.WithoutHost(u.Host, err))
		}
	}
	return nil
}

// stagedByUnit gives each unit its staged files: staged holds, in the order of files, those
// that were staged (all, unless staging failed); of names each file's unit. A path staged
// for two units (a leaf's bridge config and its final one) goes to each in turn.
func stagedByUnit(files []StageFile, of []*plan.Unit, staged []Staged) map[*plan.Unit][]Staged {
	out := map[*plan.Unit][]Staged{}
	next := 0
	for _, st := range staged {
		for next < len(files) && files[next].Path != st.Path {
			next++
		}
		if next == len(files) {
			break
		}
		out[of[next]] = append(out[of[next]], st)
		next++
	}
	return out
}

// placeNow swaps in at once the staged files the plan marks InPlace (new TLS files named by
// their serial, which no running config names yet), so the pre-check's nats-server -t finds
// them; it returns the rest. A failed apply leaves them unreferenced.
func placeNow(ctx context.Context, h Host, u *plan.Unit, staged []Staged) ([]Staged, error) {
	inPlace := map[string]bool{}
	for _, f := range u.Files {
		if f.InPlace {
			inPlace[f.Path] = true
		}
	}
	var now, rest []Staged
	for _, s := range staged {
		if inPlace[s.Path] && !s.HadPrevious {
			now = append(now, s)
		} else {
			rest = append(rest, s)
		}
	}
	if len(now) == 0 {
		return staged, nil
	}
	if err := h.Swap(ctx, now); err != nil {
		return staged, fmt.Errorf("put new TLS files in place: %w", err)
	}
	return rest, nil
}

// firstStart reports whether u starts a service for the first time: its files are new, it
// does not run, it is not enabled and nothing is adopted.
func firstStart(u *plan.Unit) bool {
	return u.Start && u.Enable && !u.WasRunning && u.Adopt == nil && u.Step == ""
}

// precheckPhase runs each host's nats-server -t on its staged config, and compares the digest
// it prints with the one planned: the digest reload and restart are confirmed against.
type precheckPhase struct{}

func (precheckPhase) Title() PhaseName { return PhasePrecheck }
func (precheckPhase) Skip(*run) bool   { return false }

func (precheckPhase) Run(ctx context.Context, a *run) error {
	errs := a.precheck(ctx, func(h string) bool { return !a.later[h] }, func(checked, known int) {
		msg := fmt.Sprintf("checking staged configs with each host's nats-server: %d to check, %d accepted by the same binary when observed", checked, known)
		if len(a.later) > 0 {
			msg += fmt.Sprintf("; the other %d hosts' configs once they staged", len(a.later))
		}
		a.phase(PhasePrecheck, msg)
	})
	if len(errs) > 0 {
		return fmt.Errorf("pre-check failed; nothing was swapped in or restarted:\n%w", errors.Join(errs...))
	}
	return ctx.Err()
}

// precheck runs nats-server -t on the staged configs of the hosts only admits, and returns
// the failures. Before it waits for them it calls begin (if not nil) with how many it runs
// and how many were accepted at observe.
func (a *run) precheck(ctx context.Context, only func(string) bool, begin func(checked, known int)) []error {
	var mu sync.Mutex
	var errs []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.Parallelism)
	checked, known := 0, 0
	for _, u := range a.p.Units {
		if u.ConfigPath == "" || !only(u.Host) {
			continue // only nats-server units name a config that the binary can check
		}
		var cfg *Staged
		a.mu.Lock()
		for i, s := range a.staged[u.Key()] {
			if s.Path == u.ConfigPath {
				cfg = &a.staged[u.Key()][i]
			}
		}
		a.mu.Unlock()
		binary, config := u.Binary, u.ConfigPath
		if cfg != nil {
			config = cfg.Temp
		}
		if u.Upgrade != nil {
			binary = u.Upgrade.Binary() // the new release must accept the config it will run
		} else if cfg == nil {
			continue
		}
		if d, ok := acceptedAtObserve(u); ok {
			known++
			a.mu.Lock()
			a.accepted[u.Host] = append(a.accepted[u.Host], d)
			a.mu.Unlock()
			continue
		}
		checked++
		h := a.hosts[u.Host]
		g.Go(func() error {
			digest, err := h.CheckNATS(gctx, binary, config)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: nats-server -t rejects the staged config: %w", u.ID(), plan.WithoutHost(u.Host, err)))
			case u.DesiredDigest != "" && digest != u.DesiredDigest:
				errs = append(errs, fmt.Errorf("%s: the staged config's digest %s differs from the planned %s", u.ID(), digest, u.DesiredDigest))
			default:
				u.DesiredDigest = digest
			}
			return nil
		})
	}
	if begin != nil {
		begin(checked, known)
	}
	_ = g.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// acceptedAtObserve reports whether u's staged config was already checked: the planned
// digest is what the host's own nats-server printed for exactly these bytes when apply
// observed the host (or what its digest cache holds for them and this binary), no other
// release will run it, and no other file this apply changes on the host is named in it (a
// certificate or key it names is checked only by a -t that can read the new file). Then -t
// would print the same digest again.
func acceptedAtObserve(u *plan.Unit) (ConfigDigest, bool) {
	if u.Upgrade != nil || u.DesiredDigest == "" {
		return ConfigDigest{}, false
	}
	var cfg *plan.FileChange
	for i, f := range u.Files {
		if f.Path == u.ConfigPath {
			cfg = &u.Files[i]
		}
	}
	if cfg == nil || cfg.NewSHA256 == "" {
		return ConfigDigest{}, false
	}
	for _, f := range u.Files {
		if f.Path != u.ConfigPath && bytes.Contains(cfg.Content(), []byte(f.Path)) {
			return ConfigDigest{}, false
		}
	}
	return ConfigDigest{Binary: u.Binary, SHA256: cfg.NewSHA256, Digest: u.DesiredDigest}, true
}

// discardPhase removes every staged file that was never swapped in, and takes every first
// start that no wave reached off its supervisor again.
type discardPhase struct{}

func (discardPhase) Title() PhaseName { return "discard" }
func (discardPhase) Skip(*run) bool   { return false }

func (discardPhase) Run(ctx context.Context, a *run) error {
	_ = a.joinLaterStaging(ctx, true) // the apply stopped in its first wave: stop the others' staging
	a.mu.Lock()
	pending := map[string][]Staged{}
	for id, s := range a.staged {
		if len(s) > 0 {
			pending[id.Host] = append(pending[id.Host], s...)
		}
		delete(a.staged, id)
	}
	unsupervise := map[string][]string{}
	for id := range a.supervised {
		unsupervise[id.Host] = append(unsupervise[id.Host], id.Service)
		delete(a.supervised, id)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for host, h := range a.hosts {
		staged, services := pending[host], unsupervise[host]
		if len(staged) == 0 && len(services) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			sort.Strings(services)
			for _, svc := range services {
				if err := h.Service(dctx, svc, OpDisable); err != nil {
					a.emit(Event{Type: EventWarning, Host: host, Message: fmt.Sprintf("taking %s off the supervisor failed: %v", svc, err)})
				}
			}
			if len(staged) == 0 {
				return
			}
			if err := h.Discard(dctx, staged); err != nil {
				a.emit(Event{Type: EventWarning, Host: host, Message: "removing staged files failed: " + err.Error()})
			}
		}()
	}
	wg.Wait()
	return nil
}

// takeStaged hands a unit's staged files to the code that swaps them in; from then on its
// rollback, not the cleanup, undoes its early supervision.
func (a *run) takeStaged(u *plan.Unit) []Staged {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.staged[u.Key()]
	delete(a.staged, u.Key())
	delete(a.supervised, u.Key())
	return s
}

// closing is what the apply leaves on each host as it unlocks it (unlockPhase): an audit
// record on every host it changed (each unit applied or rolled back, and how the apply
// ended), and the digests of the configs the pre-check took as checked.
func (a *run) closing() map[string]Closing {
	byHost := map[string][]string{}
	a.mu.Lock()
	for id, r := range a.result {
		if r.Result == Applied || r.Result == RolledBack {
			svc := id.Service
			if id.Step != "" {
				svc += "@" + id.Step
			}
			byHost[id.Host] = append(byHost[id.Host], fmt.Sprintf("%s: %s %s", svc, r.Action, r.Result))
		}
	}
	// A meta group member removed is a change of every hub's cluster.
	for _, name := range a.removedPeers {
		for _, u := range a.p.Units {
			if u.Role == plan.RoleHub && u.Service == plan.ServiceNATS {
				byHost[u.Host] = append(byHost[u.Host], "jetstream meta group: removed "+name)
			}
		}
	}
	a.mu.Unlock()
	result := "ok"
	if a.err != nil {
		result = "failed: " + a.err.Error()
	}
	out := map[string]Closing{}
	now := time.Now().UTC()
	for host, units := range byHost {
		sort.Strings(units)
		out[host] = Closing{Audit: &AuditRecord{Time: now, Owner: a.opts.Owner, InventoryDigest: a.p.InventoryDigest, Units: units, Result: result}}
	}
	for host, ds := range a.accepted {
		c := out[host]
		c.Digests = ds
		out[host] = c
	}
	return out
}
