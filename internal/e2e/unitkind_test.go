package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/supervisor"
	"github.com/latticepush/latticepush/unit"
)

// greeterKind is a unit kind that exists only in this test: a trivial service on every edge
// machine with one config file, restarted when the file changes, gated on its process
// staying up. It is what adding a kind takes: a type implementing unit.Kind, registered.
type greeterKind struct{ greeting *atomic.Value }

const greeterRole unit.Role = "greeter"

func (greeterKind) Name() string { return "greeter" }

func (greeterKind) Role(h *inventory.Host) (unit.Role, bool) {
	return greeterRole, strings.HasPrefix(h.Name, "edge-")
}

func (k greeterKind) Files(c *unit.Context) ([]unit.File, error) {
	content := c.Header() + "greeting = " + k.greeting.Load().(string) + "\n"
	return []unit.File{c.File("/etc/greeter/greeter.conf", unit.FileConfig, "greeter", []byte(content), 0o644)}, nil
}

func (greeterKind) Service(c *unit.Context) (supervisor.Service, error) {
	return supervisor.Service{Name: "greeter", Description: "greeter on " + c.Host.Name, Binary: "/bin/sleep",
		Args: []string{"86400"}, RestartDelay: time.Second, StopTimeout: 10 * time.Second}, nil
}

func (greeterKind) Classify(ch unit.Change) unit.Decision {
	if len(ch.Files) == 0 {
		return unit.Decision{Effect: unit.None}
	}
	return unit.Decision{Effect: unit.Restart, Reasons: []string{"greeter reads its config only at start"}}
}

func (greeterKind) Gates(unit.Role) (apply, rollback unit.Gate) {
	return unit.GateRunning, unit.GateRunning
}

// TestUnitKind_ThirdKindInTheLab registers a third unit kind in the test and runs it through
// plan and apply on a lab: first start in a wave of its own after the wasmCloud hosts, gated
// on the process; a config change restarts it (a new pid); then nothing is left to do.
func TestUnitKind_ThirdKindInTheLab(t *testing.T) {
	greeting := &atomic.Value{}
	greeting.Store("hello")
	unit.Register(greeterKind{greeting: greeting})
	defer unit.Unregister("greeter")

	env := labtest.Up(t, labtest.Spec{Edges: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	edges := []string{"edge-1", "edge-2"}

	s := newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	var waves []string
	for _, w := range p.Waves {
		waves = append(waves, string(w.Name))
	}
	if got := strings.Join(waves, ","); got != "hub,leaf,wasmcloud,greeter" {
		t.Fatalf("waves %s, want hub,leaf,wasmcloud,greeter", got)
	}
	for _, h := range edges {
		u := p.Unit(h + "/greeter")
		if u == nil || u.Action != plan.Start || !u.Start || u.Role != greeterRole {
			t.Fatalf("%s/greeter: %+v, want a first start in role greeter", h, u)
		}
	}
	if res, err := s.apply(ctx, p); err != nil || res.VerifyError != "" {
		t.Fatalf("apply from empty: %v %s\nresults: %v", err, res.VerifyError, results(res))
	} else if r := results(res); r["edge-1/greeter"] != "applied" || r["edge-2/greeter"] != "applied" {
		t.Fatalf("greeter results: %v", r)
	}
	pids := map[string]string{}
	for _, h := range edges {
		st, err := env.Lab.Exec(ctx, h, "sv", "status", "/etc/service/greeter")
		if err != nil || !strings.HasPrefix(string(st), "run:") {
			t.Fatalf("%s: greeter not running after apply: %v %s", h, err, st)
		}
		conf, _ := env.Lab.Exec(ctx, h, "cat", "/etc/greeter/greeter.conf")
		if !strings.Contains(string(conf), "greeting = hello\n") {
			t.Errorf("%s: greeter.conf %q", h, conf)
		}
		pid, _ := env.Lab.Exec(ctx, h, "cat", "/etc/service/greeter/supervise/pid")
		pids[h] = strings.TrimSpace(string(pid))
	}

	greeting.Store("good day")
	s = newSession(t, env, plan.Options{})
	p = s.plan(ctx)
	for _, h := range edges {
		u := p.Unit(h + "/greeter")
		if u == nil || u.Action != plan.Restart || !strings.Contains(strings.Join(u.Reasons, ";"), "greeter reads its config only at start") {
			t.Fatalf("%s/greeter after a config change: %+v", h, u)
		}
	}
	if p.Unit("edge-1/nats-server").Action != plan.Noop || p.Unit("edge-1/wasmcloud").Action != plan.Noop {
		t.Errorf("a greeter change touches other units: %s", p.Summary())
	}
	if res, err := s.apply(ctx, p); err != nil {
		t.Fatalf("apply the change: %v\nresults: %v", err, results(res))
	}
	for _, h := range edges {
		pid, _ := env.Lab.Exec(ctx, h, "cat", "/etc/service/greeter/supervise/pid")
		if strings.TrimSpace(string(pid)) == pids[h] {
			t.Errorf("%s: greeter kept pid %s: the config change did not restart it", h, pids[h])
		}
	}
	if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() {
		t.Errorf("re-plan after apply has changes: %s", p.Summary())
	}
}
