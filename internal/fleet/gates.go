package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/render"
	"github.com/latticepush/latticepush/verify"
	"github.com/latticepush/latticepush/wasmcloud"
)

// Gates implements plan.Gates with verify's checks, reaching hosts through the fleet's SSH
// connections.
type Gates struct {
	f    *Fleet
	opts verify.Options
}

// NewGates returns the gates for f's inventory.
func NewGates(f *Fleet, opts verify.Options) *Gates { return &Gates{f: f, opts: opts} }

var _ plan.Gates = (*Gates)(nil)

// Targets connects to every inventory host (in parallel) and returns verify's view of them: a
// dialer through the host's SSH connection, or the error that kept it unreachable.
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
			c, err := f.client(ctx, h.Name)
			t := verify.Target{Host: h, Err: err}
			if err == nil {
				t.Dial = c.DialContext
			}
			out[i] = t
		}()
	}
	wg.Wait()
	return out
}

func (g *Gates) HubNode(ctx context.Context, host string) error {
	_, err := verify.HubNodeGate(ctx, g.f.liveInventory(), g.f.Targets(ctx), host, g.opts)
	return err
}

func (g *Gates) Leaf(ctx context.Context, host string) error {
	_, err := verify.LeafGate(ctx, g.f.liveInventory(), g.f.Targets(ctx), host, g.opts)
	return err
}

func (g *Gates) Wasmcloud(ctx context.Context, host string) error {
	_, err := verify.WasmcloudGate(ctx, g.f.liveInventory(), g.f.Targets(ctx), host, g.opts)
	return err
}

// Verify runs every check; the summary counts them and spells out each warning (after a
// domain cutover: who still uses the old domain), the error lists the failing ones.
func (g *Gates) Verify(ctx context.Context) (string, error) {
	rep := verify.Run(ctx, g.f.liveInventory(), g.f.Targets(ctx), g.opts)
	failed := rep.Failed()
	summary := fmt.Sprintf("%d of %d checks passed", len(rep.Results)-len(failed), len(rep.Results))
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
// first host they get a single replica, and one hub restart then takes the lattice down.
func (g *Gates) EnsureBuckets(ctx context.Context, replicas int) error {
	// Right after a hub restart the meta layer can be healthy while a bucket's own stream
	// still elects its leader; a JetStream request meanwhile gets no answer. So each attempt
	// is short, and a failed one is repeated until ctx ends.
	var last error
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 4*time.Second) {
		if last = g.ensureBuckets(ctx, replicas); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), last)
		case <-time.After(wait):
		}
	}
}

func (g *Gates) ensureBuckets(ctx context.Context, replicas int) error {
	nc, err := g.f.ConnectHub(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, g.f.inv.Lattice.JSDomain)
	if err != nil {
		return err
	}
	for _, name := range wasmcloud.BucketNames(g.f.inv.Lattice.Name) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := ensureBucket(actx, js, name, replicas)
		cancel()
		if err != nil {
			return fmt.Errorf("bucket %s with %d replicas: %w", name, replicas, err)
		}
	}
	return nil
}

// ensureBucket creates bucket name, or raises its replicas; it leaves a bucket with enough
// replicas alone.
func ensureBucket(ctx context.Context, js jetstream.JetStream, name string, replicas int) error {
	kv, err := js.KeyValue(ctx, name)
	switch {
	case err == nil:
		st, err := kv.Status(ctx)
		if err != nil {
			return err
		}
		if st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas >= replicas {
			return nil
		}
	case !errors.Is(err, jetstream.ErrBucketNotFound):
		return err
	}
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Replicas: replicas, History: 1, Storage: jetstream.FileStorage})
	return err
}

// ConnectHub opens a NATS connection, as latticepush's check user, to the first hub node
// that answers, through that node's SSH connection.
func (f *Fleet) ConnectHub(ctx context.Context) (*nats.Conn, error) {
	var errs []error
	for _, h := range f.liveInventory().Hubs() {
		c, err := f.client(ctx, h.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		host := h.Hub.ClientHost
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		url := "nats://" + net.JoinHostPort(host, strconv.Itoa(h.Hub.ClientPort))
		nc, err := nats.Connect(url, nats.SetCustomDialer(ctxDialer{ctx: ctx, dial: c.DialContext}),
			nats.UserInfo(render.UserCheck, f.inv.Auth.CheckPassword.Reveal()), nats.Name("latticepush"),
			nats.MaxReconnects(0))
		if err != nil {
			errs = append(errs, plan.OnHost(h.Name, err))
			continue
		}
		return nc, nil
	}
	return nil, fmt.Errorf("no hub node answers: %w", errors.Join(errs...))
}

// ctxDialer adapts a context dialer to nats.CustomDialer.
type ctxDialer struct {
	ctx  context.Context
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) { return d.dial(d.ctx, network, addr) }

// WasmcloudAnswers waits until the wasmCloud host answers host.get, asked from the hub side.
func (g *Gates) WasmcloudAnswers(ctx context.Context, host string) error {
	h := g.f.inv.Host(host)
	if h == nil || h.Wasmcloud == nil || h.Wasmcloud.HostID == "" {
		return fmt.Errorf("%s: no wasmCloud host with a known id in the inventory", host)
	}
	nc, err := g.f.ConnectHub(ctx)
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
