package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
)

// loadRate is the KV writer's and the reader's rate, each, in operations per second.
const loadRate = 50

// TestReliability_LoadAndBadConfigs runs, on one lab: a rolling restart of every hub node under
// KV load through a leaf (every acknowledged write must be present afterwards); a leaf whose
// new config passes `nats-server -t` but cannot start (its port is taken), and a wasmCloud host
// that crash-loops on its new environment, both rolled back; and a label holding shell syntax,
// which must arrive literally and execute nothing.
func TestReliability_LoadAndBadConfigs(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if _, err := s.apply(ctx, s.plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}

	t.Run("rolling hub restart under KV load", func(t *testing.T) {
		l := startLoad(t, ctx, env, "edge-1")
		time.Sleep(2 * time.Second) // a baseline before the change
		env.Edit(t, func(src string) string {
			return strings.Replace(src, "lame_duck_grace_period = \"1s\"\n  }\n}\n\nrole \"leaf\"", "lame_duck_grace_period = \"2s\"\n  }\n}\n\nrole \"leaf\"", 1)
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
			if a := actions(p)[h+"/nats-server"]; a != plan.Restart {
				t.Fatalf("%s: %s, want restart (%v)", h, a, p.Unit(h+"/nats-server").Reasons)
			}
		}
		start := time.Now()
		if _, err := s.apply(ctx, p); err != nil {
			t.Fatalf("apply: %v", err)
		}
		took := time.Since(start)
		time.Sleep(2 * time.Second)
		st := l.stop()
		missing, wrong := l.check(t, ctx)
		t.Logf("load during a rolling restart of 3 hub nodes (%s): %d writes acknowledged, %d write errors; %d reads (%d verified values, %d errors, %d wrong values); longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d with a wrong value",
			took.Round(time.Second), st.acked, st.writeErrs, st.reads, st.readOK, st.readErrs, st.readWrong,
			st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
		if st.acked == 0 || st.readOK == 0 {
			t.Fatal("the load got nothing through")
		}
		if missing+wrong+st.readWrong > 0 {
			t.Fatalf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
		}
	})

	t.Run("leaf config that cannot start is rolled back", func(t *testing.T) {
		const port = 4555
		pid := occupyPort(t, ctx, env, "edge-2", port)
		defer env.Lab.Exec(context.Background(), "edge-2", "kill", pid)
		edited := hostBlock(t, env, "edge-2", fmt.Sprintf("  nats {\n    client_port = %d\n  }\n", port))
		defer edited.undo(t)
		before := hashesOn(t, ctx, env, natsConf, wasmEnv)
		s := newSession(t, env, plan.Options{})
		res, err := s.apply(ctx, s.plan(ctx))
		if !errors.Is(err, rollout.ErrRolledBack) || !strings.Contains(err.Error(), "edge-2") {
			t.Fatalf("err %v, want rolled back naming edge-2", err)
		}
		got := results(res)
		if got["edge-2/nats-server"] != "rolled back" {
			t.Fatalf("edge-2/nats-server: %q, want rolled back", got["edge-2/nats-server"])
		}
		if after := hashesOn(t, ctx, env, natsConf, wasmEnv); !equalStrings(before, after) {
			t.Fatalf("files changed by a rolled-back apply: %v -> %v", before, after)
		}
		// The lattice runs the previous inventory again: verify against that one. The
		// wasmCloud host on edge-2 lost its leaf during the failed start and the rollback, and
		// (like the real host) runit restarts it until the leaf is linked: allow for that.
		edited.undo(t)
		vs := newSession(t, env, plan.Options{})
		var rep verify.Report
		for deadline := time.Now().Add(90 * time.Second); ; {
			if rep = vs.verify(ctx); rep.OK() || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		t.Logf("startup-refused leaf config: edge-2 %s, wasmCloud on edge-2 %s; every managed file as before; verify after: %d/%d checks pass",
			got["edge-2/nats-server"], got["edge-2/wasmcloud"], len(rep.Results)-len(rep.Failed()), len(rep.Results))
		if !rep.OK() {
			t.Fatalf("verify after the rollback: %v", rep.Failed())
		}
	})

	t.Run("crash-looping wasmCloud host is rolled back", func(t *testing.T) {
		edited := hostBlock(t, env, "edge-3", "  wasmcloud {\n    nats_port = 4999\n  }\n")
		defer edited.undo(t)
		before := hashesOn(t, ctx, env, wasmEnv)
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		if a := actions(p)["edge-3/wasmcloud"]; a != plan.Restart {
			t.Fatalf("edge-3/wasmcloud: %s, want restart", a)
		}
		res, err := s.apply(ctx, p)
		if !errors.Is(err, rollout.ErrRolledBack) {
			t.Fatalf("err %v, want rolled back", err)
		}
		got := results(res)["edge-3/wasmcloud"]
		if got != "rolled back" {
			t.Fatalf("edge-3/wasmcloud: %q, want rolled back", got)
		}
		if k := "edge-3 " + wasmEnv; hashesOn(t, ctx, env, wasmEnv)[k] != before[k] {
			t.Fatalf("edge-3's env file is not its previous one after the rollback")
		}
		environ, err := env.Lab.Exec(ctx, "edge-3", "sh", "-c", "tr '\\0' '\\n' < /proc/$(cat /etc/sv/wasmcloud/supervise/pid)/environ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(environ), "WASMCLOUD_NATS_PORT=4222") || strings.Contains(string(environ), "4999") {
			t.Fatalf("the wasmCloud host does not run its previous environment:\n%s", grepLines(string(environ), "WASMCLOUD_NATS"))
		}
		runs := restartsOf(t, ctx, env, "edge-3")
		t.Logf("crash-looping wasmCloud host: edge-3 %s after its gate failed; it runs its previous environment again (%s); its log shows %d failed starts",
			got, strings.TrimSpace(grepLines(string(environ), "WASMCLOUD_NATS_PORT")), runs)
		edited.undo(t)
		if _, err := newSession(t, env, plan.Options{}).apply(ctx, newSession(t, env, plan.Options{}).plan(ctx)); err != nil {
			t.Fatalf("apply after undoing the edits: %v", err)
		}
	})

	t.Run("label with shell syntax arrives literally, executes nothing", func(t *testing.T) {
		// The HCL string below decodes to: $(touch /tmp/pwned1) `touch /tmp/pwned2` ; touch /tmp/pwned3 'q' "dq" \ end
		const hclValue = "\"$(touch /tmp/pwned1) `touch /tmp/pwned2` ; touch /tmp/pwned3 'q' \\\"dq\\\" \\\\ end\""
		const want = "$(touch /tmp/pwned1) `touch /tmp/pwned2` ; touch /tmp/pwned3 'q' \"dq\" \\ end"
		env.Edit(t, func(src string) string {
			return strings.Replace(src, `labels  = { zone = "b" }`, `labels  = { zone = "b", evil = `+hclValue+` }`, 1)
		})
		s := newSession(t, env, plan.Options{})
		if got := s.Inv.Host("edge-3").Wasmcloud.Labels["evil"]; got != want {
			t.Fatalf("label decoded as %q, want %q", got, want)
		}
		if _, err := s.apply(ctx, s.plan(ctx)); err != nil { // the wasmCloud gate checks the labels the host reports
			t.Fatalf("apply: %v", err)
		}
		read, err := env.Lab.Exec(ctx, "edge-3", "sh", "-c", `set -a; . /etc/wasmcloud/wasmcloud.env; printf %s "$WASMCLOUD_LABEL_evil"`)
		if err != nil || string(read) != want {
			t.Fatalf("the env file reads back as %q (%v), want %q", read, err, want)
		}
		environ, err := env.Lab.Exec(ctx, "edge-3", "sh", "-c", "tr '\\0' '\\n' < /proc/$(cat /etc/sv/wasmcloud/supervise/pid)/environ")
		if err != nil || !strings.Contains(string(environ), "WASMCLOUD_LABEL_evil="+want+"\n") {
			t.Fatalf("the running host's environment lacks the literal label (%v):\n%s", err, grepLines(string(environ), "LABEL"))
		}
		executed := 0
		for _, h := range env.Lab.Hosts {
			if out, _ := env.Lab.Exec(ctx, h.Name, "sh", "-c", "ls /tmp/pwned* 2>/dev/null; true"); len(strings.TrimSpace(string(out))) > 0 {
				executed++
				t.Errorf("%s: %s exists: the label was executed", h.Name, strings.TrimSpace(string(out)))
			}
		}
		t.Logf("hostile label: applied, read back literally from the env file and the running host's environment; files created by it on %d of %d hosts", executed, len(env.Lab.Hosts))
	})
}

// loadStats are the figures of a KV load run.
type loadStats struct {
	acked, writeErrs                   int
	reads, readOK, readErrs, readWrong int
	writeGap, readGap                  time.Duration
}

// kvLoad writes and reads an R3 KV bucket through a leaf, each at loadRate per second, over the
// leaf's SSH connection, and remembers every write the hub acknowledged.
type kvLoad struct {
	kv     jetstream.KeyValue
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	acked map[string]string
	keys  []string
	st    loadStats
}

func startLoad(t *testing.T, ctx context.Context, env *labtest.Env, leaf string) *kvLoad {
	t.Helper()
	inv := env.Inventory(t)
	pool := remote.NewPool(remote.Options{AgentSocket: "none"})
	t.Cleanup(func() { pool.Close() })
	c, err := pool.Connect(ctx, fleet.Target(inv, inv.Host(leaf)))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", inv.Host(leaf).Leaf.ClientPort),
		nats.SetCustomDialer(dialer{c.DialContext}), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.NewWithDomain(nc, inv.Lattice.JSDomain)
	if err != nil {
		t.Fatal(err)
	}
	// A cluster that has just formed can answer "no suitable peers for placement, peer
	// offline" for a few seconds, until its meta leader has heard from every peer; apply's
	// bucket phase retries the same way.
	var kv jetstream.KeyValue
	for deadline := time.Now().Add(30 * time.Second); ; {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "reliability_load", Replicas: 3})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creating the load's bucket for 30s: %v", err)
		}
		t.Logf("creating the load's bucket: %v; retrying", err)
		time.Sleep(500 * time.Millisecond)
	}
	lctx, cancel := context.WithCancel(ctx)
	l := &kvLoad{kv: kv, cancel: cancel, acked: map[string]string{}}
	every := time.Second / loadRate
	l.wg.Add(2)
	go l.loop(lctx, every, &l.st.writeGap, l.write)
	go l.loop(lctx, every, &l.st.readGap, l.read)
	return l
}

// loop calls op at a steady rate and tracks the longest time without a successful op.
func (l *kvLoad) loop(ctx context.Context, every time.Duration, gap *time.Duration, op func(ctx context.Context, i int) bool) {
	defer l.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastOK := time.Now()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok := op(octx, i)
		cancel()
		now := time.Now()
		l.mu.Lock()
		if ok {
			lastOK = now
		} else if ctx.Err() == nil {
			*gap = max(*gap, now.Sub(lastOK))
		}
		l.mu.Unlock()
	}
}

func (l *kvLoad) write(ctx context.Context, i int) bool {
	key, val := fmt.Sprintf("k%06d", i), fmt.Sprintf("v%d-%d", i, rand.Int64())
	_, err := l.kv.PutString(ctx, key, val)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
			l.st.writeErrs++
		}
		return false
	}
	l.st.acked++
	l.acked[key] = val
	l.keys = append(l.keys, key)
	return true
}

// read gets a random acknowledged key and checks its value.
func (l *kvLoad) read(ctx context.Context, _ int) bool {
	l.mu.Lock()
	if len(l.keys) == 0 {
		l.mu.Unlock()
		return true
	}
	key := l.keys[rand.IntN(len(l.keys))]
	want := l.acked[key]
	l.mu.Unlock()
	e, err := l.kv.Get(ctx, key)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.reads++
	switch {
	case err != nil:
		l.st.readErrs++
		return false
	case string(e.Value()) != want:
		l.st.readWrong++
		return false
	}
	l.st.readOK++
	return true
}

func (l *kvLoad) stop() loadStats {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// check reads every acknowledged key back: how many are missing, and how many differ.
// finish stops the load, checks every acknowledged write, logs the figures under what, and
// fails the test when nothing got through or a write was lost or read wrong.
func (l *kvLoad) finish(t *testing.T, ctx context.Context, what string) loadStats {
	t.Helper()
	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("%s: %d writes acknowledged, %d write errors; %d reads (%d verified, %d errors, %d wrong); longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		what, st.acked, st.writeErrs, st.reads, st.readOK, st.readErrs, st.readWrong,
		st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Errorf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}
	return st
}

func (l *kvLoad) check(t *testing.T, ctx context.Context) (missing, wrong int) {
	for k, v := range l.acked {
		var e jetstream.KeyValueEntry
		var err error
		for try := 0; try < 20; try++ {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			e, err = l.kv.Get(gctx, k)
			cancel()
			if err == nil || errors.Is(err, jetstream.ErrKeyNotFound) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		switch {
		case err != nil:
			t.Logf("acknowledged %s=%s: %v", k, v, err)
			missing++
		case string(e.Value()) != v:
			t.Logf("acknowledged %s=%s, read %s", k, v, e.Value())
			wrong++
		}
	}
	return missing, wrong
}

// occupyPort binds port on host with a process of its own and returns its pid.
func occupyPort(t *testing.T, ctx context.Context, env *labtest.Env, host string, port int) string {
	t.Helper()
	out, err := env.Lab.Exec(ctx, host, "sh", "-c",
		fmt.Sprintf("setsid /usr/local/bin/nats-server -a 0.0.0.0 -p %d </dev/null >/dev/null 2>&1 & echo $!", port))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(out))
	for try := 0; try < 50; try++ {
		if out, _ := env.Lab.Exec(ctx, host, "sh", "-c", fmt.Sprintf("ss -Hltn 'sport = :%d'", port)); len(strings.TrimSpace(string(out))) > 0 {
			return pid
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: nothing listens on %d", host, port)
	return ""
}

// edit is an inventory edit that can be undone.
type edit struct {
	env      *labtest.Env
	from, to string
}

func (e edit) undo(t *testing.T) {
	t.Helper()
	if e.env == nil {
		return
	}
	e.env.Edit(t, func(src string) string { return strings.Replace(src, e.to, e.from, 1) })
}

// hostBlock adds body to host's block in the inventory.
func hostBlock(t *testing.T, env *labtest.Env, host, body string) edit {
	t.Helper()
	var e edit
	env.Edit(t, func(src string) string {
		i := strings.Index(src, `host "`+host+`" {`)
		if i < 0 {
			t.Fatalf("no host %s in the inventory", host)
		}
		j := i + strings.Index(src[i:], "\n}\n")
		e = edit{env: env, from: src[i : j+1], to: src[i:j+1] + body}
		return src[:j+1] + body + src[j+1:]
	})
	return e
}

func equalStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// restartsOf counts the failed starts (error lines) in the wasmCloud host's runit log on host.
func restartsOf(t *testing.T, ctx context.Context, env *labtest.Env, host string) int {
	t.Helper()
	out, _ := env.Lab.Exec(ctx, host, "sh", "-c", "cat /var/log/wasmcloud/current 2>/dev/null; true")
	return strings.Count(strings.ToLower(string(out)), "error: ")
}
