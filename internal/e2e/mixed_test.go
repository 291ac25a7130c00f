package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
)

// TestMixed_FromEmptyToVerified runs examples/lab-mixed, one lattice on both inits: the hubs
// under systemd (their host blocks' service_manager), the edges under runit (the defaults'),
// all logged into as the lab's sudo user (become). One apply takes the empty lab to a
// verified lattice, each host's services under its own supervisor and nothing under the
// other; the next plan is empty; then one reloadable change on every nats-server is applied
// by reload through both supervisors (same pids, confirmed by config_digest), and the plan
// is empty again.
func TestMixed_FromEmptyToVerified(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Example: "lab-mixed", Become: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	want := map[string]string{
		"hub-1": lab.InitSystemd, "hub-2": lab.InitSystemd, "hub-3": lab.InitSystemd,
		"edge-1": lab.InitRunit, "edge-2": lab.InitRunit, "edge-3": lab.InitRunit,
	}
	if len(env.Lab.Hosts) != len(want) {
		t.Fatalf("%d lab hosts, want %d", len(env.Lab.Hosts), len(want))
	}
	for _, h := range env.Lab.Hosts {
		if h.Init != want[h.Name] {
			t.Fatalf("%s: lab init %q, want %q (its service_manager)", h.Name, h.Init, want[h.Name])
		}
	}

	s := newSession(t, env, plan.Options{})
	applyEmptyLab(ctx, t, s)

	// Each host's services run under its own supervisor; the other one holds none of them.
	for _, h := range env.Lab.Hosts {
		for _, svc := range servicesOn(h.Name) {
			var script string
			if h.Init == lab.InitSystemd {
				script = "systemctl is-active " + svc + " && systemctl is-enabled " + svc + " && test ! -e /etc/sv/" + svc + " && echo ok"
			} else {
				script = "sv status /etc/service/" + svc + " | grep -q '^run:' && test ! -e /etc/systemd/system/" + svc + ".service && echo ok"
			}
			out, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", script)
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
				t.Errorf("%s (%s): %s is not running under %s alone: %v %q", h.Name, h.Init, svc, h.Init, err, out)
			}
		}
	}

	pids := natsPIDs(t, s, ctx)
	if p := s.plan(ctx); p.HasChanges() {
		for _, u := range p.Units {
			if u.Changes() {
				t.Errorf("second plan: %s %s %v", u.ID(), u.Action, u.Reasons)
			}
		}
		t.FailNow()
	}

	// A reloadable change on every nats-server: systemd's ExecReload on the hubs, runit's
	// reload on the edges, in one apply.
	env.Edit(t, func(src string) string {
		for _, role := range []string{"hub", "leaf"} {
			head := "role \"" + role + "\" {\n  nats {\n"
			if !strings.Contains(src, head) {
				t.Fatalf("examples/lab-mixed has no %q: edit this test", head)
			}
			src = strings.Replace(src, head, head+"    log_file = \"/var/log/nats-server.log\"\n", 1)
		}
		return src
	})
	s = newSession(t, env, plan.Options{})
	p := s.plan(ctx)
	for h := range want {
		if a := actions(p)[h+"/"+plan.ServiceNATS]; a != plan.Reload {
			t.Fatalf("%s: %s, want reload (%v)", h, a, p.Unit(h+"/"+plan.ServiceNATS).Reasons)
		}
	}
	if res, err := s.apply(ctx, p); err != nil {
		t.Fatalf("reload apply: %v\nresults: %v", err, results(res))
	} else if res.VerifyError != "" {
		t.Fatalf("verify after the reload apply: %s", res.VerifyError)
	}
	if after := natsPIDs(t, s, ctx); !equalMaps(pids, after) {
		t.Errorf("the reload apply restarted a nats-server: pids %v -> %v", pids, after)
	}
	if p := s.plan(ctx); p.HasChanges() {
		t.Errorf("after the reload apply the plan still has changes: %s", p.Summary())
	}
}
