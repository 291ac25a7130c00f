package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/verify"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// routeAuthOff renders the lab inventory as a fleet deployed before route authentication.
func routeAuthOff(src string) string {
	return strings.Replace(src, "js_domain = \"hub\"\n", "js_domain = \"hub\"\n  route_auth = false\n", 1)
}

// TestRouteAuth_StrayServerRefused: after a fresh apply (route authentication is the
// default), a nats-server started on a lab host with a route to hub-1 but without the route
// credentials is refused: hub-1's log shows its route closed for an authentication failure, no hub's /routez
// lists it, and verify passes, hub.route-auth included.
func TestRouteAuth_StrayServerRefused(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	strayRefused(t, ctx, env, s, "")
	strayLog, _ := env.Lab.Exec(ctx, "edge-1", "sh", "-c", "grep -ci 'authorization violation' /tmp/stray.log || true")
	t.Logf("the stray's own log has %s authorization violation line(s)", strings.TrimSpace(string(strayLog)))

	rep := s.verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify with the stray running: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, h := range s.Inv.Hubs() {
		if r := resultOf(rep, verify.CheckHubRouteAuth, h.Name); r == nil || !r.OK || r.Warning {
			t.Errorf("%s on %s: %+v", verify.CheckHubRouteAuth, h.Name, r)
		} else {
			t.Logf("verify %s %s: %s", r.Check, r.Host, r.Evidence)
		}
	}
}

// strayRefused starts a nats-server on edge-1 (a lab host that reaches hub-1's cluster port
// like any peer) whose route to hub-1 logs in with userinfo ("user:password@", or "" for
// none), and waits for hub-1's log to show three of its routes closed for an authentication
// failure; no hub's /routez may list it. The stray is stopped at the end of the test.
func strayRefused(t *testing.T, ctx context.Context, env *labtest.Env, s *session, userinfo string) {
	t.Helper()
	hub1 := s.Inv.Host("hub-1")
	logFrom := hubLogLines(t, ctx, env, "hub-1")
	conf := fmt.Sprintf("server_name: stray\nlisten: \"127.0.0.1:4333\"\nhttp: \"127.0.0.1:8333\"\n"+
		"cluster {\n  name: %q\n  listen: \"0.0.0.0:6333\"\n  routes: [\"nats-route://%s%s:%d\"]\n}\n",
		hub1.Hub.ClusterName, userinfo, hub1.Address, hub1.Hub.ClusterPort)
	out, err := env.Lab.Exec(ctx, "edge-1", "sh", "-c",
		`printf '%s' "$1" > /tmp/stray.conf && { setsid /usr/local/bin/nats-server -c /tmp/stray.conf -l /tmp/stray.log </dev/null >/dev/null 2>&1 & echo $!; }`,
		"sh", conf)
	pid := strings.TrimSpace(string(out))
	if err != nil || pid == "" {
		t.Fatalf("start the stray server on edge-1: %v %s", err, out)
	}
	t.Cleanup(func() { env.Lab.Exec(context.Background(), "edge-1", "kill", pid) })

	// It dials again every second: wait for a few refusals.
	var refused string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		b, err := env.Lab.Exec(ctx, "hub-1", "sh", "-c",
			fmt.Sprintf("tail -n +%d /var/log/nats-server/current | grep 'Router connection closed: Authentication Failure' || true", logFrom+1))
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) >= 3 && lines[0] != "" {
			refused = strings.Join(lines, "\n")
			break
		}
	}
	if refused == "" {
		b, _ := env.Lab.Exec(ctx, "hub-1", "sh", "-c", fmt.Sprintf("tail -n +%d /var/log/nats-server/current | tail -n 30", logFrom+1))
		sl, _ := env.Lab.Exec(ctx, "edge-1", "tail", "-n", "20", "/tmp/stray.log")
		t.Fatalf("hub-1's log shows no route refused for authentication:\n%s\nstray's log:\n%s", b, sl)
	}
	t.Logf("hub-1's log:\n%s", firstLines(refused, 4))

	for _, h := range s.Inv.Hubs() {
		names := routeNames(t, ctx, s, h.Name)
		if strings.Contains(names, "stray") {
			t.Errorf("%s's /routez lists the stray server: %s", h.Name, names)
		}
		t.Logf("%s /routez remote_names: %s", h.Name, names)
	}
}

// TestRouteAuth_IntroducedUnderLoad moves a running lab lattice deployed without route
// authentication (route_auth = false) to it, with the CLI, while a KV writer and reader go
// through a leaf. The plan reloads each hub node (nothing else changes); the hub wave takes
// them one at a time, each gated on routes to every other node. Asserted: apply exits 0, no
// acknowledged write is lost, and every hub's /routez, polled throughout, names both other
// nodes again after every reload; the longest time any hub missed a peer is reported.
func TestRouteAuth_IntroducedUnderLoad(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1, Edit: routeAuthOff})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply without route auth: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	if r := resultOf(s.verify(ctx), verify.CheckHubRouteAuth, "hub-1"); r == nil || !r.Warning {
		t.Fatalf("before: %s on hub-1 is not a warning: %+v", verify.CheckHubRouteAuth, r)
	}

	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second) // a baseline before the change
	env.Edit(t, func(src string) string {
		on := strings.Replace(src, "  route_auth = false\n", "", 1)
		if on == src {
			t.Fatal("the lab inventory has no route_auth = false to remove")
		}
		return on
	})
	cli := cliRunner(t, ctx, bin)
	planOut, err := cli("plan", env.Path)
	if err != nil {
		t.Fatalf("latticepush plan: %v\n%s", err, planOut)
	}
	t.Logf("latticepush plan:\n%s", planOut)
	p := newSession(t, env, plan.Options{}).plan(ctx)
	for _, u := range p.Units {
		want := plan.Noop
		if u.Role == "hub" {
			want = plan.Reload
		}
		if u.Action != want {
			t.Fatalf("%s: %s (%v), want %s", u.ID(), u.Action, u.Reasons, want)
		}
	}
	if pw := s.Inv.Auth.RoutePassword.Reveal(); pw == "" || strings.Contains(planOut, pw) {
		t.Fatal("the plan output holds the route password (or it is empty)")
	}

	logFrom := map[string]int{}
	for _, h := range s.Inv.Hubs() {
		logFrom[h.Name] = hubLogLines(t, ctx, env, h.Name)
	}
	watch := watchRoutes(t, ctx, s)
	start := time.Now()
	applyOut, err := cli("apply", "--auto-approve", env.Path)
	took := time.Since(start)
	t.Logf("latticepush apply --auto-approve (%.1fs):\n%s", took.Seconds(), applyOut)
	if err != nil {
		t.Fatalf("latticepush apply: %v", err)
	}
	time.Sleep(2 * time.Second)
	gaps := watch.stop()
	checkRoutesUnderLoad(t, ctx, env, s, l, gaps, logFrom, fmt.Sprintf("route auth introduced under load (%s)", took.Round(time.Second)))
	// How the cluster went through it, from the hubs' logs: each reloading node drops its
	// routes and dials them again with the credentials, which the nodes not yet reloaded
	// accept without asking for them; a refused route (an old node re-dialling a new one
	// first) is reported, not required.
	for _, h := range s.Inv.Hubs() {
		if !testing.Verbose() {
			break
		}
		lines, _ := env.Lab.Exec(ctx, h.Name, "sh", "-c", fmt.Sprintf(
			"tail -n +%d /var/log/nats-server/current | grep -e 'Removed route' -e 'Reloaded server configuration' -e 'Authentication' | head -n 12", logFrom[h.Name]+1))
		t.Logf("%s's log, routes removed, reloads and refusals:\n%s", h.Name, lines)
	}

	rep := newSession(t, env, plan.Options{}).verify(ctx)
	for _, r := range rep.Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	for _, h := range s.Inv.Hubs() {
		if r := resultOf(rep, verify.CheckHubRouteAuth, h.Name); r == nil || !r.OK || r.Warning {
			t.Errorf("after: %s on %s: %+v", verify.CheckHubRouteAuth, h.Name, r)
		}
	}
	if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() {
		t.Errorf("a second plan is not empty: %v", actions(p))
	}
	t.Logf("test %.1fs in all", time.Since(began).Seconds())
}

// TestRouteAuth_RotatedUnderLoad rotates the route password of a running lab lattice with
// the CLI (`secrets --rotate passwords.route`, then plan and apply until plan reports the
// rotation complete) while a KV writer and reader go through a leaf. A cluster accepts one
// route login, so a hub reloaded with the new password alone refuses its peers' routes and
// they refuse its own: one at a time, the wave's gate on routes to every other node fails
// and rolls it back. Asserted: the plans take one hub per apply and then one apply that makes
// every route URL carry the new login (steps accept-one, accept-one, accept-one, retire,
// complete), only hubs change, every apply exits 0 (each hub's reload passed its gate), no
// acknowledged write is lost, every hub's /routez names both other nodes at the end; after
// `--finish-rotation` the plan is empty, verify passes, and a server dialling hub-1 with the
// old password is refused.
func TestRouteAuth_RotatedUnderLoad(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	oldLogin := url.UserPassword(inventory.DefaultUserName("route"), s.Inv.Auth.RoutePassword.Reveal()).String() + "@"
	cli := cliRunner(t, ctx, bin)
	if out, err := cli("secrets", "--rotate", "passwords.route", env.Path); err != nil {
		t.Fatalf("secrets --rotate passwords.route: %v\n%s", err, out)
	}

	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second) // a baseline before the change
	logFrom := map[string]int{}
	for _, h := range s.Inv.Hubs() {
		logFrom[h.Name] = hubLogLines(t, ctx, env, h.Name)
	}
	watch := watchRoutes(t, ctx, s)
	var steps []string
	for len(steps) < 7 {
		p := newSession(t, env, plan.Options{}).plan(ctx)
		var rot *plan.Rotation
		for _, r := range p.Rotations {
			if r.Secret == inventory.SecretRoutePassword {
				rot = r
			}
		}
		if rot == nil {
			t.Fatalf("plan %d has no rotation of passwords.route", len(steps)+1)
		}
		steps = append(steps, rot.Step)
		if rot.Step == plan.RotationComplete {
			break
		}
		for _, u := range p.Units {
			if u.Role != "hub" && u.Changes() {
				t.Fatalf("plan %d (%s): %s %s (%v)", len(steps), rot.Step, u.ID(), u.Action, u.Reasons)
			}
		}
		start := time.Now()
		out, err := cli("apply", "--auto-approve", env.Path)
		t.Logf("apply %d (%s, waiting %v), %.1fs", len(steps), rot.Step, rot.Waiting, time.Since(start).Seconds())
		if err != nil {
			t.Fatalf("latticepush apply: %v\n%s", err, out)
		}
		// Each hub runs its file, and observe says so: the digest apply recorded for the
		// file is the running one (what holds the rotation when it is not).
		ns := newSession(t, env, plan.Options{})
		for h, f := range ns.Fleet.Observe(ctx, ns.Probes) {
			n := f.NATS
			switch {
			case ns.Inv.Host(h).Hub == nil:
			case n == nil:
				t.Errorf("after apply %d, %s: no nats-server facts: %s", len(steps), h, f.Err)
			case n.FileDigest == "" || n.FileDigest != n.RunningDigest:
				t.Errorf("after apply %d, %s: file digest %q, running %q", len(steps), h, n.FileDigest, n.RunningDigest)
			}
		}
	}
	time.Sleep(2 * time.Second)
	gaps := watch.stop()
	checkRoutesUnderLoad(t, ctx, env, s, l, gaps, logFrom, "route password rotated under load")
	want := []string{plan.RotationAcceptOne, plan.RotationAcceptOne, plan.RotationAcceptOne, plan.RotationRetire, plan.RotationComplete}
	if !slices.Equal(steps, want) {
		t.Errorf("steps %v, want %v", steps, want)
	}

	if out, err := cli("secrets", "--finish-rotation", "passwords.route", env.Path); err != nil {
		t.Fatalf("secrets --finish-rotation passwords.route: %v\n%s", err, out)
	}
	after := newSession(t, env, plan.Options{})
	if p := after.plan(ctx); p.HasChanges() || len(p.Rotations) > 0 {
		t.Errorf("after --finish-rotation: changes %v, rotations %v", actions(p), p.Rotations)
	}
	for _, r := range after.verify(ctx).Failed() {
		t.Errorf("verify after: %s on %s: %s", r.Check, r.Host, r.Evidence)
	}
	strayRefused(t, ctx, env, after, oldLogin)
	t.Logf("test %.1fs in all", time.Since(began).Seconds())
}

// cliRunner runs the CLI bin with a clean environment and returns its combined output.
func cliRunner(t *testing.T, ctx context.Context, bin string) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
}

// checkRoutesUnderLoad stops l and checks what a route change under it left: something got
// through, no acknowledged write is lost or read wrong, every hub's /routez names every other
// hub at the end. It logs the load's figures, the /routez gaps and, per hub, the route
// connections its log refused for authentication since logFrom.
func checkRoutesUnderLoad(t *testing.T, ctx context.Context, env *labtest.Env, s *session, l *kvLoad, gaps routeGaps, logFrom map[string]int, what string) {
	t.Helper()
	l.finish(t, ctx, what)
	t.Logf("hub /routez polled every %s: %s", routePoll, gaps)
	if bad := gaps.notBack(); bad != "" {
		t.Errorf("routes not back at the end: %s", bad)
	}
	for _, h := range s.Inv.Hubs() {
		b, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", fmt.Sprintf(
			"tail -n +%d /var/log/nats-server/current | grep -c 'Router connection closed: Authentication Failure' || true", logFrom[h.Name]+1))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s's log: %s route connection(s) refused for authentication", h.Name, strings.TrimSpace(string(b)))
	}
}

const routePoll = 100 * time.Millisecond

// routeWatch polls every hub's /routez and records, per hub, the longest stretch in which it
// did not name every other hub, and what it named last.
type routeWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	want   map[string][]string // hub -> the other hubs' server names
	last   map[string]string
	gap    map[string]time.Duration
	polls  map[string]int
}

type routeGaps struct{ w *routeWatch }

func (g routeGaps) String() string {
	var parts []string
	for h := range g.w.want {
		parts = append(parts, fmt.Sprintf("%s %d polls, longest without every peer %s, last %s", h, g.w.polls[h], g.w.gap[h].Round(time.Millisecond), g.w.last[h]))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

func (g routeGaps) notBack() string {
	var bad []string
	for h, want := range g.w.want {
		if g.w.last[h] != strings.Join(want, ",") {
			bad = append(bad, h+": "+g.w.last[h])
		}
	}
	slices.Sort(bad)
	return strings.Join(bad, "; ")
}

func watchRoutes(t *testing.T, ctx context.Context, s *session) *routeWatch {
	t.Helper()
	wctx, cancel := context.WithCancel(ctx)
	w := &routeWatch{cancel: cancel, want: map[string][]string{}, last: map[string]string{}, gap: map[string]time.Duration{}, polls: map[string]int{}}
	targets := s.Fleet.Targets(ctx)
	for _, h := range s.Inv.Hubs() {
		for _, p := range s.Inv.Hubs() {
			if p != h {
				w.want[h.Name] = append(w.want[h.Name], p.Hub.ServerName)
			}
		}
		var dial natsmon.Dialer
		for _, tg := range targets {
			if tg.Host.Name == h.Name && tg.Err == nil {
				dial = tg.Dial
			}
		}
		if dial == nil {
			t.Fatalf("no SSH connection to %s", h.Name)
		}
		c := natsmon.New(h.Hub.LocalMonitorAddr(), dial, natsmon.Options{KeepAlive: true, HeaderTimeout: 2 * time.Second})
		want := strings.Join(w.want[h.Name], ",")
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			var since time.Time // when the hub stopped naming every peer; zero while it does
			for {
				select {
				case <-wctx.Done():
					return
				case <-time.After(routePoll):
				}
				got := "(unreadable)"
				pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
				if r, err := c.Get(pctx, natsmon.PathRoutez); err == nil {
					var rz natsmon.Routez
					if r.Decode(&rz) == nil {
						got = distinctNames(rz)
					}
				}
				pcancel()
				if wctx.Err() != nil {
					return
				}
				now := time.Now()
				w.mu.Lock()
				w.polls[h.Name]++
				w.last[h.Name] = got
				switch {
				case got != want && since.IsZero():
					since = now
				case got == want && !since.IsZero():
					w.gap[h.Name] = max(w.gap[h.Name], now.Sub(since))
					since = time.Time{}
				}
				if !since.IsZero() {
					w.gap[h.Name] = max(w.gap[h.Name], now.Sub(since))
				}
				w.mu.Unlock()
			}
		}()
	}
	return w
}

func (w *routeWatch) stop() routeGaps {
	w.cancel()
	w.wg.Wait()
	return routeGaps{w}
}

// routeNames is the distinct remote_names of host's /routez, sorted and comma-separated.
func routeNames(t *testing.T, ctx context.Context, s *session, host string) string {
	t.Helper()
	for _, tg := range s.Fleet.Targets(ctx) {
		if tg.Host.Name != host || tg.Err != nil {
			continue
		}
		c := natsmon.New(tg.Host.NATS().LocalMonitorAddr(), tg.Dial, natsmon.Options{HeaderTimeout: 5 * time.Second})
		r, err := c.Get(ctx, natsmon.PathRoutez)
		if err != nil {
			t.Fatalf("%s: /routez: %v", host, err)
		}
		var rz natsmon.Routez
		if err := r.Decode(&rz); err != nil {
			t.Fatalf("%s: /routez: %v", host, err)
		}
		return distinctNames(rz)
	}
	t.Fatalf("no SSH connection to %s", host)
	return ""
}

func distinctNames(rz natsmon.Routez) string {
	seen := map[string]bool{}
	var names []string
	for _, r := range rz.Routes {
		if r.RemoteName != "" && !seen[r.RemoteName] {
			seen[r.RemoteName] = true
			names = append(names, r.RemoteName)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// hubLogLines is the number of lines in host's nats-server log so far.
func hubLogLines(t *testing.T, ctx context.Context, env *labtest.Env, host string) int {
	t.Helper()
	out, err := env.Lab.Exec(ctx, host, "sh", "-c", "wc -l < /var/log/nats-server/current")
	if err != nil {
		t.Fatalf("%s: read the nats-server log: %v", host, err)
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &n); err != nil {
		t.Fatalf("%s: nats-server log line count %q: %v", host, out, err)
	}
	return n
}

// resultOf returns the result of check on host, or nil.
func resultOf(rep verify.Report, check, host string) *verify.Result {
	for i := range rep.Results {
		if rep.Results[i].Check == check && rep.Results[i].Host == host {
			return &rep.Results[i]
		}
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
