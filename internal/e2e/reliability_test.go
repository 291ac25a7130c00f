package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/rollout"
)

// The reliability suite (RELIABILITY.md): faults, load and bad input against a real lab.
// Helpers shared by the *_reliability_test.go files live here.

// Managed files whose state the fault tests compare: every edge's leaf config and wasmCloud
// environment, and every hub's config.
const (
	natsConf = "/etc/nats/nats-server.conf"
	wasmEnv  = "/etc/wasmcloud/wasmcloud.env"
)

// strayDirs are the directories apply stages into on lab hosts.
var strayDirs = []string{"/etc/nats", "/etc/sv", "/etc/wasmcloud"}

// hashesOn returns "host path" -> sha256 of every path present on every lab host.
func hashesOn(t *testing.T, ctx context.Context, env *labtest.Env, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range env.Lab.Hosts {
		b, err := env.Lab.Exec(ctx, h.Name, append([]string{"sh", "-c", `for f in "$@"; do [ -f "$f" ] && sha256sum "$f"; done; true`, "sh"}, paths...)...)
		if err != nil {
			t.Fatalf("hash files on %s: %v", h.Name, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				out[h.Name+" "+f[1]] = f[0]
			}
		}
	}
	return out
}

// desiredHashes returns "host path" -> sha256 of what the env's inventory renders for paths.
func desiredHashes(t *testing.T, env *labtest.Env, paths ...string) map[string]string {
	t.Helper()
	d, err := plan.Render(env.Inventory(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	out := map[string]string{}
	for host, files := range d {
		for _, f := range files {
			if want[f.Path] {
				sum := sha256.Sum256(f.Content)
				out[host+" "+f.Path] = hex.EncodeToString(sum[:])
			}
		}
	}
	return out
}

// strays lists latticepush temporary files left on any lab host.
func strays(t *testing.T, ctx context.Context, env *labtest.Env) []string {
	t.Helper()
	var out []string
	for _, h := range env.Lab.Hosts {
		b, err := env.Lab.Exec(ctx, h.Name, append(append([]string{"find"}, strayDirs...), "-name", "*.latticepush-tmp-*")...)
		if err != nil && !strings.Contains(string(b), "No such file") {
			t.Fatalf("find strays on %s: %v", h.Name, err)
		}
		for _, l := range strings.Fields(string(b)) {
			if strings.Contains(l, ".latticepush-tmp-") {
				out = append(out, h.Name+":"+l)
			}
		}
	}
	return out
}

// locksHeld lists the lab hosts that have a latticepush lock file.
func locksHeld(ctx context.Context, env *labtest.Env) []string {
	var out []string
	for _, h := range env.Lab.Hosts {
		if _, err := env.Lab.Exec(ctx, h.Name, "test", "-e", remote.DefaultLockDir+"/lock"); err == nil {
			out = append(out, h.Name)
		}
	}
	return out
}

// deadController is the lock owner of an apply whose process has ended, as a latticepush
// run that lost its link and exited would leave behind.
func deadController(t *testing.T) rollout.LockOwner {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	return rollout.LockOwner{User: "reliability", Host: host, PID: cmd.Process.Pid, Command: "latticepush apply " + t.Name()}
}

// applyAs runs apply for owner, recording events on the session like session.apply.
func (s *session) applyAs(ctx context.Context, p *plan.Plan, owner rollout.LockOwner, hook func(rollout.Event)) (*rollout.Result, error) {
	return rollout.Apply(ctx, rollout.Target{Plan: p, Probes: s.Probes, Replan: s.Build}, s.Fleet, s.gates(), rollout.Options{
		Owner:       owner,
		GateTimeout: gateTimeout,
		Events: func(e rollout.Event) {
			s.events = append(s.events, e)
			s.t.Logf("%s %s %s %s %s", e.Type, e.Phase, e.Unit, e.Action, e.Message)
			if hook != nil {
				hook(e)
			}
		},
	})
}

// rerun plans and applies until the apply is not refused by a lock. A lock left by a dead
// controller must be reported as stale with how to clear it; it is then cleared the way the
// operator is told to (removing the lock file), and the number of such locks is returned.
func rerun(t *testing.T, ctx context.Context, env *labtest.Env) (staleLocks int) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s := newSession(t, env, plan.Options{})
		res, err := s.applyAs(ctx, s.plan(ctx), deadController(t), nil)
		var le *remote.LockedError
		if errors.As(err, &le) && attempt < 3 {
			if !le.Stale || !strings.Contains(le.Error(), le.Path) {
				t.Fatalf("rerun refused by a lock that is not reported as stale with its path: %v", le)
			}
			t.Logf("rerun: %s", le)
			forceUnlock(t, ctx, env, le.Target)
			staleLocks++
			continue
		}
		if err != nil {
			t.Fatalf("rerun: %v\nresults: %v", err, results(res))
		}
		if res.VerifyError != "" {
			if !strings.Contains(res.VerifyError, staleRead) {
				t.Fatalf("rerun: verify after apply: %s", res.VerifyError)
			}
			staleReads.Add(1)
			verifyLab(t, ctx, env)
		}
		return staleLocks
	}
}

// staleRead is how verify's domain.reach check reports a KV read that returned an older
// revision than the write just before it: a direct get answered by a lagging replica, which
// is verify's own race, not a fault of the lattice (see RELIABILITY.md, known issues).
const staleRead = "read back revision"

// staleReads counts verifications that failed only with staleRead and passed when repeated.
var staleReads atomic.Int32

// verifyLab runs every verify check against the lab, repeating (at most twice) a round whose
// only failures are stale reads; any other failure fails the test. It returns the checks run.
func verifyLab(t *testing.T, ctx context.Context, env *labtest.Env) int {
	t.Helper()
	for try := 0; ; try++ {
		rep := newSession(t, env, plan.Options{}).verify(ctx)
		if rep.OK() {
			return len(rep.Results)
		}
		onlyStale := true
		for _, r := range rep.Failed() {
			if !strings.Contains(r.Evidence, staleRead) {
				onlyStale = false
			}
		}
		if !onlyStale || try == 2 {
			t.Fatalf("verify: %+v", rep.Failed())
		}
		staleReads.Add(1)
		t.Logf("verify: stale read, repeating: %+v", rep.Failed())
	}
}

// forceUnlock removes host's lock, as `--force-unlock` is documented to.
func forceUnlock(t *testing.T, ctx context.Context, env *labtest.Env, host string) {
	t.Helper()
	pool := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer pool.Close()
	inv := env.Inventory(t)
	c, err := pool.Connect(ctx, fleet.Target(inv, inv.Host(host)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ForceUnlock(ctx, remote.LockOptions{}); err != nil {
		t.Fatal(err)
	}
}

// converged fails the test unless a fresh plan has nothing to do, no temp file is left and
// no host is locked.
func converged(t *testing.T, ctx context.Context, env *labtest.Env) {
	t.Helper()
	s := newSession(t, env, plan.Options{})
	if p := s.plan(ctx); p.HasChanges() {
		for _, u := range p.Units {
			if u.Changes() {
				t.Errorf("not converged: %s %s %v", u.ID(), u.Action, u.Reasons)
			}
		}
		t.FailNow()
	}
	if left := strays(t, ctx, env); len(left) > 0 {
		t.Fatalf("temporary files left after the rerun: %v", left)
	}
	if held := locksHeld(ctx, env); len(held) > 0 {
		t.Fatalf("locks left after the rerun on %v", held)
	}
}

// revision rewrites the lab inventory to revision n of a change on every edge: a reloadable
// leaf change (log_file) and a restart-class wasmCloud change (a label).
func revision(t *testing.T, env *labtest.Env, n int) {
	t.Helper()
	env.Edit(t, func(src string) string {
		if !strings.Contains(src, "nats-leaf-") {
			src = strings.Replace(src, "role \"leaf\" {\n  nats {\n", "role \"leaf\" {\n  nats {\n    log_file = \"/var/log/nats-leaf-0.log\"\n", 1)
			src = strings.Replace(src, `env = "lab"`, "env = \"lab\"\n      rev = \"0\"", 1)
		}
		src = regexp.MustCompile(`nats-leaf-\d+\.log`).ReplaceAllString(src, fmt.Sprintf("nats-leaf-%d.log", n))
		return regexp.MustCompile(`rev = "\d+"`).ReplaceAllString(src, fmt.Sprintf("rev = %q", fmt.Sprint(n)))
	})
}

// viaProxy routes latticepush's SSH connection to host through a loopback port: an ssh_config
// that maps the host's address to 127.0.0.1:port, and a known_hosts that pins the host's key
// for that address too.
func viaProxy(t *testing.T, env *labtest.Env, host string, port int) {
	t.Helper()
	h, _ := env.Lab.Host(host)
	kh, err := os.ReadFile(env.Lab.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	var extra string
	for _, line := range strings.Split(string(kh), "\n") {
		if rest, ok := strings.CutPrefix(line, h.Addr.String()+" "); ok {
			extra = fmt.Sprintf("[127.0.0.1]:%d %s\n", port, rest)
		}
	}
	if extra == "" {
		t.Fatalf("no known_hosts line for %s", h.Addr)
	}
	khPath := filepath.Join(env.Dir, "known_hosts."+host)
	cfgPath := filepath.Join(env.Dir, "ssh_config."+host)
	if err := os.WriteFile(khPath, append(kh, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("Host %s\n  HostName 127.0.0.1\n  Port %d\n", h.Addr, port)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env.Edit(t, func(src string) string {
		re := regexp.MustCompile(`(host "` + regexp.QuoteMeta(host) + `" \{\n  address = "[^"]+"\n)`)
		return re.ReplaceAllString(src, fmt.Sprintf("${1}  ssh {\n    config_file = %q\n    known_hosts = %q\n  }\n", cfgPath, khPath))
	})
}
