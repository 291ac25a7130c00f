package plan_test

import (
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// An apply killed during a hub node's restart leaves the node in lame duck with its new
// config in place and runit told not to start it again. Its server still answers /varz
// with the old digest until it exits, which alone would plan a reload: the reload goes to a
// server on its way out, and nothing starts it again. The restart is what is due.
func TestBuild_StoppingServiceIsRestarted(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	facts["hub-2"].NATS.RunningDigest = "sha256:previous"
	sf := facts["hub-2"].Services[plan.ServiceNATS]
	sf.Stopping = true
	facts["hub-2"].Services[plan.ServiceNATS] = sf
	p, err := plan.Build(inv, d, facts, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := p.Unit("hub-2/nats-server")
	if u.Action != plan.Restart || !strings.Contains(strings.Join(u.Reasons, "; "), "did not finish its restart") {
		t.Errorf("a stopping hub node with its new config in place: %s %v, want a restart saying why", u.Action, u.Reasons)
	}
	if a := actions(p)["hub-1/nats-server"]; a != plan.Noop {
		t.Errorf("hub-1: %s, want noop", a)
	}
}
