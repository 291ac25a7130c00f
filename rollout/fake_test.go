package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// fakeFleet is an in-memory fleet for the executor's unit tests: files, services and the
// running config digest per host, with the digest of a config defined as "sha256:"+plantest.SHA(bytes)
// (as the facts in helpers_test.go do). The lab tests run the same executor against real
// hosts; this one makes every failure path cheap to reach.
type fakeFleet struct {
	mu     sync.Mutex
	hosts  map[string]*fakeHost
	facts  func() map[string]plan.Facts
	log    []string
	failOn map[string]error // "host op" -> error, e.g. "edge-2 start"
	// linkDelay, when set, is how long the leaves' links take to come back after a hub
	// node's nats-server restarts; linkBack says when each leaf's link is up again. A
	// wasmCloud host started meanwhile is recorded as "<host> wasmcloud started unlinked":
	// the real host exits when the JetStream domain does not answer through its leaf.
	linkDelay time.Duration
	linkBack  map[string]time.Time
	// answerDelay, when set, is how long the wasmCloud host on a leaf's machine takes to
	// answer again after that leaf's nats-server restarts; answersAt says when.
	answerDelay time.Duration
	answersAt   map[string]time.Time
	// observed counts Observe's looks at each host, and unlockedLooks those made while the
	// host was not locked.
	observed, unlockedLooks map[string]int
	// enableDelay is how long a host's OpEnable takes before it is done (a supervisor that
	// picks the service up late).
	enableDelay map[string]time.Duration
	// beforeOp, when set, is called before a host stages ("stage") or runs a service
	// operation ("<service> <op>"), outside the fleet's lock: it may block.
	beforeOp func(host, op string)
}

type fakeHost struct {
	f       *fakeFleet
	name    string
	files   map[string][]byte
	temps   map[string][]byte
	backups map[string][]byte
	running map[string]bool
	digest  string     // running nats config digest
	ports   plan.Ports // where its nats-server listens, as first observed
	locked  bool
	config  string // nats config path
	// foreign holds, per service, a definition latticepush did not write that is in effect;
	// aside what a takeover put aside.
	foreign, aside map[string]string
	// heldDown holds the services made known to the supervisor, held down (OpSupervise),
	// and not yet enabled.
	heldDown map[string]bool
	// unchecked: observe has no digest for the desired config (as when it names a TLS file
	// the apply creates), so the pre-check runs -t on it.
	unchecked bool
}

func newFakeFleet(facts map[string]plan.Facts, configs map[string]string) *fakeFleet {
	ff := &fakeFleet{hosts: map[string]*fakeHost{}, failOn: map[string]error{}, linkBack: map[string]time.Time{}, answersAt: map[string]time.Time{}}
	for name, f := range facts {
		h := &fakeHost{f: ff, name: name, files: map[string][]byte{}, temps: map[string][]byte{}, backups: map[string][]byte{},
			running: map[string]bool{}, config: configs[name], foreign: map[string]string{}, aside: map[string]string{}, heldDown: map[string]bool{}}
		for p, fi := range f.Files {
			if fi.Exists {
				h.files[p] = fi.Content
			}
		}
		for s, sf := range f.Services {
			h.running[s] = sf.Running
			if sf.Definition != "" && sf.Definition != "/etc/sv/"+s {
				h.foreign[s] = sf.Definition
			}
		}
		if f.NATS != nil {
			h.digest = f.NATS.RunningDigest
			h.ports = plan.Ports{ClientHost: f.NATS.ClientHost, Client: f.NATS.ClientPort, HTTPHost: f.NATS.HTTPHost, HTTP: f.NATS.HTTPPort,
				Cluster: f.NATS.ClusterPort, Leafnode: f.NATS.LeafnodePort}
		}
		ff.hosts[name] = h
	}
	return ff
}

func (ff *fakeFleet) record(format string, args ...any) {
	ff.log = append(ff.log, fmt.Sprintf(format, args...))
}

// fail returns the injected error for host and op. An error whose text starts with "once:"
// fires a single time: the rollback that follows then succeeds.
func (ff *fakeFleet) fail(host, op string) error {
	err := ff.failOn[host+" "+op]
	if err != nil && strings.HasPrefix(err.Error(), "once:") {
		delete(ff.failOn, host+" "+op)
	}
	return err
}

// Observe reports the fake hosts' current state in the same shape as plantest.Converged().
func (ff *fakeFleet) Observe(ctx context.Context, probes []plan.Probe) map[string]plan.Facts {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	out := map[string]plan.Facts{}
	for _, pr := range probes {
		h := ff.hosts[pr.Host]
		if ff.observed == nil {
			ff.observed, ff.unlockedLooks = map[string]int{}, map[string]int{}
		}
		ff.observed[pr.Host]++
		if !h.locked {
			ff.unlockedLooks[pr.Host]++
		}
		if err := ff.fail(pr.Host, "observe"); err != nil {
			out[pr.Host] = plan.Facts{Host: pr.Host, Err: err.Error()}
			continue
		}
		f := plan.Facts{Host: pr.Host, Files: map[string]plan.FileFact{}, Services: map[string]plan.ServiceFact{}}
		for _, p := range pr.Files {
			if c, ok := h.files[p]; ok {
				f.Files[p] = plan.FileFact{Exists: true, Mode: modeOf(p), SHA256: plantest.SHA(c), Size: int64(len(c)), Content: c}
			} else {
				f.Files[p] = plan.FileFact{}
			}
		}
		for _, s := range pr.Services {
			f.Services[s] = plan.ServiceFact{Running: h.running[s], Enabled: h.running[s] || h.files[svcRun(s)] != nil, Definition: h.foreign[s]}
		}
		if pr.NATS != nil {
			nf := &plan.NATSFacts{Version: "2.15.2", DesiredDigest: "sha256:" + plantest.SHA(pr.NATS.DesiredConfig)}
			if h.unchecked {
				nf.DesiredDigest = ""
			}
			if h.running[plan.ServiceNATS] {
				nf.RunningDigest = h.digest
				nf.ClientPort, nf.HTTPPort = h.ports.Client, h.ports.HTTP
				nf.ClientHost, nf.HTTPHost, nf.ClusterPort, nf.LeafnodePort = h.ports.ClientHost, h.ports.HTTPHost, h.ports.Cluster, h.ports.Leafnode
				if strings.HasPrefix(pr.Host, "hub-") {
					nf.MetaLeader = "hub-1"
				}
			}
			f.NATS = nf
		}
		out[pr.Host] = f
	}
	return out
}

func modeOf(path string) uint32 {
	if strings.HasSuffix(path, "/run") {
		return 0o755
	}
	return 0o600
}

func svcRun(s string) string { return "/etc/sv/" + s + "/run" }

func (ff *fakeFleet) Host(ctx context.Context, name string) (Host, error) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if err := ff.fail(name, "connect"); err != nil {
		return nil, err
	}
	return ff.hosts[name], nil
}

var errLocked = errors.New("locked by another apply")

func (h *fakeHost) Lock(ctx context.Context, owner LockOwner) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.locked {
		return errLocked
	}
	h.locked = true
	return nil
}

func (h *fakeHost) Unlock(ctx context.Context, c Closing) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if c.Audit != nil {
		h.f.record("%s audit %s", h.name, strings.Join(c.Audit.Units, ","))
	}
	for _, d := range c.Digests {
		h.f.record("%s digest %s", h.name, d.Digest)
	}
	h.locked = false
	return nil
}

func (h *fakeHost) Stage(ctx context.Context, files []StageFile) ([]Staged, error) {
	if h.f.beforeOp != nil {
		h.f.beforeOp(h.name, "stage")
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	var out []Staged
	for _, f := range files {
		if err := h.f.fail(h.name, "stage"); err != nil {
			return out, err
		}
		tmp := fmt.Sprintf("%s.tmp%d", f.Path, len(h.f.log))
		for h.temps[tmp] != nil {
			tmp += "x"
		}
		h.temps[tmp] = f.Content
		_, had := h.files[f.Path]
		out = append(out, Staged{Path: f.Path, Temp: tmp, HadPrevious: had})
	}
	h.f.record("%s stage %d", h.name, len(files))
	return out, nil
}

func (h *fakeHost) EnsureUsers(ctx context.Context, users []string) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if err := h.f.fail(h.name, "users"); err != nil {
		return err
	}
	h.f.record("%s users %s", h.name, strings.Join(users, ","))
	return nil
}

func (h *fakeHost) CheckNATS(ctx context.Context, binary, path string) (string, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.f.record("%s check %s", h.name, path)
	if err := h.f.fail(h.name, "check"); err != nil {
		return "", err
	}
	content, staged := h.temps[path]
	if !staged {
		content = h.files[path] // the config in place, checked by a new release's binary
	}
	return "sha256:" + plantest.SHA(content), nil
}

func (h *fakeHost) Swap(ctx context.Context, staged []Staged) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	for _, s := range staged {
		if old, ok := h.files[s.Path]; ok {
			h.backups[s.Path] = old
		}
		h.files[s.Path] = h.temps[s.Temp]
		delete(h.temps, s.Temp)
	}
	h.f.record("%s swap", h.name)
	return nil
}

func (h *fakeHost) Restore(ctx context.Context, staged []Staged) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	for _, s := range staged {
		if s.HadPrevious {
			h.files[s.Path] = h.backups[s.Path]
		} else {
			delete(h.files, s.Path)
		}
	}
	h.f.record("%s restore", h.name)
	return nil
}

func (h *fakeHost) Discard(ctx context.Context, staged []Staged) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	for _, s := range staged {
		delete(h.temps, s.Temp)
	}
	h.f.record("%s discard %d", h.name, len(staged))
	return nil
}

func (h *fakeHost) Adopt(ctx context.Context, svc string, from plan.Foreign) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.f.record("%s %s adopt from %s", h.name, svc, from.Service)
	if err := h.f.fail(h.name, "adopt"); err != nil {
		return err
	}
	h.running[svc] = false
	h.aside[svc], h.foreign[svc] = h.foreign[svc], ""
	return nil
}

func (h *fakeHost) GiveBack(ctx context.Context, svc string, from plan.Foreign) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.f.record("%s %s give back to %s", h.name, svc, from.Service)
	if err := h.f.fail(h.name, "giveback"); err != nil {
		return err
	}
	h.running[svc] = from.Running
	if d := h.aside[svc]; d != "" {
		h.foreign[svc], h.aside[svc] = d, ""
	}
	if svc == plan.ServiceNATS && from.Running {
		h.digest = "sha256:foreign"
	}
	return nil
}

func (h *fakeHost) Service(ctx context.Context, svc string, op ServiceOp) error {
	if h.f.beforeOp != nil {
		h.f.beforeOp(h.name, svc+" "+string(op))
	}
	if op == OpEnable {
		time.Sleep(h.f.enableDelay[h.name])
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.f.record("%s %s %s", h.name, svc, op)
	if err := h.f.fail(h.name, string(op)); err != nil {
		if op == OpStart || op == OpRestart {
			h.running[svc] = false
		}
		return err
	}
	if svc == plan.ServiceNATS && strings.HasPrefix(h.name, "hub-") && h.f.linkDelay > 0 && op != OpReload {
		for name, o := range h.f.hosts {
			if strings.HasPrefix(name, "edge-") && o.config != "" {
				h.f.linkBack[name] = time.Now().Add(h.f.linkDelay)
			}
		}
	}
	if svc == plan.ServiceNATS && strings.HasPrefix(h.name, "edge-") && (op == OpStart || op == OpRestart) {
		delete(h.f.linkBack, h.name) // a leaf that starts links up at once
		if h.f.answerDelay > 0 {
			h.f.answersAt[h.name] = time.Now().Add(h.f.answerDelay)
		}
	}
	if svc == plan.ServiceWasmcloud && (op == OpStart || op == OpRestart) && time.Now().Before(h.f.linkBack[h.name]) {
		h.f.record("%s wasmcloud started unlinked", h.name)
	}
	switch op {
	case OpStart, OpRestart:
		h.running[svc] = true
		if svc == plan.ServiceNATS {
			h.digest = "sha256:" + plantest.SHA(h.files[h.config])
		}
	case OpReload:
		if svc == plan.ServiceNATS && h.f.fail(h.name, "reload-silently") == nil {
			h.digest = "sha256:" + plantest.SHA(h.files[h.config])
		}
	case OpStop, OpDisable:
		h.running[svc] = false
	case OpSupervise:
		h.heldDown[svc] = true
	}
	if op == OpEnable || op == OpDisable {
		delete(h.heldDown, svc)
	}
	return nil
}

func (h *fakeHost) RunningDigest(ctx context.Context, addr string) (string, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if !h.running[plan.ServiceNATS] {
		return "", errors.New("connection refused")
	}
	return h.digest, nil
}

// fakeGates passes a gate when the unit's service runs, unless told to fail it.
type fakeGates struct {
	ff       *fakeFleet
	failGate map[string]bool // host -> gate fails
	verified bool
	// changed is what the last Verify was told changed when.
	changed Changes
	// verifyFails is how many Verify calls fail before one passes; verifyCalls counts them.
	verifyFails, verifyCalls int
	snapErr                  error // what SnapshotBuckets returns
	removeErr                error // what RemovePeer returns
	removedAfter             []int // per RemovePeer, how many gates had been called
	// expects records, per hub node gate, the ports the gate was told to expect.
	expects []string
	// calls records every hub node and leaf gate with what it was told to expect.
	calls []gateCall
	// bucketsDelay is how long EnsureBuckets takes; bucketsErr is what it returns.
	bucketsDelay time.Duration
	bucketsErr   error
	bucketsMade  bool // the buckets exist: the first EnsureBuckets makes them
	// budgets records, per gate called ("hub hub-1", "leaf edge-1", "wasmcloud edge-1"), the
	// time its ctx left it when it was called, the longest of its calls.
	budgets map[string]time.Duration
}

// budget records the time ctx leaves the gate what on host.
func (g *fakeGates) budget(ctx context.Context, what, host string) {
	d, ok := ctx.Deadline()
	if !ok {
		return
	}
	g.ff.mu.Lock()
	defer g.ff.mu.Unlock()
	if g.budgets == nil {
		g.budgets = map[string]time.Duration{}
	}
	g.budgets[what+" "+host] = max(g.budgets[what+" "+host], time.Until(d))
}

// gateCall is one hub node or leaf gate and its expectation.
type gateCall struct {
	host string
	exp  Expect
}

func (g *fakeGates) called(host string, exp Expect) {
	g.ff.mu.Lock()
	g.calls = append(g.calls, gateCall{host: host, exp: exp})
	g.ff.mu.Unlock()
}

func (g *fakeGates) check(host, svc string) error {
	g.ff.mu.Lock()
	defer g.ff.mu.Unlock()
	if g.failGate[host] {
		return fmt.Errorf("%s: gate failed", host)
	}
	if !g.ff.hosts[host].running[svc] {
		return fmt.Errorf("%s: %s not running", host, svc)
	}
	return nil
}

func (g *fakeGates) HubNode(ctx context.Context, host string, exp Expect) error {
	var ports []string
	for h, p := range exp.Ports {
		ports = append(ports, fmt.Sprintf("%s=%d/%d", h, p.Client, p.HTTP))
	}
	sort.Strings(ports)
	g.ff.mu.Lock()
	g.expects = append(g.expects, host+": "+strings.Join(ports, " "))
	g.ff.mu.Unlock()
	g.called(host, exp)
	g.budget(ctx, "hub", host)
	return g.check(host, plan.ServiceNATS)
}

// Leaf waits, like the real gate, until the leaf's link is back (see linkDelay) or ctx ends.
func (g *fakeGates) Leaf(ctx context.Context, host string, exp Expect) error {
	g.called(host, exp)
	g.budget(ctx, "leaf", host)
	g.ff.mu.Lock()
	back := g.ff.linkBack[host]
	g.ff.mu.Unlock()
	select {
	case <-time.After(time.Until(back)):
	case <-ctx.Done():
		return fmt.Errorf("%s: leaf link down: %w", host, ctx.Err())
	}
	return g.check(host, plan.ServiceNATS)
}
func (g *fakeGates) Wasmcloud(ctx context.Context, host string, _ Expect) error {
	g.budget(ctx, "wasmcloud", host)
	return g.check(host, plan.ServiceWasmcloud)
}

// WasmcloudAnswers waits, like the real check, until the host answers (see answerDelay) or
// ctx ends; the fleet's log records when it passed.
func (g *fakeGates) WasmcloudAnswers(ctx context.Context, host string, _ Expect) error {
	g.ff.mu.Lock()
	at := g.ff.answersAt[host]
	g.ff.mu.Unlock()
	select {
	case <-time.After(time.Until(at)):
	case <-ctx.Done():
		return fmt.Errorf("%s does not answer host.get: %w", host, ctx.Err())
	}
	g.ff.mu.Lock()
	defer g.ff.mu.Unlock()
	if !g.ff.hosts[host].running[plan.ServiceWasmcloud] {
		return fmt.Errorf("%s: no responders", host)
	}
	g.ff.record("%s wasmcloud answers", host)
	return nil
}
func (g *fakeGates) Running(ctx context.Context, host, service string) error {
	return g.check(host, service)
}

// RemovePeer records the removal in the fleet's log.
func (g *fakeGates) RemovePeer(ctx context.Context, pr plan.PeerRemoval) error {
	g.ff.mu.Lock()
	defer g.ff.mu.Unlock()
	g.ff.record("remove peer %s %s", pr.Name, pr.Peer)
	g.removedAfter = append(g.removedAfter, len(g.calls))
	return g.removeErr
}

// SnapshotBuckets records the snapshot in the fleet's log.
func (g *fakeGates) SnapshotBuckets(ctx context.Context, dir string, exp Expect) ([]string, error) {
	domain := exp.Domain
	g.ff.mu.Lock()
	defer g.ff.mu.Unlock()
	g.ff.record("snapshot %s %s", domain, dir)
	if g.snapErr != nil {
		return nil, g.snapErr
	}
	return []string{dir + "/LATTICEDATA_default-" + domain + ".json"}, nil
}

func (g *fakeGates) EnsureBuckets(ctx context.Context, replicas int, _ Expect) (bool, error) {
	select {
	case <-time.After(g.bucketsDelay):
	case <-ctx.Done():
		return false, ctx.Err()
	}
	g.ff.mu.Lock()
	defer g.ff.mu.Unlock()
	if g.bucketsErr != nil {
		return false, g.bucketsErr
	}
	g.ff.record("buckets %d", replicas)
	made := !g.bucketsMade
	g.bucketsMade = true
	return made, nil
}
func (g *fakeGates) Verify(ctx context.Context, _ Expect, changed Changes) (string, error) {
	g.ff.mu.Lock()
	defer g.ff.mu.Unlock()
	g.verified = true
	g.changed = changed
	g.verifyCalls++
	if g.verifyCalls <= g.verifyFails {
		return fmt.Sprintf("%d of 40 checks passed", 39), errors.New("leaf.remote-connected on edge-2: no leaf remote connected")
	}
	return "all checks passed", nil
}

// opsOf lists the recorded operations that mention host, in order.
func (ff *fakeFleet) opsOf(host string) []string {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	var out []string
	for _, l := range ff.log {
		if strings.HasPrefix(l, host+" ") {
			out = append(out, strings.TrimPrefix(l, host+" "))
		}
	}
	return out
}

func (ff *fakeFleet) tempCount() int {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	n := 0
	names := make([]string, 0)
	for name, h := range ff.hosts {
		n += len(h.temps)
		if len(h.temps) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return n
}
