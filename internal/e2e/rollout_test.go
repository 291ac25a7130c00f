package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/verify"
)

// TestRollout_GatedRestartsAndRefusals covers plan+apply's acceptance on one lab: -target
// limits every phase; a stale plan and a held lock are refused; a hub client-port change
// restarts hub nodes one at a time while a KV writer through a leaf loses no acknowledged
// write; a hub whose new port is taken is rolled back and the other hubs are never touched.
func TestRollout_GatedRestartsAndRefusals(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if _, err := s.apply(ctx, s.plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}

	t.Run("target limits every phase", func(t *testing.T) {
		env.Edit(t, func(src string) string {
			return strings.Replace(src, "role \"leaf\" {\n  nats {\n", "role \"leaf\" {\n  nats {\n    log_file = \"/var/log/nats-server.log\"\n", 1)
		})
		s := newSession(t, env, plan.Options{Targets: []string{"edge-2"}})
		p := s.plan(ctx)
		for _, u := range p.Units {
			if u.Host != "edge-2" {
				t.Errorf("a -target edge-2 plan holds %s", u.ID())
			}
		}
		before := fileHashes(t, env, ctx, "/etc/nats/nats-server.conf")
		if _, err := s.apply(ctx, p); err != nil {
			t.Fatal(err)
		}
		after := fileHashes(t, env, ctx, "/etc/nats/nats-server.conf")
		for h := range before {
			if changed := before[h] != after[h]; changed != (h == "edge-2") {
				t.Errorf("%s: config changed = %v with -target edge-2", h, changed)
			}
		}
		// Converge the rest for the next steps.
		s = newSession(t, env, plan.Options{})
		if _, err := s.apply(ctx, s.plan(ctx)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("stale plan refused", func(t *testing.T) {
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		if _, err := env.Lab.Exec(ctx, "edge-3", "sh", "-c", "echo '# hand edit' >> /etc/sv/wasmcloud/run"); err != nil {
			t.Fatal(err)
		}
		_, err := s.apply(ctx, p)
		if !errors.Is(err, plan.ErrStale) || !strings.Contains(err.Error(), "edge-3") {
			t.Fatalf("err %v, want a stale plan naming edge-3", err)
		}
		if _, err := s.apply(ctx, s.plan(ctx)); err != nil { // a fresh plan repairs the edit
			t.Fatal(err)
		}
	})

	t.Run("concurrent apply refused by the lock", func(t *testing.T) {
		other := remote.NewPool(remote.Options{AgentSocket: "none"})
		defer other.Close()
		inv := env.Inventory(t)
		c, err := other.Connect(ctx, fleet.Target(inv.Host("hub-2")))
		if err != nil {
			t.Fatal(err)
		}
		lock, err := c.Lock(ctx, remote.LockInfo{User: "alice", Host: "laptop", PID: 4242, Command: "latticepush apply"}, remote.LockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := newSession(t, env, plan.Options{})
		_, err = s.apply(ctx, s.plan(ctx))
		if !errors.Is(err, remote.ErrLocked) || !strings.Contains(err.Error(), "hub-2") || !strings.Contains(err.Error(), "alice") {
			t.Fatalf("err %v, want hub-2 locked by alice", err)
		}
		if err := lock.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("hub client port change: one node at a time, no acknowledged write lost", func(t *testing.T) {
		w := startWriter(t, ctx, env, "edge-1")
		env.Edit(t, func(src string) string {
			return strings.Replace(src, `cluster_name           = "hub"`, "cluster_name           = \"hub\"\n    client_port            = 4333", 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		if len(p.Waves) == 0 || p.Waves[0].Name != "hub" || len(p.Waves[0].Batches) != 3 {
			t.Fatalf("waves %+v, want a hub wave of three single-node batches", p.Waves)
		}
		if _, err := s.apply(ctx, p); err != nil {
			t.Fatal(err)
		}
		// One node at a time: no hub unit started before the previous one was done.
		running := 0
		for _, e := range s.events {
			if !strings.HasPrefix(e.Unit, "hub-") {
				continue
			}
			switch e.Type {
			case "unit_start":
				running++
				if running > 1 {
					t.Errorf("two hub nodes restarting at once at %s", e.Unit)
				}
			case "unit_done", "rolled_back":
				running--
			}
		}
		acked, errs, gap := w.stop()
		missing := w.missing(t, ctx)
		t.Logf("KV writer through edge-1 during the rolling hub restart: %d acknowledged writes, %d errors, longest gap %s, %d missing afterwards",
			acked, errs, gap.Round(time.Millisecond), missing)
		if acked == 0 {
			t.Fatal("the writer got no write acknowledged")
		}
		if missing != 0 {
			t.Fatalf("%d acknowledged writes are missing", missing)
		}
	})

	t.Run("new port taken: rolled back, other hubs untouched, cluster healthy", func(t *testing.T) {
		env.Edit(t, func(src string) string {
			return strings.Replace(src, "client_port            = 4333", "client_port            = 4444", 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		first := strings.SplitN(p.Waves[0].Batches[0][0], "/", 2)[0]
		pid := squat(t, ctx, env, first, 4444)
		defer env.Lab.Exec(context.Background(), first, "kill", pid)
		before := fileHashes(t, env, ctx, "/etc/nats/nats-server.conf")
		res, err := s.apply(ctx, p)
		if !errors.Is(err, plan.ErrRolledBack) {
			t.Fatalf("err %v, want rolled back", err)
		}
		got := results(res)
		if got[first+"/nats-server"] != "rolled back" {
			t.Errorf("%s: %s, want rolled back", first, got[first+"/nats-server"])
			out, _ := env.Lab.Exec(ctx, first, "sh", "-c", "grep -n listen /etc/nats/nats-server.conf; sv status /etc/service/nats-server; tail -n 30 /var/log/nats-server/current")
			t.Logf("%s after the failed rollback:\n%s", first, out)
		}
		after := fileHashes(t, env, ctx, "/etc/nats/nats-server.conf")
		for h := range before {
			if before[h] != after[h] {
				t.Errorf("%s: config changed (the failing node must be restored, the others never touched)", h)
			}
		}
		inv := env.Inventory(t)
		if _, err := verify.HubNodeGate(ctx, inv, s.fleet.Targets(ctx), first, verify.Options{GateTimeout: time.Minute}); err != nil {
			t.Fatalf("cluster not healthy after the rollback: %v", err)
		}
	})
}

// fileHashes returns path's sha256 on every lab host that has it.
func fileHashes(t *testing.T, env *labtest.Env, ctx context.Context, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range env.Lab.Hosts {
		b, err := env.Lab.Exec(ctx, h.Name, "sha256sum", path)
		if err != nil {
			continue
		}
		out[h.Name] = strings.Fields(string(b))[0]
	}
	return out
}

// squat binds port on host with a process of its own, returning its pid.
func squat(t *testing.T, ctx context.Context, env *labtest.Env, host string, port int) string {
	t.Helper()
	out, err := env.Lab.Exec(ctx, host, "sh", "-c",
		fmt.Sprintf("setsid /usr/local/bin/nats-server -a 0.0.0.0 -p %d </dev/null >/dev/null 2>&1 & echo $!", port))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	return strings.TrimSpace(string(out))
}

// writer puts keys into an R3 KV bucket through a leaf, over the leaf's SSH connection, and
// remembers every write the hub acknowledged.
type writer struct {
	kv     jetstream.KeyValue
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	acked   map[string]string
	errs    int
	lastOK  time.Time
	longest time.Duration
}

func startWriter(t *testing.T, ctx context.Context, env *labtest.Env, leaf string) *writer {
	t.Helper()
	inv := env.Inventory(t)
	pool := remote.NewPool(remote.Options{AgentSocket: "none"})
	t.Cleanup(func() { pool.Close() })
	c, err := pool.Connect(ctx, fleet.Target(inv.Host(leaf)))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", inv.Host(leaf).Leaf.ClientPort),
		nats.SetCustomDialer(clientDialer{c}), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.NewWithDomain(nc, inv.Lattice.JSDomain)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "rollout_writer", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &writer{kv: kv, nc: nc, cancel: cancel, done: make(chan struct{}), acked: map[string]string{}, lastOK: time.Now()}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			key, val := fmt.Sprintf("k%06d", i), fmt.Sprintf("v%d", i)
			pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
			_, err := kv.PutString(pctx, key, val)
			pcancel()
			w.mu.Lock()
			now := time.Now()
			if err != nil {
				w.errs++
			} else {
				w.acked[key] = val
				w.lastOK = now
			}
			if gap := now.Sub(w.lastOK); gap > w.longest {
				w.longest = gap
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *writer) stop() (acked, errs int, longest time.Duration) {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked), w.errs, w.longest
}

// missing counts acknowledged writes that are not in the bucket with their value.
func (w *writer) missing(t *testing.T, ctx context.Context) int {
	n := 0
	for k, v := range w.acked {
		var e jetstream.KeyValueEntry
		var err error
		for try := 0; try < 20; try++ {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			e, err = w.kv.Get(gctx, k)
			cancel()
			if err == nil || errors.Is(err, jetstream.ErrKeyNotFound) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil || string(e.Value()) != v {
			t.Logf("acknowledged %s=%s: %v", k, v, err)
			n++
		}
	}
	return n
}

// clientDialer adapts a remote client to nats.CustomDialer.
type clientDialer struct{ c *remote.Client }

func (d clientDialer) Dial(network, addr string) (net.Conn, error) { return d.c.Dial(network, addr) }
