package plan_test

import (
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// TestBuild_ServiceUserMove: a converged fleet whose servers run as root, once the inventory
// says nats, restarts every nats-server (hubs one at a time, as any restart) saying why, and
// restages a file whose group differs; once the processes run as nats and the files are in
// the group, nothing is left to do.
func TestBuild_ServiceUserMove(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	for _, h := range inv.Hosts {
		if n := h.NATS(); n != nil {
			n.User = "nats"
		}
	}
	d := plantest.FakeDesired(inv, true)
	for host, files := range d {
		for i, f := range files {
			if f.Service == plan.ServiceNATS {
				d[host][i].Group = "nats"
			}
		}
	}
	facts := plantest.Converged(inv, d)
	for host, f := range facts {
		if sf, ok := f.Services[plan.ServiceNATS]; ok {
			sf.User = "root"
			f.Services[plan.ServiceNATS] = sf
		}
		for p, ff := range f.Files {
			ff.Group = "root"
			f.Files[p] = ff
		}
		facts[host] = f
	}
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nats := 0
	for _, u := range p.Units {
		if u.Service != plan.ServiceNATS {
			if u.Action != plan.Noop {
				t.Errorf("%s: %s %v, want noop", u.ID(), u.Action, u.Reasons)
			}
			continue
		}
		nats++
		if u.Action != plan.Restart || u.User != "nats" || !strings.Contains(strings.Join(u.Reasons, "; "), "runs as root, the inventory says nats") {
			t.Errorf("%s: %s user %q %v, want a restart as nats saying why", u.ID(), u.Action, u.User, u.Reasons)
		}
		for _, fc := range u.Files {
			if fc.Op != "mode" || fc.Group != "nats" || fc.OldGroup != "root" {
				t.Errorf("%s %s: op %s group %q old %q, want mode nats from root", u.ID(), fc.Path, fc.Op, fc.Group, fc.OldGroup)
			}
		}
		if len(u.Files) == 0 {
			t.Errorf("%s: no file restaged into group nats", u.ID())
		}
	}
	if nats == 0 {
		t.Fatal("no nats-server unit")
	}
	for _, w := range p.Waves {
		if w.Name == "hub" {
			for _, b := range w.Batches {
				if len(b) != 1 {
					t.Errorf("hub batch %v: hubs restart one at a time", b)
				}
			}
		}
	}

	for host, f := range facts {
		if sf, ok := f.Services[plan.ServiceNATS]; ok {
			sf.User = "nats"
			f.Services[plan.ServiceNATS] = sf
		}
		for _, df := range d[host] {
			ff := f.Files[df.Path]
			ff.Group = "root"
			if df.Group != "" {
				ff.Group = df.Group
			}
			f.Files[df.Path] = ff
		}
	}
	p, err = plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() {
		for _, u := range p.Units {
			t.Errorf("after the move %s: %s %v", u.ID(), u.Action, u.Reasons)
		}
	}
}
