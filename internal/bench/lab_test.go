package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/plan"
)

// logFileLine is the reloadable change the reload case toggles in role "leaf".
const (
	leafNATS    = "role \"leaf\" {\n  nats {\n"
	logFileLine = "    log_file = \"/var/log/nats-server.log\"\n"
)

// BenchmarkLab brings up a lab of $LATTICEPUSH_BENCH_HOSTS hosts (default 50: 3 hubs and 47
// edges), converges it with latticepush, then measures, $LATTICEPUSH_BENCH_RUNS times each
// (default 5, cases interleaved so that drifting machine load hits every case alike): the
// floor, latticepush plan, no-change apply and a reload of every leaf, and the same work
// done by Ansible cold and warm ($LATTICEPUSH_BENCH_ANSIBLE=0 leaves Ansible out).
func BenchmarkLab(b *testing.B) {
	hosts, runs := envInt("LATTICEPUSH_BENCH_HOSTS", 50), envInt("LATTICEPUSH_BENCH_RUNS", 5)
	withAnsible := os.Getenv("LATTICEPUSH_BENCH_ANSIBLE") != "0"
	if withAnsible {
		if _, err := exec.LookPath("ansible-playbook"); err != nil {
			b.Fatal("ansible-playbook not found: `make bench` installs ansible-core (WITH_ANSIBLE=1 ./internal/tools/install-prereqs.sh)")
		}
	}
	latticepushBin(b) // build first: a compile error should not cost a lab bring-up
	env := labtest.Up(b, labtest.Spec{Name: "bench", Edges: hosts - 3})
	report.Machine = ThisMachine(testenv.NATSServerPath())
	report.Hosts, report.Runs = hosts, runs
	budget := time.Duration(envInt("LATTICEPUSH_BENCH_BUDGET_MIN", 40)) * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), budget+30*time.Minute)
	defer cancel()

	r := latticepush(ctx, b, "apply", "--auto-approve", env.Path)
	verifyFailed(b, r, "first apply of the empty lab")
	report.Converge = r.Wall
	latticepush(ctx, b, "plan", "--detailed-exitcode", env.Path).mustExit(b, 0, "plan after the first apply")
	b.Logf("converged %d hosts in %s", hosts, secs(r.Wall))

	var addrs []string
	for _, h := range env.Lab.Hosts {
		addrs = append(addrs, net.JoinHostPort(h.Addr.String(), "22"))
	}
	floor := Floor{User: "root", KeyPath: env.Lab.KeyPath, KnownHosts: env.Lab.KnownHostsPath}
	bounded := floor
	bounded.Limit = 8

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
		// Open the warm configuration's masters, untimed; the lab must already match.
		if _, recap, err := an.Run(ctx, true, false); err != nil {
			b.Fatal(err)
		} else if n := changedHosts(recap); n > 0 {
			report.Notes = append(report.Notes, fmt.Sprintf("Ansible's first run on the converged lab changed %d hosts: its copy and latticepush's upload differ somewhere", n))
		}
	}

	planC, applyC, reloadC := Case{Name: "no-change plan"}, Case{Name: "no-change apply"}, Case{Name: "reload change"}
	logOn := false
	// The lab loop stops early rather than let `go test -timeout` kill the run (and lose every
	// figure): a run starts only if one more of the longest so far fits the budget.
	loopStart, runStart, longest := time.Now(), time.Now(), time.Duration(0)
	for i := 0; i < runs; i++ {
		if i > 0 {
			longest = max(longest, time.Since(runStart))
		}
		if i > 0 && time.Since(loopStart)+longest > budget {
			report.Notes = append(report.Notes, fmt.Sprintf("The lab cases ran %d times instead of %d: one more run (the longest took %s) would have passed the %s budget ($LATTICEPUSH_BENCH_BUDGET_MIN) on this machine's load.", i, runs, secs(longest), budget))
			report.Runs = i
			break
		}
		runStart = time.Now()
		d, err := floor.Run(ctx, addrs)
		if err != nil {
			b.Fatal(err)
		}
		report.Floor = append(report.Floor, d)
		if d, err = bounded.Run(ctx, addrs); err != nil {
			b.Fatal(err)
		}
		report.FloorBounded = append(report.FloorBounded, d)

		r := latticepush(ctx, b, "plan", "--detailed-exitcode", env.Path)
		r.mustExit(b, 0, "no-change plan")
		planC.Latticepush = append(planC.Latticepush, r.Wall)
		r = latticepush(ctx, b, "apply", "--auto-approve", env.Path)
		r.mustExit(b, 0, "no-change apply")
		applyC.Latticepush = append(applyC.Latticepush, r.Wall)

		logOn = toggleLogFile(b, env, logOn)
		requireLeafReloads(ctx, b, env)
		r = latticepush(ctx, b, "apply", "--auto-approve", env.Path)
		verifyFailed(b, r, "reload apply")
		reloadC.Latticepush = append(reloadC.Latticepush, r.Wall)

		if an == nil {
			continue
		}
		setAnsibleFiles(b, env, an) // the files as they are now: no change for Ansible
		for _, warm := range []bool{false, true} {
			check := ansibleRun(ctx, b, an, warm, true, "no-change --check --diff")
			run := ansibleRun(ctx, b, an, warm, false, "no-change run")
			if warm {
				planC.AnsibleWarm, applyC.AnsibleWarm = append(planC.AnsibleWarm, check), append(applyC.AnsibleWarm, run)
			} else {
				planC.AnsibleCold, applyC.AnsibleCold = append(planC.AnsibleCold, check), append(applyC.AnsibleCold, run)
			}
		}
		for _, warm := range []bool{false, true} {
			logOn = toggleLogFile(b, env, logOn)
			setAnsibleFiles(b, env, an)
			d, recap, err := an.Run(ctx, warm, false)
			if err != nil {
				b.Fatal(err)
			}
			for h, rc := range recap {
				if strings.HasPrefix(h, "edge-") && rc.Changed < 2 { // the copy and the handler
					b.Fatalf("Ansible reload run (warm=%v): %s changed %d tasks, want the config copied and the reload handler run", warm, h, rc.Changed)
				}
			}
			// The reload really happened: latticepush now sees the files in place and every
			// running config_digest matching them.
			latticepush(ctx, b, "plan", "--detailed-exitcode", env.Path).mustExit(b, 0, "plan after Ansible's reload")
			if warm {
				reloadC.AnsibleWarm = append(reloadC.AnsibleWarm, d)
			} else {
				reloadC.AnsibleCold = append(reloadC.AnsibleCold, d)
			}
		}
		// Keep what is measured so far: a later failure still prints these runs.
		report.Cases, report.Runs = []Case{planC, applyC, reloadC}, i+1
		b.Logf("run %d/%d: floor %s, plan %s, apply %s, reload %s; Ansible check cold %s warm %s, reload cold %s warm %s", i+1, runs,
			secs(report.Floor[i]), secs(planC.Latticepush[i]), secs(applyC.Latticepush[i]), secs(reloadC.Latticepush[i]),
			secs(planC.AnsibleCold[i]), secs(planC.AnsibleWarm[i]), secs(reloadC.AnsibleCold[i]), secs(reloadC.AnsibleWarm[i]))
	}
	report.Cases = []Case{planC, applyC, reloadC}
	report.LabPhases = phases(ctx, b, env.Path, "lab").text
	b.ReportMetric(report.Floor.Median().Seconds(), "s/floor")
	b.ReportMetric(planC.Latticepush.Median().Seconds(), "s/plan")
	b.ReportMetric(applyC.Latticepush.Median().Seconds(), "s/apply")
	b.ReportMetric(reloadC.Latticepush.Median().Seconds(), "s/reload")
	b.ReportMetric(0, "ns/op")
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
func ansibleRun(ctx context.Context, b *testing.B, an *Ansible, warm, check bool, what string) time.Duration {
	b.Helper()
	d, recap, err := an.Run(ctx, warm, check)
	if err != nil {
		b.Fatal(err)
	}
	if n := changedHosts(recap); n > 0 {
		b.Fatalf("Ansible %s (warm=%v) changed %d hosts on a converged lab", what, warm, n)
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

// requireLeafReloads fails unless the plan reloads every leaf's nats-server and changes
// nothing else.
func requireLeafReloads(ctx context.Context, b *testing.B, env *labtest.Env) {
	b.Helper()
	r := latticepush(ctx, b, "plan", "--json", env.Path)
	r.mustExit(b, 0, "plan --json of the reload change")
	var p plan.Plan
	if err := json.Unmarshal(r.Out, &p); err != nil {
		b.Fatalf("plan --json: %v\n%s", err, tail(string(r.Out), 2000))
	}
	leaves := 0
	for _, u := range p.Units {
		switch {
		case u.Role == "leaf" && u.Action == "reload":
			leaves++
		case u.Changes():
			b.Fatalf("reload change: %s/%s would %s (%v)", u.Host, u.Service, u.Action, u.Reasons)
		}
	}
	if want := len(env.Lab.Hosts) - 3; leaves != want {
		b.Fatalf("reload change: %d leaves reload, want %d", leaves, want)
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
