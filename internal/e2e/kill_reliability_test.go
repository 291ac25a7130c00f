package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// killSeed fixes where TestReliability_ControllerKilled kills the controller.
const killSeed = 20261206

// TestReliability_ControllerKilled runs the real CLI (`apply --json`) on a change that rolls
// every hub node, reloads the leaves and restarts the wasmCloud hosts, and SIGKILLs it at
// seeded points: after a seeded event of its -json stream plus a seeded delay, the first
// trials in the middle of the hub wave. After each kill: every managed file is its old or its
// new version; the next apply (-json and plain output in turn) reports what it found (the
// lock, through the force-unlock command its refusal names; the temporary files it removed;
// a wave left half done) and converges. Throughout, a poller reads /jsz and /healthz inside the 3
// hub nodes every 250 ms: at every sample 2 of them must name the same meta leader (the cluster
// kept quorum).
func TestReliability_ControllerKilled(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	trials := reliabilityCount(t, 3, 30)
	home := t.TempDir()

	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	q := watchQuorum(t, ctx, env)

	// Calibrate: one full apply of a revision, its events and their times.
	killRevision(t, env, 1)
	cal := runCLI(ctx, bin, home, env.Path, true, nil)
	if cal.exit != 0 {
		t.Fatalf("calibration apply: exit %d\n%s", cal.exit, cal.out)
	}
	t.Logf("calibration: an apply of one revision takes %.1fs and emits %d events", cal.took.Seconds(), len(cal.events))
	// A kill point is an event's signature (its type, phase and wave, and how many such
	// events came before it), so it names the same step in every run; hub nodes are restarted
	// in an order that varies (the meta leader last), units finish in any order.
	sigs := signatures(cal.events)
	hubStarts := 0
	for _, e := range cal.events {
		if e.Type == rollout.EventUnitStart && e.Wave == "hub" {
			hubStarts++
		}
	}
	if hubStarts != 3 {
		t.Fatalf("calibration: %d hub unit_start events, want 3", hubStarts)
	}

	rng := rand.New(rand.NewPCG(killSeed, 0))
	type point struct {
		sig   string
		delay time.Duration
	}
	var points []point
	for i := range trials {
		var k int
		gap := 2 * time.Second
		if i < 2 || i%5 == 0 {
			// In the hub wave: after the 2nd node's start (or the 3rd's), within its restart.
			nth := 1
			if i%10 == 5 {
				nth = 2
			}
			sig := fmt.Sprintf("unit_start//hub#%d", nth)
			for j, g := range sigs {
				if g == sig {
					k = j
				}
			}
			gap = 3 * time.Second
		} else {
			k = rng.IntN(len(cal.events))
			if k+1 < len(cal.events) {
				gap = max(cal.events[k+1].Time.Sub(cal.events[k].Time), 50*time.Millisecond)
			}
		}
		points = append(points, point{sigs[k], time.Duration(rng.Int64N(int64(gap)))})
	}

	var (
		oldFiles, newFiles, halfHubs, locksLeft, straysLeft, unlocked, tookOver int
		foundStrays, foundHalf, killedAfter                                     int
		phases                                                                  = map[string]int{}
	)
	for i, pt := range points {
		rev := 2 + i
		killRevision(t, env, rev)
		before := hashesOn(t, ctx, env, natsConf, wasmEnv)
		want := desiredHashes(t, env, natsConf, wasmEnv)
		seen := map[string]int{}
		killed := runCLI(ctx, bin, home, env.Path, true, func(n int, e rollout.Event) time.Duration {
			if signature(e, seen) == pt.sig {
				return pt.delay
			}
			return -1
		})
		where := "after the apply ended"
		if killed.killed {
			where = killed.lastEvent
			phases[killed.phase]++
		} else {
			killedAfter++
		}
		t.Logf("kill %d/%d after %s + %s: %s", i+1, len(points), pt.sig, pt.delay.Round(time.Millisecond), where)
		after := hashesOn(t, ctx, env, natsConf, wasmEnv)
		hubsNew := 0
		for k, h := range after {
			switch h {
			case before[k]:
				oldFiles++
			case want[k]:
				newFiles++
				if strings.HasPrefix(k, "hub-") && h != before[k] {
					hubsNew++
				}
			default:
				t.Errorf("kill %d (%s): %s is neither the old nor the new version", i+1, where, k)
			}
		}
		if hubsNew > 0 && hubsNew < 3 {
			halfHubs++
		}
		held, left := locksHeld(ctx, env), strays(t, ctx, env)
		locksLeft += len(held)
		straysLeft += len(left)
		half := unfinishedUnits(t, ctx, env)

		// The next apply: plain output on odd trials, -json on even ones.
		asJSON := i%2 == 0
		next := runCLI(ctx, bin, home, env.Path, asJSON, nil)
		if next.exit != 0 && strings.Contains(next.out, "latticepush force-unlock") {
			hosts := lockedHosts(next.out)
			if len(hosts) == 0 {
				t.Fatalf("kill %d: the refusal names force-unlock but no host:\n%s", i+1, next.out)
			}
			fu := exec.CommandContext(ctx, bin, append([]string{"force-unlock", env.Path}, hosts...)...)
			fu.Env = cliEnv(home)
			if out, err := fu.CombinedOutput(); err != nil {
				t.Fatalf("kill %d: force-unlock %v: %v\n%s", i+1, hosts, err, out)
			}
			unlocked += len(hosts)
			next = runCLI(ctx, bin, home, env.Path, asJSON, nil)
		}
		if strings.Contains(next.out, "took over") || strings.Contains(next.out, "taking over") {
			tookOver++
		}
		if next.exit != 0 {
			t.Fatalf("kill %d (%s): the next apply exited %d:\n%s", i+1, where, next.exit, next.out)
		}
		if len(left) > 0 {
			if !strings.Contains(next.out, "temporary files an earlier apply left") {
				t.Errorf("kill %d: %d temporary files were left (%v) and the next apply does not say it removed them:\n%s", i+1, len(left), left, next.out)
			}
			foundStrays++
		}
		if len(half) > 0 {
			for _, u := range half {
				if !regexp.MustCompile(`found the \w+ wave half done: [^\n]*` + regexp.QuoteMeta(u)).MatchString(next.out) {
					t.Errorf("kill %d: %s was left with its files in place but not in effect, and the next apply does not report it:\n%s", i+1, u, next.out)
				}
			}
			foundHalf++
		}
		converged(t, ctx, env)
		t.Logf("kill %d/%d after %s + %s (%s): hub configs new %d/3; locks left %d, temp files %d, units half-done %v; next apply (%s) exit 0 in %.1fs",
			i+1, len(points), pt.sig, pt.delay.Round(time.Millisecond), where, hubsNew, len(held), len(left), half, map[bool]string{true: "-json", false: "plain"}[asJSON], next.took.Seconds())
		if t.Failed() {
			break
		}
	}
	qf := q.stop()
	if qf.lost > 0 {
		t.Errorf("the hub cluster lost quorum %d times: no meta leader known to 2 of the 3 nodes for %s or more (longest %s)", qf.lost, quorumLost, qf.longest)
	}
	t.Logf("controller killed: %d kills (%d after the apply had ended), by phase %v; files after the kill: %d old + %d new, 0 partial; hub wave left half-rolled %d times; "+
		"locks left %d (cleared with force-unlock %d, taken over %d), temp files left %d (next apply reported them %d times), units half-done reported %d times; every next apply converged; "+
		"quorum: %d samples of /jsz and /healthz on the 3 hubs (%d not judged: a sampler lagged), %d without a majority meta leader (elections; longest %s), quorum lost %d times; fewer than 2 nodes /healthz 200 at %d samples (fewest %d); test %.0fs",
		len(points), killedAfter, phases, oldFiles, newFiles, halfHubs, locksLeft, unlocked, tookOver, straysLeft, foundStrays, foundHalf, qf.samples, qf.unknown, qf.noLeader, qf.longest.Round(time.Millisecond), qf.lost, qf.unhealthy, qf.minUp, time.Since(began).Seconds())
}

// killRevision is revision n of a change that touches every wave: the leaf and wasmCloud
// change of revision, and the hubs' lame_duck_grace_period (a restart of every hub node),
// alternating between 1s and 2s.
func killRevision(t *testing.T, env *labtest.Env, n int) {
	t.Helper()
	revision(t, env, n)
	env.Edit(t, func(src string) string {
		re := regexp.MustCompile(`(role "hub" \{[^}]*lame_duck_grace_period = ")\d+s"`)
		if !re.MatchString(src) {
			t.Fatal("the lab inventory's hub role has no lame_duck_grace_period: edit this test")
		}
		return re.ReplaceAllString(src, fmt.Sprintf(`${1}%ds"`, 1+n%2))
	})
}

// signature names e as its type, phase and wave and how many events with those came before
// it in the run (seen counts them).
func signature(e rollout.Event, seen map[string]int) string {
	k := fmt.Sprintf("%s/%s/%s", e.Type, e.Phase, e.Wave)
	n := seen[k]
	seen[k]++
	return fmt.Sprintf("%s#%d", k, n)
}

func signatures(events []rollout.Event) []string {
	seen := map[string]int{}
	var out []string
	for _, e := range events {
		out = append(out, signature(e, seen))
	}
	return out
}

// cliRun is one run of the CLI's apply.
type cliRun struct {
	out       string
	exit      int
	took      time.Duration
	events    []rollout.Event
	killed    bool
	lastEvent string // the last event before the kill
	phase     string // its phase or wave
}

func cliEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "NO_COLOR=1"}
}

// runCLI runs `latticepush apply --auto-approve [--json] inv`. With kill, it reads the -json
// event stream and, when kill returns a delay >= 0 for an event, SIGKILLs the process that
// long after it.
func runCLI(ctx context.Context, bin, home, inv string, asJSON bool, kill func(n int, e rollout.Event) time.Duration) cliRun {
	args := []string{"apply", "--auto-approve"}
	if asJSON {
		args = append(args, "--json")
	}
	cmd := exec.CommandContext(ctx, bin, append(args, inv)...)
	cmd.Env = cliEnv(home)
	var out bytes.Buffer
	var mu sync.Mutex
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, &lockedWriter{w: &out, mu: &mu}
	start := time.Now()
	var r cliRun
	if err := cmd.Start(); err != nil {
		return cliRun{out: err.Error(), exit: -1}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			out.WriteString(line + "\n")
			mu.Unlock()
			var e rollout.Event
			if !asJSON || json.Unmarshal([]byte(line), &e) != nil || e.Type == "" || e.Type == "result" {
				continue
			}
			r.events = append(r.events, e)
			if kill != nil && !r.killed {
				if d := kill(n, e); d >= 0 {
					time.Sleep(d)
					if cmd.Process.Signal(syscall.SIGKILL) == nil {
						r.killed = true
						r.lastEvent = strings.Join(strings.Fields(fmt.Sprintf("%s %s %s %s +%s", e.Type, e.Phase, e.Wave, e.Unit, d.Round(time.Millisecond))), " ")
						r.phase = string(e.Phase)
						if e.Wave != "" {
							r.phase += " " + string(e.Wave)
						}
					}
				}
			}
			n++
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	r.took = time.Since(start)
	mu.Lock()
	r.out = out.String()
	mu.Unlock()
	if err != nil {
		r.exit = -1
		if ee, ok := err.(*exec.ExitError); ok {
			r.exit = ee.ExitCode()
		}
	}
	if r.killed && r.exit == 0 {
		r.killed = false // it ended before the signal
	}
	return r
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lockedHosts are the hosts a refusal's force-unlock commands name.
func lockedHosts(out string) []string {
	var hosts []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile("latticepush force-unlock INVENTORY ([A-Za-z0-9._-]+)").FindAllStringSubmatch(out, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			hosts = append(hosts, m[1])
		}
	}
	return hosts
}

// unfinishedUnits are the units a fresh plan finds with their new files in place but not in
// effect (an apply stopped between swap and reload or restart).
func unfinishedUnits(t *testing.T, ctx context.Context, env *labtest.Env) []string {
	t.Helper()
	var out []string
	for _, u := range newSession(t, env, plan.Options{}).plan(ctx).Units {
		if u.Action == plan.Start && !u.Start && len(u.Files) == 0 {
			out = append(out, u.ID()) // stopped with its files in place
			continue
		}
		for _, why := range u.Reasons {
			if strings.Contains(why, "the running server does not run its config file") ||
				strings.Contains(why, "the running server differs from its config file") ||
				strings.Contains(why, "(an earlier apply did not finish") {
				out = append(out, u.ID())
				break
			}
		}
	}
	return out
}

// quorumWatch samples /healthz of every hub node from inside the node (its monitoring port
// listens on 127.0.0.1) every 250 ms: a loop per node writes "unix-nanoseconds healthz-status meta-leader" lines
// to /run on the node until stopped.
type quorumWatch struct {
	t     *testing.T
	env   *labtest.Env
	hubs  []string
	wg    sync.WaitGroup
	began time.Time
}

const quorumLoop = `touch /run/lp-quorum.run; : > /run/lp-quorum.log
while [ -e /run/lp-quorum.run ]; do
  out=$(curl -s -m 1 -w '\n%{http_code}' http://127.0.0.1:8222/jsz http://127.0.0.1:8222/healthz)
  c=${out##*
}
  l=-
  case $out in *'"meta_cluster"'*'"leader": "'*)
    l=${out#*'"meta_cluster"'}; l=${l#*'"leader": "'}; l=${l%%'"'*} ;;
  esac
  echo "$(date +%s%N) $c ${l:--}" >> /run/lp-quorum.log
  sleep 0.25
done`

func watchQuorum(t *testing.T, ctx context.Context, env *labtest.Env) *quorumWatch {
	t.Helper()
	q := &quorumWatch{t: t, env: env, hubs: []string{"hub-1", "hub-2", "hub-3"}, began: time.Now()}
	for _, h := range q.hubs {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			if out, err := env.Lab.Exec(ctx, h, "sh", "-c", quorumLoop); err != nil && ctx.Err() == nil {
				t.Errorf("quorum sampler on %s: %v %s", h, err, out)
			}
		}()
	}
	t.Cleanup(func() { q.halt() })
	return q
}

func (q *quorumWatch) halt() {
	for _, h := range q.hubs {
		q.env.Lab.Exec(context.Background(), h, "rm", "-f", "/run/lp-quorum.run")
	}
	q.wg.Wait()
}

// quorumSample is one hub node's /healthz status and the meta leader it knew, at a time.
// quorumLost is how long a cluster goes without a meta leader known to a majority before that
// counts as quorum lost rather than an election.
const quorumLost = 2 * time.Second

type quorumSample struct {
	at     time.Time
	code   string
	leader string
}

// quorumFigures is what the samples show.
type quorumFigures struct {
	samples int
	// noLeader counts samples at which every node answered fresh and no meta leader was
	// known to a majority (2 of 3 nodes naming the same one); longest is the longest such
	// stretch. A leader's lame-duck stop hands leadership over: an election of well under a
	// second. Quorum lost (2 of 3 nodes down) lasts a node's whole restart: seconds.
	noLeader int
	longest  time.Duration
	// lost counts the stretches without a majority leader of at least quorumLost.
	lost int
	// unknown counts samples taken while a node's sampler lagged (more than 1.5 s since its
	// last sample: the machine is loaded); they are not judged.
	unknown int
	// unhealthy counts samples at which fewer than 2 nodes answered /healthz 200 (a node's
	// JetStream can be briefly unhealthy while a peer restarts, with the meta layer intact).
	unhealthy int
	minUp     int
}

// stop ends the sampling and reads it back: at every sample of any node (once every node
// has one), each node's latest sample at most 1.5 s old.
func (q *quorumWatch) stop() quorumFigures {
	q.halt()
	per := map[string][]quorumSample{}
	var all []quorumSample
	var from time.Time
	for _, h := range q.hubs {
		b, err := q.env.Lab.Exec(context.Background(), h, "cat", "/run/lp-quorum.log")
		if err != nil {
			q.t.Errorf("read the quorum samples of %s: %v", h, err)
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			var ns int64
			fmt.Sscan(f[0], &ns)
			s := quorumSample{at: time.Unix(0, ns), code: f[1], leader: strings.Trim(f[2], "-")}
			if len(per[h]) == 0 && s.at.After(from) {
				from = s.at
			}
			per[h] = append(per[h], s)
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(a, b quorumSample) int { return a.at.Compare(b.at) })
	fig := quorumFigures{minUp: len(q.hubs)}
	var lostSince, lastNoLeader time.Time
	endStretch := func() {
		if !lostSince.IsZero() && lastNoLeader.Sub(lostSince) >= quorumLost {
			fig.lost++
		}
		lostSince = time.Time{}
	}
	for _, s := range all {
		if s.at.Before(from) {
			continue
		}
		up := 0
		leaders := map[string]int{}
		var codes []string
		for _, h := range q.hubs {
			var last *quorumSample
			for i := range per[h] {
				if per[h][i].at.After(s.at) {
					break
				}
				last = &per[h][i]
			}
			if last == nil || s.at.Sub(last.at) > 1500*time.Millisecond {
				codes = append(codes, "?")
				continue
			}
			if last.code == "200" {
				up++
			}
			if last.leader != "" {
				leaders[last.leader]++
			}
			codes = append(codes, fmt.Sprintf("%s=%s/%s", h, last.code, cmpOr(last.leader, "no-leader")))
		}
		fig.samples++
		quorum := false
		for _, n := range leaders {
			quorum = quorum || n >= 2
		}
		switch {
		case quorum:
			endStretch()
		case slices.Contains(codes, "?"):
			fig.unknown++
			continue
		default:
			fig.noLeader++
			if lostSince.IsZero() {
				lostSince = s.at
			}
			lastNoLeader = s.at
			fig.longest = max(fig.longest, s.at.Sub(lostSince))
			q.t.Logf("no meta leader known to a majority at %s: %s", s.at.Format("15:04:05.000"), strings.Join(codes, " "))
		}
		fig.minUp = min(fig.minUp, up)
		if up < 2 {
			fig.unhealthy++
		}
	}
	endStretch()
	return fig
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
