package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/remote/service"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/unit"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// AuditLog is where apply appends its record on every host it changed (one JSON per line).
const AuditLog = "/var/lib/latticepush/audit.log"

// Fleet implements rollout.Fleet over one remote.Pool: one SSH connection per host, dialled on
// first use and shared by facts, uploads, service commands and forwarded connections.
type Fleet struct {
	inv  *inventory.Inventory
	pool *remote.Pool
	// Parallelism bounds hosts worked on at once; default the inventory's parallelism.
	parallelism int
	// ServiceWait bounds a service manager's wait for a state change.
	serviceWait time.Duration
	lockOpts    remote.LockOptions
	// releases holds each pinned release file read once for every host's upload.
	releases releaseFiles
	release  bool // Options.Release
	// unreached holds, by host, why Host could not connect to it: Observe reports the same
	// instead of waiting on the host again (apply that plans under its lock dials every host
	// to lock it, then observes).
	unreached sync.Map
	// held holds, by host, the lock this process holds there (*remote.Lock): Observe under
	// it does not report it as another run's.
	held sync.Map
	// lockProbes are the probes Observe will be given after the hosts are locked: each
	// host's lock exec runs its facts script too, once the lock is held (the first host's,
	// locked alone, in an exec of its own right after: LockQuick), and keeps the output in
	// prefetched (a *prefetched) for that Observe, which takes it only when asked the same.
	// One exec less per host at the start of every apply.
	lockProbes map[string]plan.Probe
	prefetched sync.Map
}

// ObserveWhenLocking tells the fleet what Observe will be asked under the hosts' locks.
func (f *Fleet) ObserveWhenLocking(probes []plan.Probe) {
	f.lockProbes = make(map[string]plan.Probe, len(probes))
	for _, pr := range probes {
		f.lockProbes[pr.Host] = pr
	}
}

// Options tune a Fleet.
type Options struct {
	Parallelism int           // default: the highest parallelism in the inventory, else 32
	ServiceWait time.Duration // default 90s (a lame-duck stop takes grace + a little)
	Lock        remote.LockOptions
	// Release closes each host's connection once its facts are in (Observe): a plan does
	// nothing more on the host, and a large fleet then holds at most Parallelism connections
	// at once instead of one per host. Apply keeps them.
	Release bool
}

// New returns a Fleet for inv's hosts over pool. The caller closes the pool.
func New(inv *inventory.Inventory, pool *remote.Pool, opts Options) *Fleet {
	f := &Fleet{inv: inv, pool: pool, parallelism: opts.Parallelism, serviceWait: opts.ServiceWait, lockOpts: opts.Lock, release: opts.Release}
	if f.parallelism <= 0 {
		for _, h := range inv.Hosts {
			f.parallelism = max(f.parallelism, h.Parallelism)
		}
		if f.parallelism <= 0 {
			f.parallelism = 32
		}
	}
	if f.serviceWait <= 0 {
		f.serviceWait = 90 * time.Second
	}
	return f
}

var _ rollout.Fleet = (*Fleet)(nil)

// Parallelism is how many hosts the fleet works on at once: the inventory's `parallelism`
// (the highest any host has), unless Options said otherwise. apply bounds its own per-host
// phases (lock, stage, unlock) by it too.
func (f *Fleet) Parallelism() int { return f.parallelism }

func (f *Fleet) client(ctx context.Context, name string) (*remote.Client, error) {
	h := f.inv.Host(name)
	if h == nil {
		return nil, fmt.Errorf("%s: not in the inventory", name)
	}
	return f.pool.Connect(ctx, Target(f.inv, h))
}

// Observe gathers every probe's facts in parallel, bounded by the fleet's parallelism.
func (f *Fleet) Observe(ctx context.Context, probes []plan.Probe) map[string]plan.Facts {
	out := make(map[string]plan.Facts, len(probes))
	var mu sync.Mutex
	g := new(errgroup.Group)
	g.SetLimit(f.parallelism)
	for _, pr := range probes {
		g.Go(func() error {
			facts := f.observe(ctx, pr)
			if h := f.inv.Host(pr.Host); f.release && h != nil {
				f.pool.Release(Target(f.inv, h))
			}
			mu.Lock()
			out[pr.Host] = facts
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// Host returns the named host, connected.
func (f *Fleet) Host(ctx context.Context, name string) (rollout.Host, error) {
	c, err := f.client(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			f.unreached.Store(name, err)
		}
		return nil, err
	}
	h := f.inv.Host(name)
	sup, err := supervisor.For(h.ServiceManager)
	if err != nil {
		return nil, err
	}
	services, err := unit.Services(f.inv, h)
	if err != nil {
		return nil, err
	}
	specs := map[string]supervisor.Service{}
	for _, s := range services {
		specs[s.Name] = s
	}
	mgr := service.New(sup, c, service.Options{Become: h.SSH.Become, Wait: f.serviceWait})
	return &host{f: f, inv: h, c: c, sup: sup, specs: specs, svc: mgr}, nil
}

// host implements rollout.Host for one connected host.
type host struct {
	f     *Fleet
	inv   *inventory.Host
	c     *remote.Client
	sup   supervisor.Supervisor
	specs map[string]supervisor.Service // the host's services, by name
	svc   service.Manager

	mu       sync.Mutex
	lock     *remote.Lock
	tookOver string // set by Lock when it took over a lock left by a dead run
	// leftovers are the temporary files an earlier run left that Lock removed.
	leftovers []string
}

// LockTakenOver says what Lock took over, if anything (see remote.Client.Lock).
func (h *host) LockTakenOver() string { return h.tookOver }

var (
	_ rollout.Host          = (*host)(nil)
	_ rollout.QuickLockHost = (*host)(nil)
)

func (h *host) Lock(ctx context.Context, owner rollout.LockOwner) error {
	return h.takeLock(ctx, owner, true)
}

// LockQuick takes the lock as Lock does, but alone in its exec: the facts script Lock would
// run in the same exec follows in an exec of its own, which Observe waits for.
func (h *host) LockQuick(ctx context.Context, owner rollout.LockOwner) error {
	return h.takeLock(ctx, owner, false)
}

// takeLock takes the host's lock and sweeps the staging directories; with observe announced
// (ObserveWhenLocking), it runs the facts script under the lock too: in the lock's exec when
// inline, else in its own exec started once the lock is held.
func (h *host) takeLock(ctx context.Context, owner rollout.LockOwner, inline bool) error {
	// A run that lost its connection mid-stage leaves its temporary copies behind. Holding
	// the lock, no other run is staging here, so they can go now (in the lock's round trip).
	opts := h.f.lockOpts
	opts.Sweep = h.managedDirs()
	h.f.prefetched.Delete(h.inv.Name) // an earlier lock's facts are not this one's
	var call *factsCall
	if pr, ok := h.f.lockProbes[h.inv.Name]; ok {
		if c, err := factsCallFor(h.inv, pr); err == nil {
			call = &c
			if inline {
				opts.Then, opts.ThenStdin = c.step(), c.stdin
			}
		}
	}
	l, err := h.c.Lock(ctx, remote.LockInfo{User: owner.User, Host: owner.Host, PID: owner.PID, Command: owner.Command, Time: owner.Time}, opts)
	if err != nil {
		return err
	}
	switch {
	case call == nil:
	case inline && l.Then != nil && l.Then.Code == 0:
		h.f.prefetched.Store(h.inv.Name, donePrefetch(*call, []byte(l.Then.Output)))
	case !inline:
		pf := &prefetched{call: *call, done: make(chan struct{})}
		h.f.prefetched.Store(h.inv.Name, pf)
		go func() {
			defer close(pf.done)
			pf.out, pf.err = h.f.execFacts(ctx, h.c, h.inv, *call)
		}()
	}
	h.mu.Lock()
	h.lock = l
	h.leftovers = l.Swept
	h.mu.Unlock()
	h.f.held.Store(h.inv.Name, l)
	if d := l.TookOver; d != nil {
		h.tookOver = fmt.Sprintf("took over the lock left by %s@%s (pid %d, since %s, running %q): that process is no longer running on this machine, which has not rebooted since",
			d.User, d.Host, d.PID, d.Time.Format(time.RFC3339), d.Command)
	}
	return nil
}

// Leftovers returns the temporary files of an earlier run that Lock removed.
func (h *host) Leftovers() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.leftovers)
}

// managedDirs are the directories latticepush stages files into on this host: its
// supervisor's definition directories and those of every file the host's unit kinds render.
func (h *host) managedDirs() []string {
	var dirs []string
	add := func(d string) {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for name := range h.specs {
		for _, d := range h.sup.Dirs(name) {
			add(d)
		}
	}
	if n := h.inv.NATS(); n != nil && n.Install != nil {
		add(uploadDir(inventory.InstallRoot))
	}
	if w := h.inv.Wasmcloud; w != nil && w.Install != nil {
		add(uploadDir(inventory.WasmcloudInstallRoot))
	}
	if files, err := unit.Host(h.f.inv, h.inv, unit.Options{}); err == nil {
		for _, f := range files {
			add(path.Dir(f.Path))
		}
	}
	sort.Strings(dirs)
	return dirs
}

// Unlock leaves c's audit record and digests on the host and releases the lock, which
// sweeps the staging directories once more while it is held (an sftp-server on the host can
// still carry out a request of a run whose connection was cut after the sweep at Lock): one
// round trip.
func (h *host) Unlock(ctx context.Context, c rollout.Closing) error {
	h.mu.Lock()
	l := h.lock
	h.lock = nil
	h.mu.Unlock()
	if l == nil {
		return nil
	}
	h.f.held.Delete(h.inv.Name)
	var steps []remote.Step
	if c.Audit != nil {
		line, err := json.Marshal(c.Audit)
		if err != nil {
			return err
		}
		steps = append(steps, remote.Step{Name: "audit record", Script: auditScript, Args: []string{AuditLog, string(line)}})
	}
	if len(c.Digests) > 0 {
		args := []string{DigestCache}
		for _, d := range c.Digests {
			args = append(args, d.Binary, d.SHA256, d.Digest)
		}
		steps = append(steps, remote.Step{Name: "digest cache", Script: recordDigestsScript, Args: args})
	}
	return l.Release(ctx, steps...)
}

// SuperviseAll makes svcs known to the supervisor, held down, in one exec.
func (h *host) SuperviseAll(ctx context.Context, svcs []string) error {
	if err := h.svc.Supervise(ctx, svcs...); err != nil {
		return redactedError{err: err, msg: string(plan.RedactSecrets(h.f.inv, []byte(err.Error())))}
	}
	return nil
}

// Stage uploads the files at once over the host's SFTP session (each upload is a handful of
// round trips: create, write, fsync, read back), at most stageConcurrency at a time. On a
// failure it returns the files staged, for the caller to discard, with the errors.
func (h *host) Stage(ctx context.Context, files []rollout.StageFile) ([]rollout.Staged, error) {
	staged := make([]*rollout.Staged, len(files))
	errs := make([]error, len(files))
	var g errgroup.Group
	g.SetLimit(stageConcurrency)
	for i, f := range files {
		g.Go(func() error {
			var opts remote.StageOptions
			if f.Group != "" {
				opts.Owner = "root:" + f.Group
			}
			st, err := h.c.Stage(ctx, f.Path, f.Content, fs.FileMode(f.Mode), opts)
			if err != nil {
				errs[i] = plan.WithoutHost(h.inv.Name, err) // the caller names the host once
				return nil
			}
			staged[i] = &rollout.Staged{Path: st.Path, Temp: st.Temp}
			return nil
		})
	}
	_ = g.Wait()
	var out []rollout.Staged
	for _, st := range staged {
		if st != nil {
			out = append(out, *st)
		}
	}
	return out, errors.Join(errs...)
}

// stageConcurrency bounds one host's uploads in flight.
const stageConcurrency = 8

func (h *host) CheckNATS(ctx context.Context, binary, path string) (string, error) {
	res, err := h.c.Run(ctx, remote.Script(checkScript, binary, path, DigestCache), remote.RunOptions{Become: h.inv.SSH.Become, Timeout: time.Minute})
	out := string(bytes.TrimSpace(append(res.Stdout, res.Stderr...)))
	if err != nil {
		var ee *remote.ExitError
		if errors.As(err, &ee) {
			return "", errors.New(out)
		}
		return "", err
	}
	m := digestRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no digest in %q (nats-server 2.11+ prints one)", out)
	}
	return m[1], nil
}

func (h *host) Swap(ctx context.Context, staged []rollout.Staged) error {
	for _, s := range staged {
		if err := h.c.Swap(ctx, remote.StagedFile{Path: s.Path, Temp: s.Temp}); err != nil {
			return err // names the host and the path
		}
	}
	return nil
}

func (h *host) Restore(ctx context.Context, staged []rollout.Staged) error {
	var errs []error
	for _, s := range staged {
		if err := h.c.Restore(ctx, s.Path); err != nil {
			errs = append(errs, err) // names the host and the path
		}
	}
	return errors.Join(errs...)
}

func (h *host) Discard(ctx context.Context, staged []rollout.Staged) error {
	var errs []error
	for _, s := range staged {
		if err := h.c.Discard(ctx, remote.StagedFile{Path: s.Path, Temp: s.Temp}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Service runs op on svc. A failure quotes what the supervisor said of the service (a failed
// start quotes its state and its last log lines): secrets are redacted from it.
func (h *host) Service(ctx context.Context, svc string, op rollout.ServiceOp) error {
	if err := h.service(ctx, svc, op); err != nil {
		return redactedError{err: err, msg: string(plan.RedactSecrets(h.f.inv, []byte(err.Error())))}
	}
	return nil
}

// redactedError is err with secrets removed from its text.
type redactedError struct {
	err error
	msg string
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

func (h *host) service(ctx context.Context, svc string, op rollout.ServiceOp) error {
	// A service with a graceful stop signal (nats-server's lame duck) is stopped with it, and
	// so restarted as a graceful stop and a start.
	graceful := h.specs[svc].StopSignal
	switch op {
	case rollout.OpEnable:
		return h.svc.Enable(ctx, svc)
	case rollout.OpDisable:
		return h.svc.Disable(ctx, svc)
	case rollout.OpSupervise:
		return h.svc.Supervise(ctx, svc)
	case rollout.OpDaemonReload:
		return h.svc.DaemonReload(ctx)
	case rollout.OpStart:
		return h.svc.Start(ctx, svc)
	case rollout.OpReload:
		return h.svc.Reload(ctx, svc)
	case rollout.OpStop:
		if graceful != "" {
			return h.svc.GracefulStop(ctx, svc, graceful)
		}
		return h.svc.Stop(ctx, svc)
	case rollout.OpRestart:
		if graceful == "" {
			// Stop, then start: the start notices a process that keeps exiting (a release
			// that cannot start) within seconds and quotes its log, where a restart would
			// wait out the whole timeout and say only that the service is down.
			if err := h.svc.Stop(ctx, svc); err != nil {
				return err
			}
			return h.svc.Start(ctx, svc)
		}
		// Drain first: lame duck moves clients and leaves and hands off Raft leadership. A
		// server that is not serving (crash-looping on a refused config) just goes down.
		if err := h.svc.GracefulStop(ctx, svc, graceful); err != nil {
			if err2 := h.svc.Stop(ctx, svc); err2 != nil {
				return fmt.Errorf("%w; stop: %v", err, err2)
			}
		}
		return h.svc.Start(ctx, svc)
	}
	return fmt.Errorf("unknown service operation %q", op)
}

func (h *host) Adopt(ctx context.Context, svc string, from plan.Foreign) error {
	ad, ok := h.sup.(supervisor.Adopter)
	if !ok {
		return fmt.Errorf("service_manager %s cannot take a service over", h.sup.Name())
	}
	signal := h.specs[svc].StopSignal
	if signal == "" {
		signal = "TERM"
	}
	return h.svc.Run(ctx, ad.Takeover(svc, from.Supervised(), signal, h.f.serviceWait))
}

func (h *host) GiveBack(ctx context.Context, svc string, from plan.Foreign) error {
	ad, ok := h.sup.(supervisor.Adopter)
	if !ok {
		return fmt.Errorf("service_manager %s cannot give a service back", h.sup.Name())
	}
	if from.ClearStore != "" {
		// The store held no JetStream state before: what is there now the failed managed
		// server wrote, under a name the server given back does not have.
		if _, err := h.c.Run(ctx, []string{"rm", "-rf", "--", from.ClearStore}, remote.RunOptions{Become: h.inv.SSH.Become}); err != nil {
			return fmt.Errorf("emptying %s: %w", from.ClearStore, err)
		}
	}
	return h.svc.Run(ctx, ad.GiveBack(svc, from.Supervised(), h.f.serviceWait))
}

func (h *host) RunningDigest(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := natsmon.New(addr, h.c.DialContext, natsmon.Options{}).Varz(ctx)
	if err != nil {
		return "", err
	}
	return v.ConfigDigest, nil
}

// LeafLinkIDs returns the ids of the links the leaf's nats-server holds to the servers it
// dials (/leafz, is_spoke).
func (h *host) LeafLinkIDs(ctx context.Context, addr string) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := natsmon.New(addr, h.c.DialContext, natsmon.Options{}).Get(ctx, natsmon.PathLeafz)
	if err != nil {
		return nil, err
	}
	var lz natsmon.Leafz
	if err := r.Decode(&lz); err != nil {
		return nil, err
	}
	var ids []uint64
	for _, l := range lz.Leafs {
		if l.IsSpoke {
			ids = append(ids, l.ID)
		}
	}
	return ids, nil
}

// auditScript appends the record $2 to the audit log $1 (created with mode 0600), with the
// shell's own printf.
const auditScript = `[ -d "${1%/*}" ] || mkdir -p "${1%/*}" || exit; umask 077; printf '%s\n' "$2" >> "$1"`
