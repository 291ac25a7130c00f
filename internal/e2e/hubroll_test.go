package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
)

// TestRollout_HubRollThenWasmcloudChange applies, with the CLI, a hub roll (a lame-duck
// setting: a restart of every hub node) and a wasmCloud label change in one apply. Each hub
// restart sends the leaves to other hub nodes, which takes seconds; a wasmCloud host
// restarted while its leaf is unlinked finds no JetStream domain, exits, and its supervisor
// starts it again. So the wasmCloud wave waits for the leaf links first. Asserted: every
// wasmCloud host started exactly once during the apply (its log's start lines and a new
// supervise pid), and the wait, with its duration, is a line of apply's output.
func TestRollout_HubRollThenWasmcloudChange(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	edges := []string{"edge-1", "edge-2"}

	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	starts, pids := wasmcloudStarts(t, ctx, env, edges), wasmcloudPIDs(t, ctx, env, edges)

	env.Edit(t, func(src string) string {
		hub := "lame_duck_grace_period = \"1s\"\n  }\n}\n\nrole \"leaf\""
		if !strings.Contains(src, hub) {
			t.Fatal("the lab inventory's hub role changed: edit this test")
		}
		src = strings.Replace(src, hub, strings.Replace(hub, `"1s"`, `"2s"`, 1), 1)
		return strings.Replace(src, `env = "lab"`, `env = "lab-2"`, 1)
	})
	var names []string
	for _, w := range newSession(t, env, plan.Options{}).plan(ctx).Waves {
		names = append(names, string(w.Name))
	}
	if strings.Join(names, ",") != "hub,wasmcloud" {
		t.Fatalf("waves %v, want hub, wasmcloud", names)
	}

	applyStart := time.Now()
	cmd := exec.CommandContext(ctx, bin, "apply", "--auto-approve", env.Path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("latticepush apply: %v\n%s", err, out.String())
	}
	applyTook := time.Since(applyStart)
	t.Logf("latticepush apply --auto-approve:\n%s", out.String())

	wait := regexp.MustCompile(`wasmcloud: leaf links of edge-1, edge-2 back after ([0-9.]+)s`).FindStringSubmatch(out.String())
	if wait == nil {
		t.Errorf("apply's output has no wait for the leaf links before the wasmcloud wave:\n%s", out.String())
	}
	after, newPIDs := wasmcloudStarts(t, ctx, env, edges), wasmcloudPIDs(t, ctx, env, edges)
	for _, h := range edges {
		if n := after[h] - starts[h]; n != 1 {
			log, _ := env.Lab.Exec(ctx, h, "tail", "-n", "20", "/var/log/wasmcloud/current")
			t.Errorf("%s: the wasmCloud host started %d times during the apply, want once:\n%s", h, n, log)
		}
		if newPIDs[h] == pids[h] {
			t.Errorf("%s: the wasmCloud host kept pid %s: the label change did not restart it", h, pids[h])
		}
	}
	if !t.Failed() {
		t.Logf("apply %.1fs; %s; each wasmCloud host started once (pids %v -> %v); test %.1fs in all",
			applyTook.Seconds(), wait[0], pids, newPIDs, time.Since(began).Seconds())
	}
}

// wasmcloudStarts counts, per host, the start lines in the wasmCloud host's log: one per
// process the supervisor started.
func wasmcloudStarts(t *testing.T, ctx context.Context, env *labtest.Env, hosts []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range hosts {
		b, err := env.Lab.Exec(ctx, h, "sh", "-c", "cat /var/log/wasmcloud/current /var/log/wasmcloud/@* 2>/dev/null | grep -c 'wasmCloud host starting' || true")
		n, cerr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || cerr != nil {
			t.Fatalf("%s: count the wasmCloud host's starts: %v %v %s", h, err, cerr, b)
		}
		out[h] = n
	}
	return out
}

// wasmcloudPIDs reads runit's supervise/pid of the wasmCloud service on each host.
func wasmcloudPIDs(t *testing.T, ctx context.Context, env *labtest.Env, hosts []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range hosts {
		b, err := env.Lab.Exec(ctx, h, "cat", "/etc/service/wasmcloud/supervise/pid")
		if err != nil || strings.TrimSpace(string(b)) == "" {
			t.Fatalf("%s: wasmCloud supervise/pid: %v %q", h, err, b)
		}
		out[h] = strings.TrimSpace(string(b))
	}
	return out
}
