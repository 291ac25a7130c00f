package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
)

// slowDelay is what the relay in front of a slow host's sshd adds, in each direction.
const slowDelay = 200 * time.Millisecond

// slowHosts are the lab hosts (half of them) whose SSH goes through the delaying relay.
var slowHosts = []string{"hub-2", "edge-1", "edge-3"}

// TestReliability_SlowLossyLinks plans and applies a change (every leaf reloads; in the full
// run every wasmCloud host restarts as well) with every lab link dropping 1% of its
// frames (nftables on the lab's veths; this kernel has no netem) and with half the hosts'
// SSH behind a relay that delays each direction by 200 ms. The apply must end as on clean
// links (every managed file the desired version, verify passing, a rerun has nothing to do);
// plan and apply times on clean and faulty links are reported, with the SSH connect times,
// and the effect of the handshake bound (an ssh_config ConnectTimeout below the slow
// handshake's length makes those hosts unreachable, naming them).
func TestReliability_SlowLossyLinks(t *testing.T) {
	testenv.RequireCommand(t, "nft")
	env := labtest.Up(t, labtest.Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	revision(t, env, 0)
	s := newSession(t, env, plan.Options{})
	if _, err := s.apply(ctx, s.plan(ctx)); err != nil {
		t.Fatalf("initial apply: %v", err)
	}

	var lastEvents []rollout.Event
	// The change: in the full run a reload of every leaf and a restart of every wasmCloud host
	// (revision); in the CI subset the leaf reload only, which keeps the test within its time.
	leafLog := regexp.MustCompile(`nats-leaf-\d+\.log`)
	timed := func(rev int) (planTook, applyTook time.Duration) {
		t.Helper()
		if reliabilityFull() {
			revision(t, env, rev)
		} else {
			env.Edit(t, func(src string) string { return leafLog.ReplaceAllString(src, fmt.Sprintf("nats-leaf-%d.log", rev)) })
		}
		want := desiredHashes(t, env, natsConf, wasmEnv)
		s := newSession(t, env, plan.Options{})
		start := time.Now()
		p := s.plan(ctx)
		planTook = time.Since(start)
		start = time.Now()
		res, err := s.apply(ctx, p)
		applyTook = time.Since(start)
		lastEvents = append(s.events, rollout.Event{Type: rollout.EventPhase, Phase: "returned", Time: time.Now()})
		if err != nil {
			t.Fatalf("revision %d: apply: %v\nresults: %v", rev, err, results(res))
		}
		if res.VerifyError != "" && !strings.Contains(res.VerifyError, staleRead) {
			t.Fatalf("revision %d: verify after apply: %s", rev, res.VerifyError)
		}
		if got := hashesOn(t, ctx, env, natsConf, wasmEnv); !equalStrings(got, want) {
			t.Fatalf("revision %d: managed files are not the desired versions:\ngot  %v\nwant %v", rev, got, want)
		}
		return planTook, applyTook
	}
	cleanPlan, cleanApply := timed(1)
	t.Logf("clean links: plan %s, apply %s (%s)", cleanPlan.Round(10*time.Millisecond), cleanApply.Round(10*time.Millisecond), phaseTimes(lastEvents))
	cleanConnect := connectTimes(t, ctx, env, false)

	for _, h := range slowHosts {
		host, _ := env.Lab.Host(h)
		r := newDelayRelay(t, netip.AddrPortFrom(host.Addr, 22).String(), slowDelay)
		viaProxy(t, env, h, r.Port())
	}
	loss := newLinkLoss(t, env, 1)
	n := reliabilityCount(t, 1, 3)
	var slowPlan, slowApply time.Duration
	for i := range n {
		p, a := timed(2 + i)
		slowPlan, slowApply = max(slowPlan, p), max(slowApply, a)
		converged(t, ctx, env)
		t.Logf("trial %d on slow and lossy links: plan %s, apply %s (%s); converged", i+1, p.Round(10*time.Millisecond), a.Round(10*time.Millisecond), phaseTimes(lastEvents))
	}
	checks := 0
	if reliabilityFull() {
		checks = verifyLab(t, ctx, env)
	} else if res := lastVerify(lastEvents); res != "" {
		t.Logf("the apply's own verify: %s", res)
	}
	slowConnect := connectTimes(t, ctx, env, true)
	dropped, seen := loss.counts(t)

	// The handshake bound: the slow hosts with a ConnectTimeout shorter than their handshake.
	bound := 1 * time.Second
	for _, h := range slowHosts {
		cfg := env.Dir + "/ssh_config." + h
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, append(b, fmt.Sprintf("  ConnectTimeout %d\n", int(bound/time.Second))...), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(cfg, b, 0o644)
	}
	start := time.Now()
	_, err := newSession(t, env, plan.Options{}).Plan(ctx)
	boundTook := time.Since(start)
	if err == nil {
		t.Fatalf("plan with ConnectTimeout %s to hosts whose handshake takes longer succeeded", bound)
	}
	for _, h := range slowHosts {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("the plan error does not name %s:\n%v", h, err)
		}
	}
	t.Logf("handshake bound: with ConnectTimeout %s for the slow hosts, plan stops after %s: %s", bound, boundTook.Round(10*time.Millisecond), firstLineOf(err.Error()))

	t.Logf("slow and lossy links: %d of %d lab frames dropped by nftables (%.2f%%), %s added each way on %d of %d hosts' SSH; clean links: plan %s, apply %s; faulty links (worst of %d): plan %s, apply %s; every apply correct (files the desired versions, its verify passed, a separate verify %d checks passed (full run only), rerun empty); SSH connect+handshake+auth clean %s, slow %s (bound 15 s by default; %s makes the slow hosts unreachable)",
		dropped, seen, 100*float64(dropped)/float64(max(seen, 1)), slowDelay, len(slowHosts), len(env.Lab.Hosts),
		cleanPlan.Round(10*time.Millisecond), cleanApply.Round(10*time.Millisecond), n,
		slowPlan.Round(10*time.Millisecond), slowApply.Round(10*time.Millisecond), checks,
		cleanConnect, slowConnect, bound)
}

// phaseTimes says how long each phase (and each wave) of an apply took, from its events.
func phaseTimes(events []rollout.Event) string {
	var out []string
	for i, e := range events {
		if e.Type != rollout.EventPhase {
			continue
		}
		end := events[len(events)-1].Time
		for _, n := range events[i+1:] {
			if n.Type == rollout.EventPhase {
				end = n.Time
				break
			}
		}
		name := string(e.Phase)
		switch {
		case name == "returned":
			continue
		case e.Phase == rollout.PhaseVerify:
			name = "verify, audit and unlock"
		case e.Wave != "":
			name = string(e.Wave) + " wave"
		}
		out = append(out, fmt.Sprintf("%s %s", name, end.Sub(e.Time).Round(10*time.Millisecond)))
	}
	return strings.Join(out, ", ")
}

// lastVerify is the message of the apply's settled verify event.
func lastVerify(events []rollout.Event) string {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == rollout.EventSettled {
			return events[i].Message
		}
	}
	return ""
}

// connectTimes opens a fresh SSH connection to every lab host as latticepush does and
// returns the longest time one took among the slow hosts (when relayed) and among the others.
func connectTimes(t *testing.T, ctx context.Context, env *labtest.Env, relayed bool) string {
	t.Helper()
	inv := env.Inventory(t)
	var slow, direct time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range inv.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool := remote.NewPool(remote.Options{AgentSocket: "none"})
			defer pool.Close()
			start := time.Now()
			if _, err := pool.Connect(ctx, fleet.Target(inv, inv.Host(h.Name))); err != nil {
				t.Errorf("connect to %s: %v", h.Name, err)
				return
			}
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if slices.Contains(slowHosts, h.Name) && relayed {
				slow = max(slow, took)
			} else {
				direct = max(direct, took)
			}
		}()
	}
	wg.Wait()
	if slow == 0 {
		return direct.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%s (direct hosts %s)", slow.Round(time.Millisecond), direct.Round(time.Millisecond))
}

// delayRelay forwards TCP connections to target, delaying every byte by a fixed time in each
// direction (order and throughput kept), as a long link would.
type delayRelay struct {
	ln     net.Listener
	target string
	delay  time.Duration
	mu     sync.Mutex
	conns  []net.Conn
}

func newDelayRelay(t *testing.T, target string, delay time.Duration) *delayRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &delayRelay{ln: ln, target: target, delay: delay}
	go r.serve()
	t.Cleanup(r.close)
	return r
}

func (r *delayRelay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *delayRelay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			up, err := net.DialTimeout("tcp", r.target, 10*time.Second)
			if err != nil {
				c.Close()
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); r.pipe(up, c) }()
			go func() { defer wg.Done(); r.pipe(c, up) }()
			wg.Wait()
			c.Close()
			up.Close()
		}()
	}
}

// pipe copies src to dst, each chunk written delay after it was read.
func (r *delayRelay) pipe(dst, src net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(r.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			src.Close()
			for range ch {
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

func (r *delayRelay) close() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
}

// linkLoss is an nftables table (bridge family) that drops a percentage of the frames on
// every port of the lab's bridge: each host's veth, both directions.
type linkLoss struct{ table string }

func newLinkLoss(t *testing.T, env *labtest.Env, percent int) *linkLoss {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show", "master", env.Lab.Bridge).CombinedOutput()
	if err != nil {
		t.Fatalf("ports of %s: %v: %s", env.Lab.Bridge, err, out)
	}
	var ports []string
	for _, m := range regexp.MustCompile(`(?m)^\d+: ([^:@]+)[:@]`).FindAllStringSubmatch(string(out), -1) {
		ports = append(ports, strconv.Quote(m[1]))
	}
	if len(ports) != len(env.Lab.Hosts) {
		t.Fatalf("%s has ports %v, want one per lab host (%d)", env.Lab.Bridge, ports, len(env.Lab.Hosts))
	}
	l := &linkLoss{table: fmt.Sprintf("latticepush_loss_%d", os.Getpid())}
	set := "{ " + strings.Join(ports, ", ") + " }"
	drop := fmt.Sprintf("numgen random mod 100 < %d counter drop", percent)
	rules := fmt.Sprintf(`table bridge %[1]s {
  chain lossin { type filter hook input priority 0; policy accept; iifname %[2]s counter; iifname %[2]s %[3]s; }
  chain lossfwd { type filter hook forward priority 0; policy accept; iifname %[2]s counter; iifname %[2]s %[3]s; oifname %[2]s counter; oifname %[2]s %[3]s; }
  chain lossout { type filter hook output priority 0; policy accept; oifname %[2]s counter; oifname %[2]s %[3]s; }
}
`, l.table, set, drop)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("nft", "delete", "table", "bridge", l.table).CombinedOutput(); err != nil {
			t.Errorf("nft delete table %s: %v: %s", l.table, err, out)
		}
	})
	return l
}

// counts returns the frames dropped and the frames seen on the lab's ports.
func (l *linkLoss) counts(t *testing.T) (dropped, seen int64) {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "bridge", l.table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	for _, m := range regexp.MustCompile(`counter packets (\d+) bytes \d+( drop)?`).FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		if m[2] != "" {
			dropped += n
		} else {
			seen += n
		}
	}
	return dropped, seen
}
