package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/plan"
)

// logFileLine is the reloadable change the reload case toggles in role "leaf".
const (
	leafNATS    = "role \"leaf\" {\n  nats {\n"
	logFileLine = "    log_file = \"/var/log/nats-server.log\"\n"
)

// quarterBatches sets the leaf and wasmCloud roles' rollout to batches of 25%: a realistic
// rollout for a first deployment (the example's wasmCloud batch of 1 is 47 serial batches).
func quarterBatches(src string) string {
	src = strings.Replace(src, "rollout {\n    batch = \"50%\"\n  }", "rollout {\n    batch = \"25%\"\n  }", 1)
	return strings.Replace(src, "rollout {\n    batch = 1\n  }", "rollout {\n    batch = \"25%\"\n  }", 1)
}

// benchInventory is the lab example with 25% batches and, as Ansible runs with forks = fleet
// size, parallelism = fleet size (the example's 16 suits its six hosts).
func benchInventory(hosts int) func(string) string {
	return func(src string) string {
		return regexp.MustCompile(`parallelism\s+= \d+`).ReplaceAllString(quarterBatches(src), fmt.Sprintf("parallelism     = %d", hosts))
	}
}

// BenchmarkLab brings up a lab of $LATTICEPUSH_BENCH_HOSTS hosts (default 50: 3 hubs and 47
// edges) with 25% batches for leaves and wasmCloud hosts, and measures the first deployment
// (latticepush apply of the empty lab; Ansible's deploy.yml on the lab taken back to empty,
// once per AnsibleMode). Then, $LATTICEPUSH_BENCH_RUNS times each (default 5, cases
// interleaved so that drifting machine load hits every case alike): the floor, latticepush
// plan, no-change apply, verify, a reload of every leaf and a hub rolling restart, and the
// same work done by Ansible in each mode ($LATTICEPUSH_BENCH_ANSIBLE=0 leaves Ansible out).
// Last, one run each, the upgrade of every nats-server to another release (benchUpgrade;
// $LATTICEPUSH_BENCH_UPGRADE=0 leaves it out).
// $LATTICEPUSH_BENCH_ANSIBLE_RUNS limits Ansible to the first runs (its runs take minutes).
// Every timed run waits for a quiet machine first (LoadGate) and records the load; a run the
// gate refuses is not started, and the report says so.
func BenchmarkLab(b *testing.B) {
	hosts, runs := envInt("LATTICEPUSH_BENCH_HOSTS", 50), envInt("LATTICEPUSH_BENCH_RUNS", 5)
	withAnsible := os.Getenv("LATTICEPUSH_BENCH_ANSIBLE") != "0"
	if withAnsible {
		if _, err := exec.LookPath("ansible-playbook"); err != nil {
			b.Fatal("ansible-playbook not found: `make bench` installs ansible-core (WITH_ANSIBLE=1 ./internal/tools/install-prereqs.sh)")
		}
	}
	latticepushBin(b) // build first: a compile error should not cost a lab bring-up
	env := labtest.Up(b, labtest.Spec{Name: "bench", Edges: hosts - 3, Edit: benchInventory(hosts)})
	report.Machine = ThisMachine(testenv.NATSServerPath())
	report.Hosts, report.Runs = hosts, runs
	budget := time.Duration(envInt("LATTICEPUSH_BENCH_BUDGET_MIN", 40)) * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), budget+45*time.Minute)
	defer cancel()
	gate := loadGate()
	// quiet waits for a quiet machine before a timed run of c and records its load; false
	// (with a note) when the gate refuses the run.
	quiet := func(c *Case, what string) bool {
		s, err := gate.Wait(ctx)
		if err != nil {
			report.Notes = append(report.Notes, fmt.Sprintf("%s (%s) was not started: %v.", c.Name, what, err))
			b.Logf("%s (%s) refused: %v", c.Name, what, err)
			return false
		}
		c.Loads = append(c.Loads, s)
		return true
	}

	var an *Ansible
	if withAnsible {
		an = &Ansible{Dir: filepath.Join(b.TempDir(), "ansible"), User: "root", KeyPath: env.Lab.KeyPath,
			KnownHosts: env.Lab.KnownHostsPath, Hosts: map[string]string{}}
		for _, h := range env.Lab.Hosts {
			an.Hosts[h.Name] = h.Addr.String()
		}
		if err := an.Write(); err != nil {
			b.Fatal(err)
		}
		setAnsibleFiles(b, env, an)
		b.Cleanup(an.StopMasters)
	}

	// First deployment: latticepush, then Ansible on the lab taken back to empty each time.
	firstC := Case{Name: caseFirst}
	if quiet(&firstC, "latticepush") {
		r := latticepush(ctx, b, "apply", "--auto-approve", "--json", env.Path)
		verifyFailed(b, r, "first deployment")
		report.FirstPhases = applyPhases(r)
		firstC.Took(r)
		report.FirstBatches = batchSpans(b, r.Out)
		b.Logf("first deployment of %d hosts: %s; %d batches took %s", hosts, secs(r.Wall), len(report.FirstBatches), secs(report.FirstBatches.Sum()))
	}
	if an != nil {
		if err := an.OpenMasters(ctx); err != nil { // the warm runs' masters, untimed
			b.Fatal(err)
		}
		for _, mode := range AnsibleModes {
			resetLab(ctx, b, env)
			if !quiet(&firstC, "Ansible "+mode.String()) {
				continue
			}
			d, recap, err := an.Play(ctx, mode, "deploy.yml")
			if err != nil {
				b.Fatal(err)
			}
			for h := range an.Hosts {
				if recap[h].Changed == 0 {
					b.Fatalf("Ansible first deployment (%s): %s changed nothing on an empty host", mode, h)
				}
			}
			firstC.AnsibleRun(mode, d)
			// Ansible gates nothing: whether its deployment works is checked, untimed.
			if v := latticepush(ctx, b, "verify", env.Path); v.Exit != 0 {
				report.Notes = append(report.Notes, fmt.Sprintf("Right after Ansible's first deployment (%s), `latticepush verify` exited %d: Ansible waits for no cluster, link or host to come up.", mode, v.Exit))
			}
			b.Logf("Ansible first deployment (%s): %s", mode, secs(d))
		}
		resetLab(ctx, b, env)
	}
	if len(firstC.Latticepush) == 0 || an != nil { // converge, untimed, for the other cases
		verifyFailed(b, latticepush(ctx, b, "apply", "--auto-approve", env.Path), "converging apply")
	}
	latticepush(ctx, b, "plan", "--detailed-exitcode", env.Path).mustExit(b, 0, "plan after the first deployment")
	report.Cases = []Case{firstC}
	if an != nil {
		setAnsibleFiles(b, env, an)
		// The warm masters are open; the lab must already match Ansible's files.
		if _, recap, err := an.Run(ctx, Warm, false); err != nil {
			b.Fatal(err)
		} else if n := changedHosts(recap); n > 0 {
			report.Notes = append(report.Notes, fmt.Sprintf("Ansible's first run on the converged lab changed %d hosts: its copy and latticepush's upload differ somewhere", n))
		}
	}

	var addrs []string
	for _, h := range env.Lab.Hosts {
		addrs = append(addrs, net.JoinHostPort(h.Addr.String(), "22"))
	}
	floor := Floor{User: "root", KeyPath: env.Lab.KeyPath, KnownHosts: env.Lab.KnownHostsPath}
	bounded := floor
	bounded.Limit = 8

	planC, applyC, verifyC := Case{Name: casePlan}, Case{Name: caseApply}, Case{Name: caseVerify}
	reloadC, hubC := Case{Name: caseReload}, Case{Name: caseHubRoll}
	logOn, lowMem := false, false
	// The lab loop stops early rather than let `go test -timeout` kill the run (and lose every
	// figure): a run starts only if one more of the longest so far fits the budget.
	// A run with Ansible takes minutes, one without it about a minute: each kind's longest
	// run so far is what the budget check expects of the next run of that kind.
	ansibleRuns := min(runs, envInt("LATTICEPUSH_BENCH_ANSIBLE_RUNS", runs))
	if an == nil {
		ansibleRuns = 0
	}
	report.AnsibleRuns = 0
	loopStart, runStart := time.Now(), time.Now()
	longestOf := map[bool]time.Duration{}
	for i := 0; i < runs; i++ {
		withAnsible := i < ansibleRuns
		if i > 0 {
			prev := i-1 < ansibleRuns
			longestOf[prev] = max(longestOf[prev], time.Since(runStart))
		}
		longest := longestOf[withAnsible]
		if i > 0 && time.Since(loopStart)+longest > budget {
			report.Notes = append(report.Notes, fmt.Sprintf("The lab cases ran %d times instead of %d: one more run (the longest took %s) would have passed the %s budget ($LATTICEPUSH_BENCH_BUDGET_MIN) on this machine's load.", i, runs, secs(longest), budget))
			report.Runs = i
			break
		}
		runStart = time.Now()
		refused := false
		lp := func(c *Case, what string, args ...string) (cliRun, bool) {
			if refused || !quiet(c, "latticepush") {
				refused = true
				return cliRun{}, false
			}
			r := latticepush(ctx, b, args...)
			c.Took(r)
			return r, true
		}
		d, err := floor.Run(ctx, addrs)
		if err != nil {
			b.Fatal(err)
		}
		report.Floor = append(report.Floor, d)
		if d, err = bounded.Run(ctx, addrs); err != nil {
			b.Fatal(err)
		}
		report.FloorBounded = append(report.FloorBounded, d)

		if r, ok := lp(&planC, "no-change plan", "plan", "--detailed-exitcode", env.Path); ok {
			r.mustExit(b, 0, "no-change plan")
		}
		if r, ok := lp(&applyC, "no-change apply", "apply", "--auto-approve", env.Path); ok {
			r.mustExit(b, 0, "no-change apply")
		}
		if r, ok := lp(&verifyC, "no-change verify", "verify", env.Path); ok && r.Exit != 0 {
			report.Notes = append(report.Notes, fmt.Sprintf("no-change verify (run %d) exited %d: %s", i+1, r.Exit, firstLines(string(r.Out), 3)))
		}
		if !refused {
			logOn = toggleLogFile(b, env, logOn)
			requireOnly(ctx, b, env, "leaf", "reload", hosts-3)
			// The change is made: the apply runs even on a busy machine, but its time is
			// kept only when the gate let it start.
			r, ok := lp(&reloadC, "reload", "apply", "--auto-approve", "--json", env.Path)
			if !ok {
				r = latticepush(ctx, b, "apply", "--auto-approve", "--json", env.Path)
			}
			verifyFailed(b, r, "reload apply")
			report.ReloadPhases = applyPhases(r)
		}
		if !refused {
			// Lowering max_memory_store restarts the hubs; raising it reloads them. When it
			// is low already (Ansible's hub rolls toggle it too), raise it first, untimed.
			if lowMem {
				lowMem = toggleHubMemory(b, env, lowMem)
				requireOnly(ctx, b, env, "hub", "reload", 3)
				verifyFailed(b, latticepush(ctx, b, "apply", "--auto-approve", env.Path), "raising the hubs' max_memory_store back")
			}
			lowMem = toggleHubMemory(b, env, lowMem)
			requireOnly(ctx, b, env, "hub", "restart", 3)
			r, ok := lp(&hubC, "hub roll", "apply", "--auto-approve", env.Path)
			if !ok {
				r = latticepush(ctx, b, "apply", "--auto-approve", env.Path)
			}
			verifyFailed(b, r, "hub rolling restart")
		}
		report.Cases = []Case{firstC, planC, applyC, verifyC, reloadC, hubC}
		if refused {
			report.Runs = i
			break
		}
		if !withAnsible {
			b.Logf("run %d/%d: floor %s; latticepush plan %s, apply %s, verify %s, reload %s, hub roll %s (Ansible ran in the first %d)", i+1, runs,
				secs(report.Floor[i]), last(planC.Latticepush), last(applyC.Latticepush), last(verifyC.Latticepush), last(reloadC.Latticepush), last(hubC.Latticepush), ansibleRuns)
			report.Runs = i + 1
			continue
		}
		report.AnsibleRuns = i + 1
		setAnsibleFiles(b, env, an) // the files as they are now: no change for Ansible
		for _, mode := range AnsibleModes {
			if quiet(&planC, "Ansible "+mode.String()) {
				planC.AnsibleRun(mode, ansibleRun(ctx, b, an, mode, true, "no-change --check --diff"))
			}
			if quiet(&applyC, "Ansible "+mode.String()) {
				applyC.AnsibleRun(mode, ansibleRun(ctx, b, an, mode, false, "no-change run"))
			}
		}
		for _, mode := range AnsibleModes {
			logOn = toggleLogFile(b, env, logOn)
			setAnsibleFiles(b, env, an)
			ok := quiet(&reloadC, "Ansible "+mode.String())
			d, recap, err := an.Run(ctx, mode, false)
			if err != nil {
				b.Fatal(err)
			}
			for h, rc := range recap {
				if strings.HasPrefix(h, "edge-") && rc.Changed < 2 { // the copy and the handler
					b.Fatalf("Ansible reload run (%s): %s changed %d tasks, want the config copied and the reload handler run", mode, h, rc.Changed)
				}
			}
			// The reload really happened: latticepush now sees the files in place and every
			// running config_digest matching them.
			latticepush(ctx, b, "plan", "--detailed-exitcode", env.Path).mustExit(b, 0, "plan after Ansible's reload")
			if ok {
				reloadC.AnsibleRun(mode, d)
			}
		}
		for _, mode := range AnsibleModes {
			lowMem = toggleHubMemory(b, env, lowMem)
			setAnsibleFiles(b, env, an)
			ok := quiet(&hubC, "Ansible "+mode.String())
			d, recap, err := an.Play(ctx, mode, "hubroll.yml")
			if err != nil {
				b.Fatal(err)
			}
			for h, rc := range recap {
				if rc.Changed < 2 { // the copy and the restart
					b.Fatalf("Ansible hub roll (%s): %s changed %d tasks, want the config copied and the restart handler run", mode, h, rc.Changed)
				}
			}
			latticepush(ctx, b, "plan", "--detailed-exitcode", env.Path).mustExit(b, 0, "plan after Ansible's hub roll")
			if ok {
				hubC.AnsibleRun(mode, d)
			}
		}
		// Keep what is measured so far: a later failure still prints these runs.
		report.Cases, report.Runs = []Case{firstC, planC, applyC, verifyC, reloadC, hubC}, i+1
		b.Logf("run %d/%d: floor %s; latticepush plan %s, apply %s, verify %s, reload %s, hub roll %s", i+1, runs,
			secs(report.Floor[i]), last(planC.Latticepush), last(applyC.Latticepush), last(verifyC.Latticepush), last(reloadC.Latticepush), last(hubC.Latticepush))
	}
	report.LabPhases = phases(ctx, b, env.Path, "lab").text
	if os.Getenv("LATTICEPUSH_BENCH_UPGRADE") != "0" {
		upC := Case{Name: "release upgrade"}
		benchUpgrade(ctx, b, env, an, func(what string) (LoadSample, bool) {
			if !quiet(&upC, what) {
				return LoadSample{}, false
			}
			return upC.Loads[len(upC.Loads)-1], true
		})
	}
	b.ReportMetric(report.Floor.Median().Seconds(), "s/floor")
	b.ReportMetric(planC.Latticepush.Median().Seconds(), "s/plan")
	b.ReportMetric(reloadC.Latticepush.Median().Seconds(), "s/reload")
	b.ReportMetric(0, "ns/op")
}

// last is the latest run of s, or "—".
func last(s Series) string {
	if len(s) == 0 {
		return "—"
	}
	return secs(s[len(s)-1])
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], " / ")
}

// toggleHubMemory lowers or restores the hubs' max_memory_store and returns the new state.
// Lowering it restarts every hub node; restoring (raising) it reloads them.
func toggleHubMemory(b *testing.B, env *labtest.Env, low bool) bool {
	b.Helper()
	from, to := `max_memory_store       = "256MB"`, `max_memory_store       = "128MB"`
	if low {
		from, to = to, from
	}
	env.Edit(b, func(src string) string {
		if !strings.Contains(src, from) {
			b.Fatalf("the lab inventory has no %s: edit the benchmark", from)
		}
		return strings.Replace(src, from, to, 1)
	})
	return !low
}

// resetLab takes every lab host back to before latticepush's first apply: services stopped
// and unlinked from runsvdir (whose rescan then ends their runsv), their runit directories,
// every file latticepush renders, the JetStream store and latticepush's own state removed.
func resetLab(ctx context.Context, b *testing.B, env *labtest.Env) {
	b.Helper()
	inv := env.Inventory(b)
	desired, err := plan.Render(inv)
	if err != nil {
		b.Fatal(err)
	}
	// A directory argument (the store, which may be a mount point) is emptied, not removed.
	const script = `for s in nats-server wasmcloud; do sv -w 7 force-stop /etc/service/$s >/dev/null 2>&1; rm -f /etc/service/$s; done
sleep 6
rm -rf /etc/sv/nats-server /etc/sv/wasmcloud /var/lib/latticepush
for a; do if [ -d "$a" ]; then find "$a" -mindepth 1 -delete; else rm -f "$a"; fi; done`
	var g errgroup.Group
	g.SetLimit(16)
	for _, h := range inv.Hosts {
		args := []string{"/bin/sh", "-c", script, "reset"}
		for _, f := range desired[h.Name] {
			args = append(args, f.Path)
		}
		if n := h.NATS(); n != nil && n.StoreDir != "" {
			args = append(args, n.StoreDir)
		}
		g.Go(func() error {
			if out, err := env.Lab.Exec(ctx, h.Name, args...); err != nil {
				return fmt.Errorf("reset %s: %v\n%s", h.Name, err, out)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	latticepush(ctx, b, "plan", "--detailed-exitcode", env.Path).mustExit(b, 2, "plan of the reset lab")
}

// verifyFailed fails unless apply exited 0, or 3 (applied, but the final verify found a
// failing check): that run still did the whole apply, so it is timed, and the failure is
// reported with the figures instead of hidden.
func verifyFailed(b *testing.B, r cliRun, what string) {
	b.Helper()
	if r.Exit != 3 {
		r.mustExit(b, 0, what)
		return
	}
	msg := "(no message)"
	for _, line := range strings.Split(string(r.Out), "\n") {
		if strings.HasPrefix(line, "Verify failed after apply:") {
			msg = strings.TrimSpace(strings.TrimPrefix(line, "Verify failed after apply:"))
		}
	}
	b.Logf("%s: applied, but the final verify failed: %s", what, msg)
	report.Notes = append(report.Notes, fmt.Sprintf("%s (at %s): applied, but the final verify failed (exit 3): %s", what, r.Started.UTC().Format("15:04:05"), msg))
}

// ansibleRun times one Ansible run that must change nothing.
func ansibleRun(ctx context.Context, b *testing.B, an *Ansible, mode AnsibleMode, check bool, what string) time.Duration {
	b.Helper()
	d, recap, err := an.Run(ctx, mode, check)
	if err != nil {
		b.Fatal(err)
	}
	if n := changedHosts(recap); n > 0 {
		b.Fatalf("Ansible %s (%s) changed %d hosts on a converged lab", what, mode, n)
	}
	return d
}

func changedHosts(recap map[string]Recap) int {
	n := 0
	for _, r := range recap {
		if r.Changed > 0 {
			n++
		}
	}
	return n
}

// toggleLogFile adds or removes log_file in role "leaf" and returns the new state.
func toggleLogFile(b *testing.B, env *labtest.Env, on bool) bool {
	b.Helper()
	env.Edit(b, func(src string) string {
		if on {
			return strings.Replace(src, leafNATS+logFileLine, leafNATS, 1)
		}
		return strings.Replace(src, leafNATS, leafNATS+logFileLine, 1)
	})
	return !on
}

// requireOnly fails unless the plan does action to the nats-server of exactly n hosts of
// role and changes nothing else.
func requireOnly(ctx context.Context, b *testing.B, env *labtest.Env, role, action string, n int) {
	b.Helper()
	p := planJSON(ctx, b, env, "plan --json of the change")
	got := 0
	for _, u := range p.Units {
		switch {
		case string(u.Role) == role && u.Service == plan.ServiceNATS && string(u.Action) == action:
			got++
		case u.Changes():
			b.Fatalf("%s change: %s/%s would %s (%v)", role, u.Host, u.Service, u.Action, u.Reasons)
		}
	}
	if got != n {
		b.Fatalf("%s change: %d %ss %s, want %d", role, got, role, action, n)
	}
}

// setAnsibleFiles gives Ansible the files latticepush renders for the inventory as it is.
func setAnsibleFiles(b *testing.B, env *labtest.Env, an *Ansible) {
	b.Helper()
	d, err := plan.Render(env.Inventory(b))
	if err != nil {
		b.Fatal(err)
	}
	if err := an.SetFiles(d); err != nil {
		b.Fatal(err)
	}
}

// planJSON runs `latticepush plan --json` of the lab inventory and returns the plan.
func planJSON(ctx context.Context, b *testing.B, env *labtest.Env, what string) plan.Plan {
	b.Helper()
	r := latticepush(ctx, b, "plan", "--json", env.Path)
	r.mustExit(b, 0, what)
	var p plan.Plan
	if err := json.Unmarshal(r.Out, &p); err != nil {
		b.Fatalf("%s: %v\n%s", what, err, tail(string(r.Out), 2000))
	}
	return p
}
