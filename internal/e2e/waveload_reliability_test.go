package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
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
)

// TestReliability_LoadEveryWave applies a change that restarts every unit of every wave (the
// hub nodes and the leaves take a new lame_duck_grace_period, the wasmCloud hosts a new
// label) under a KV writer and reader through a leaf whose own nats-server restarts in the
// leaf wave. Every acknowledged write must be present afterwards with its value; the longest
// time without a successful write and read is reported for each wave.
func TestReliability_LoadEveryWave(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	revision(t, env, 0)
	s := newSession(t, env, plan.Options{})
	if _, err := s.apply(ctx, s.plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}
	grace := regexp.MustCompile(`lame_duck_grace_period = "\d+s"`)
	n := reliabilityCount(t, 1, 4)
	var acked, lost int
	worst := map[plan.WaveName]time.Duration{}
	for i := range n {
		leaf := fmt.Sprintf("edge-%d", 1+i%3)
		revision(t, env, i+1)
		env.Edit(t, func(src string) string {
			return grace.ReplaceAllString(src, fmt.Sprintf("lame_duck_grace_period = \"%ds\"", 2+i%2))
		})
		s := newSession(t, env, plan.Options{})
		p := s.plan(ctx)
		for _, u := range p.Units {
			if u.Action != plan.Restart {
				t.Fatalf("%s: %s, want restart (%v)", u.ID(), u.Action, u.Reasons)
			}
		}
		l := startWaveLoad(t, ctx, env, leaf, i)
		time.Sleep(2 * time.Second) // a baseline before the change
		start := time.Now()
		if _, err := s.apply(ctx, p); err != nil {
			l.stop()
			t.Fatalf("trial %d: apply: %v", i+1, err)
		}
		took := time.Since(start)
		time.Sleep(2 * time.Second)
		end := l.stop()
		missing, wrong := (&kvLoad{kv: l.kv, acked: l.acked}).check(t, ctx)
		acked += len(l.acked)
		lost += missing + wrong
		var waves []string
		for _, w := range waveWindows(s.events, end) {
			wg, wat, rg, rat := l.gaps(w.from, w.to)
			worst[w.name] = max(worst[w.name], wg, rg)
			waves = append(waves, fmt.Sprintf("%s wave %s: longest write gap %s (from %s), read gap %s (from %s)",
				w.name, w.to.Sub(w.from).Round(100*time.Millisecond), wg.Round(10*time.Millisecond), phaseAt(s.events, wat),
				rg.Round(10*time.Millisecond), phaseAt(s.events, rat)))
		}
		t.Logf("trial %d, load through %s, apply %s restarting %d units: %d writes acknowledged, %d write errors; %d reads (%d wrong values, %d errors); %s; afterwards %d acknowledged writes missing, %d with a wrong value",
			i+1, leaf, took.Round(time.Second), len(p.Units), len(l.acked), l.writeErrs, l.reads, l.readWrong, l.readErrs,
			strings.Join(waves, "; "), missing, wrong)
		if len(l.acked) == 0 || l.reads == 0 {
			t.Fatalf("trial %d: the load got nothing through", i+1)
		}
		if len(waves) < 3 {
			t.Fatalf("trial %d: %d waves ran, want hub, leaf and wasmcloud: %v", i+1, len(waves), waves)
		}
		if missing+wrong+l.readWrong > 0 {
			t.Fatalf("trial %d: lost or wrong: %d missing, %d wrong after, %d wrong reads during", i+1, missing, wrong, l.readWrong)
		}
	}
	var worstText []string
	for _, w := range []plan.WaveName{plan.WaveHub, plan.WaveLeaf, plan.WaveWasmcloud} {
		worstText = append(worstText, fmt.Sprintf("%s %s", w, worst[w].Round(10*time.Millisecond)))
	}
	t.Logf("load in every wave: %d applies restarting every unit, %d writes acknowledged, %d lost; longest gap (write or read) per wave over all trials: %s",
		n, acked, lost, strings.Join(worstText, ", "))
}

// window is the time one wave ran.
type window struct {
	name     plan.WaveName
	from, to time.Time
}

// waveWindows returns each wave's time, from its phase event to the next phase event (or
// end).
func waveWindows(events []rollout.Event, end time.Time) []window {
	var out []window
	for i, e := range events {
		if e.Type != rollout.EventPhase || e.Phase != rollout.PhaseWave {
			continue
		}
		w := window{name: e.Wave, from: e.Time, to: end}
		for _, n := range events[i+1:] {
			if n.Type == rollout.EventPhase {
				w.to = n.Time
				break
			}
		}
		out = append(out, w)
	}
	return out
}

// waveLoad writes and reads an R3 KV bucket through a leaf, each at loadRate per second,
// and keeps the time of every successful operation.
type waveLoad struct {
	kv     jetstream.KeyValue
	cancel context.CancelFunc
	wg     sync.WaitGroup
	begun  time.Time

	mu                         sync.Mutex
	acked                      map[string]string
	keys                       []string
	wrote, read                []time.Time
	writeErrs, reads, readErrs int
	readWrong                  int
}

func startWaveLoad(t *testing.T, ctx context.Context, env *labtest.Env, leaf string, trial int) *waveLoad {
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
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "reliability_waves", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	l := &waveLoad{kv: kv, cancel: cancel, acked: map[string]string{}, begun: time.Now()}
	every := time.Second / loadRate
	l.wg.Add(2)
	go l.loop(lctx, every, func(ctx context.Context, i int) { l.write(ctx, trial, i) })
	go l.loop(lctx, every, func(ctx context.Context, _ int) { l.readOne(ctx) })
	return l
}

func (l *waveLoad) loop(ctx context.Context, every time.Duration, op func(ctx context.Context, i int)) {
	defer l.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		op(octx, i)
		cancel()
	}
}

func (l *waveLoad) write(ctx context.Context, trial, i int) {
	key, val := fmt.Sprintf("t%d-k%06d", trial, i), fmt.Sprintf("v%d-%d", i, rand.Int64())
	_, err := l.kv.PutString(ctx, key, val)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			l.writeErrs++
		}
		return
	}
	l.acked[key] = val
	l.keys = append(l.keys, key)
	l.wrote = append(l.wrote, time.Now())
}

func (l *waveLoad) readOne(ctx context.Context) {
	l.mu.Lock()
	if len(l.keys) == 0 {
		l.mu.Unlock()
		return
	}
	key := l.keys[rand.IntN(len(l.keys))]
	want := l.acked[key]
	l.mu.Unlock()
	e, err := l.kv.Get(ctx, key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if errors.Is(err, context.Canceled) {
		return
	}
	l.reads++
	switch {
	case err != nil:
		l.readErrs++
	case string(e.Value()) != want:
		l.readWrong++
	default:
		l.read = append(l.read, time.Now())
	}
}

// stop ends the load and returns when it ended.
func (l *waveLoad) stop() time.Time {
	l.cancel()
	l.wg.Wait()
	return time.Now()
}

// gaps returns the longest time without a successful write and without a successful read
// that overlaps [from, to], each with when it began.
func (l *waveLoad) gaps(from, to time.Time) (write time.Duration, writeAt time.Time, read time.Duration, readAt time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	write, writeAt = longestGap(l.wrote, from, to, l.begun)
	read, readAt = longestGap(l.read, from, to, l.begun)
	return write, writeAt, read, readAt
}

// longestGap is the longest interval between consecutive times in ok (sorted) that overlaps
// [from, to], and when it began; before the first success the gap counts from begun.
func longestGap(ok []time.Time, from, to, begun time.Time) (time.Duration, time.Time) {
	i := sort.Search(len(ok), func(i int) bool { return !ok[i].Before(from) })
	prev := begun
	if i > 0 {
		prev = ok[i-1]
	}
	var longest time.Duration
	at := prev
	for ; i < len(ok); i++ {
		if d := ok[i].Sub(prev); d > longest {
			longest, at = d, prev
		}
		prev = ok[i]
		if ok[i].After(to) {
			return longest, at
		}
	}
	if d := to.Sub(prev); d > longest {
		longest, at = d, prev
	}
	return longest, at
}
