package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/verify"
	"github.com/latticepush/latticepush/wasmcloud"
)

// Gates implements rollout.Gates with verify's checks, reaching hosts through the fleet's SSH
// connections.
type Gates struct {
	f    *Fleet
	opts verify.Options
	// proven keeps the passing gates' results for the final verify to reuse.
	proven verify.Proven
}

// NewGates returns the gates for f's inventory.
func NewGates(f *Fleet, opts verify.Options) *Gates { return &Gates{f: f, opts: opts} }

// record keeps a gate's results, observed no earlier than at, for the final verify. Only a
// gate that expects the inventory's domain counts: the final verify expects it.
func (g *Gates) record(at time.Time, exp rollout.Expect, res []verify.Result) {
	// A gate that accepted a leaving name in the meta group proved less than verify asks.
	if exp.Domain == "" && len(exp.Leaving) == 0 {
		g.proven.Record(at, res)
	}
}

var _ rollout.Gates = (*Gates)(nil)

// Targets connects to every inventory host (in parallel; not again to one apply could not
// reach) and returns verify's view of them: a dialer through the host's SSH connection, or
// the error that kept it unreachable.
func (f *Fleet) Targets(ctx context.Context) []verify.Target {
	out := make([]verify.Target, len(f.inv.Hosts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, f.parallelism)
	for i, h := range f.inv.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := f.reach(ctx, h.Name)
			t := verify.Target{Host: h, Err: err}
			if err == nil {
				t.Dial = c.DialContext
				t.Run = func(ctx context.Context, argv []string) ([]byte, error) {
					res, err := c.Run(ctx, argv, remote.RunOptions{Become: h.SSH.Become, Timeout: time.Minute})
					return res.Stdout, err
				}
			}
			out[i] = t
		}()
	}
	wg.Wait()
	return out
}

func (g *Gates) HubNode(ctx context.Context, host string, exp rollout.Expect) error {
	at := time.Now()
	opts := g.opts
	opts.Leaving = exp.Leaving
	res, err := verify.HubNodeGate(ctx, view(g.f.inv, exp), g.f.Targets(ctx), host, opts)
	g.record(at, exp, res)
	return err
}

func (g *Gates) Leaf(ctx context.Context, host string, exp rollout.Expect) error {
	at := time.Now()
	res, err := verify.LeafGate(ctx, view(g.f.inv, exp), g.f.Targets(ctx), host, g.opts)
	g.record(at, exp, res)
	return err
}

func (g *Gates) Wasmcloud(ctx context.Context, host string, exp rollout.Expect) error {
	at := time.Now()
	res, err := verify.WasmcloudGate(ctx, view(g.f.inv, exp), g.f.Targets(ctx), host, g.opts)
	g.record(at, exp, res)
	return err
}

// Verify runs every check, taking the gates' results that are still valid (changed), over
// the SSH connections the apply holds; the summary counts them and spells out each warning
// (after a domain cutover: who still uses the old domain), the error lists the failing ones.
func (g *Gates) Verify(ctx context.Context, exp rollout.Expect, changed rollout.Changes) (string, error) {
	reuse := g.proven.Valid(verify.Changes{Hosts: changed.Hosts, Hub: changed.Hub})
	rep := verify.RunReusing(ctx, view(g.f.inv, exp), g.f.Targets(ctx), g.opts, reuse)
	failed := rep.Failed()
	reused := 0
	for _, r := range rep.Results {
		if r.Reused {
			reused++
		}
	}
	summary := fmt.Sprintf("%d of %d checks passed", len(rep.Results)-len(failed), len(rep.Results))
	if reused > 0 {
		summary += fmt.Sprintf(" (%d taken from gates that passed with nothing changed since on their machine or any hub)", reused)
	}
	for _, w := range rep.Warnings() {
		summary += "\n  warning: " + w.Check + ": " + w.Evidence
		if w.Fix != "" {
			summary += " (fix: " + w.Fix + ")"
		}
	}
	if len(failed) == 0 && rep.OK() {
		return summary, nil
	}
	var parts []string
	for _, r := range failed {
		p := r.Check
		if r.Host != "" {
			p += " on " + r.Host
		}
		parts = append(parts, p+": "+r.Evidence)
	}
	return summary, errors.New(strings.Join(parts, "; "))
}

// EnsureBuckets creates the lattice's buckets (LATTICEDATA_<l>, CONFIGDATA_<l>) on the hub
// with replicas, or raises the replicas of ones a wasmCloud host created with one: left to the
// first host they get a single replica, and one hub restart then takes the lattice down. With
// leaves, it creates verify's probe bucket too (verify.EnsureProbeBucket). All at once. made
// says whether any of them was missing or short of replicas when it began: new streams on the
// hub, which the final verify must look at again.
func (g *Gates) EnsureBuckets(ctx context.Context, replicas int, exp rollout.Expect) (made bool, err error) {
	inv := view(g.f.inv, exp)
	// Right after a hub restart the meta layer can be healthy while a bucket's own stream
	// still elects its leader; a JetStream request meanwhile gets no answer. So each attempt
	// is short, and a failed one is repeated until ctx ends.
	var last error
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 4*time.Second) {
		var m bool
		m, last = g.ensureBuckets(ctx, inv, replicas)
		made = made || m
		if last == nil {
			return made, nil
		}
		select {
		case <-ctx.Done():
			return made, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), last)
		case <-time.After(wait):
		}
	}
}

func (g *Gates) ensureBuckets(ctx context.Context, inv *inventory.Inventory, replicas int) (bool, error) {
	nc, err := g.f.connectHub(ctx, inv)
	if err != nil {
		return false, err
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, inv.Lattice.JSDomain)
	if err != nil {
		return false, err
	}
	var made atomic.Bool
	var eg errgroup.Group
	if len(inv.LeafServers()) > 0 {
		// Looked up before anything is made: a leaf gate may make it meanwhile too.
		probe := g.opts.ProbeBucket
		if probe == "" {
			probe = verify.DefaultProbeBucket
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := js.KeyValue(lctx, probe)
		cancel()
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			made.Store(true)
		}
		eg.Go(func() error { return verify.EnsureProbeBucket(ctx, inv, g.f.Targets(ctx), g.opts) })
	}
	for _, name := range wasmcloud.BucketNames(inv.Lattice.Name) {
		eg.Go(func() error {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			m, err := ensureBucket(actx, js, name, replicas)
			if err != nil {
				return fmt.Errorf("bucket %s with %d replicas: %w", name, replicas, err)
			}
			if m {
				made.Store(true)
			}
			return nil
		})
	}
	err = eg.Wait()
	return made.Load(), err
}

// ensureBucket creates bucket name, or raises its replicas (made); it leaves a bucket with
// enough replicas alone.
func ensureBucket(ctx context.Context, js jetstream.JetStream, name string, replicas int) (made bool, err error) {
	kv, err := js.KeyValue(ctx, name)
	switch {
	case err == nil:
		st, err := kv.Status(ctx)
		if err != nil {
			return false, err
		}
		if st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas >= replicas {
			return false, nil
		}
	case !errors.Is(err, jetstream.ErrBucketNotFound):
		return false, err
	}
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Replicas: replicas, History: 1, Storage: jetstream.FileStorage})
	return err == nil, err
}

// hubConnectTimeout bounds each dial and NATS handshake of ConnectHub.
const hubConnectTimeout = 5 * time.Second

// ConnectHub opens a NATS connection, as latticepush's check user, to the first hub node
// that answers, through that node's SSH connection.
func (f *Fleet) ConnectHub(ctx context.Context) (*nats.Conn, error) { return f.connectHub(ctx, f.inv) }

// connectHub is ConnectHub with the hubs where inv says they listen.
// RemovePeer removes a member from the hub cluster's JetStream meta group (verify.RemovePeer),
// waiting at most peerRemoveTimeout for the meta leader's answer.
func (g *Gates) RemovePeer(ctx context.Context, pr plan.PeerRemoval) error {
	return verify.RemovePeer(ctx, g.f.inv, func(ctx context.Context, h *inventory.Host) (verify.Dialer, error) {
		c, err := g.f.reach(ctx, h.Name)
		if err != nil {
			return nil, err
		}
		return c.DialContext, nil
	}, pr.Name, pr.Peer, peerRemoveTimeout)
}

// peerRemoveTimeout bounds the meta leader's answer to a peer removal: it answers once the
// group committed the change.
const peerRemoveTimeout = 30 * time.Second

func (f *Fleet) connectHub(ctx context.Context, inv *inventory.Inventory) (*nats.Conn, error) {
	nc, _, err := verify.ConnectHub(ctx, inv, func(ctx context.Context, h *inventory.Host) (verify.Dialer, error) {
		c, err := f.reach(ctx, h.Name)
		if err != nil {
			return nil, err
		}
		return c.DialContext, nil
	}, hubConnectTimeout)
	return nc, err
}

// wasmcloudVersion is the version a wasmCloud host answers host.get with, asked from the hub
// side.
func (f *Fleet) wasmcloudVersion(ctx context.Context, hostID string) (string, error) {
	nc, err := f.connectHub(ctx, f.inv)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	c, err := wasmcloud.NewClient(nc, f.inv.Lattice.Name)
	if err != nil {
		return "", err
	}
	inv, err := c.Get(ctx, hostID)
	if err != nil {
		return "", err
	}
	return inv.Version, nil
}

// WasmcloudAnswers waits until the wasmCloud host answers host.get, asked from the hub side.
func (g *Gates) WasmcloudAnswers(ctx context.Context, host string, exp rollout.Expect) error {
	h := g.f.inv.Host(host)
	if h == nil || h.Wasmcloud == nil || h.Wasmcloud.HostID == "" {
		return fmt.Errorf("%s: no wasmCloud host with a known id in the inventory", host)
	}
	nc, err := g.f.connectHub(ctx, view(g.f.inv, exp))
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := wasmcloud.NewClient(nc, g.f.inv.Lattice.Name)
	if err != nil {
		return err
	}
	for {
		_, err := c.Get(ctx, h.Wasmcloud.HostID)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not answer host.get from the hub side: %w", host, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// runningScript prints "<running 0|1> <pid>" for service $1, read the supervisor's way
// (svc_state is the supervisor's StateScript).
const runningScript = `svc_state() {
@SVC_STATE@
}
svc_state "$1" >/dev/null; echo "$r $p"`

// runningStable is how long the same process must run for Running to pass.
const runningStable = 2 * time.Second

// Running waits until the service runs on host and the same process has run for
// runningStable: a process that exits right after it starts never passes.
func (g *Gates) Running(ctx context.Context, host, service string) error {
	h := g.f.inv.Host(host)
	if h == nil {
		return fmt.Errorf("%s: not in the inventory", host)
	}
	sup, err := supervisor.For(h.ServiceManager)
	if err != nil {
		return err
	}
	c, err := g.f.client(ctx, host)
	if err != nil {
		return err
	}
	script := strings.Replace(runningScript, "@SVC_STATE@", sup.StateScript(), 1)
	var pid string
	var since time.Time
	last := "not observed"
	for {
		res, err := c.Run(ctx, remote.Script(script, service), remote.RunOptions{Become: h.SSH.Become, Timeout: 30 * time.Second})
		if err == nil {
			running, p, _ := strings.Cut(strings.TrimSpace(string(res.Stdout)), " ")
			switch {
			case running != "1":
				pid, last = "", "not running"
			case p != pid:
				pid, since, last = p, time.Now(), "pid "+p+" started"
			case time.Since(since) >= runningStable:
				return nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s on %s does not keep running (last: %s): %w", service, host, last, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
