package e2e

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
)

// hubLostGate is the gate timeout of the applies in TestReliability_HubLostMidWave: a gate
// that cannot pass (a peer is gone) fails after it.
const hubLostGate = 30 * time.Second

// TestReliability_HubLostMidWave takes a hub node off the network and kills its nats-server
// (and the runsv supervising it) during a rolling restart of every hub node: once while it
// is the node being restarted, once while another node is. Asserted, each time: apply stops
// with an error naming the lost node, starts no hub node after it, and, when the lost node
// is another one, leaves the restarting node on its new config (no rollback for a peer's
// loss). The hubs' /healthz is sampled inside each node every 200 ms, so the time without
// quorum (2 of 3 nodes down: the lost one and the one restarting) is measured. After the
// node returns, a rerun converges.
func TestReliability_HubLostMidWave(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s := newSession(t, env, plan.Options{})
	if res, err := s.apply(ctx, s.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("initial apply: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}

	for i, tc := range []struct {
		name string
		// lost picks, from the hub wave's order, the node lost when restarting starts.
		restarting, lost int
	}{
		{"another node lost while one restarts", 1, 2},
		{"the restarting node lost", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			killRevision(t, env, 101+i)
			s := newSession(t, env, plan.Options{})
			p := s.plan(ctx)
			var order []string
			for _, w := range p.Waves {
				if w.Name == "hub" {
					for _, b := range w.Batches {
						for _, id := range b {
							order = append(order, strings.SplitN(id, "/", 2)[0])
						}
					}
				}
			}
			if len(order) != 3 {
				t.Fatalf("hub wave %v: want the 3 hub nodes, one at a time", order)
			}
			restarting, victim := order[tc.restarting], order[tc.lost]
			before := hashesOn(t, ctx, env, natsConf)
			want := desiredHashes(t, env, natsConf)
			q := watchQuorum(t, ctx, env)

			var once sync.Once
			var lostAt time.Time
			var started []string
			res, err := rollout.Apply(ctx, rollout.Target{Plan: p, Probes: s.Probes, Replan: s.Build}, s.Fleet, s.gates(), rollout.Options{
				Owner:       deadController(t),
				GateTimeout: hubLostGate,
				Events: func(e rollout.Event) {
					t.Logf("%s %s %s %s %s", e.Type, e.Wave, e.Unit, e.Action, e.Message)
					if e.Type != rollout.EventUnitStart || e.Wave != "hub" {
						return
					}
					started = append(started, e.Unit)
					if e.Unit == restarting+"/nats-server" {
						once.Do(func() { lostAt = time.Now(); loseHub(t, env, victim) })
					}
				},
			})
			took := time.Since(lostAt)
			if err == nil || !strings.Contains(err.Error(), victim) {
				t.Errorf("apply with %s lost: err %v, want an error naming it", victim, err)
			}
			got := results(res)
			for _, u := range started {
				if host := strings.SplitN(u, "/", 2)[0]; host != order[0] && host != restarting {
					t.Errorf("%s started after %s was lost", u, victim)
				}
			}
			after := hashesOn(t, ctx, env, natsConf)
			last := order[2]
			if last != victim && after[last+" "+natsConf] != before[last+" "+natsConf] {
				t.Errorf("%s: config changed although the wave stopped before it", last)
			}
			if victim != restarting {
				if !errors.Is(err, rollout.ErrHubLost) {
					t.Errorf("err %v: want ErrHubLost", err)
				}
				if r := got[restarting+"/nats-server"]; r == string(rollout.RolledBack) || r == string(rollout.RollbackFailed) {
					t.Errorf("%s: %q: rolled back for %s's loss", restarting, r, victim)
				}
				if after[restarting+" "+natsConf] != want[restarting+" "+natsConf] {
					t.Errorf("%s: not on its new config after %s's loss", restarting, victim)
				}
			}
			// The node returns: its link up (runsvdir has started its runsv and nats-server again).
			if err := env.Lab.LinkUp(victim); err != nil {
				t.Fatal(err)
			}
			waitQuorum(t, ctx, env, 3)
			qf := q.stop()
			t.Logf("%s: %s lost as the apply began to restart %s; apply stopped %.1fs later: %s; results %v; quorum: %d samples (%d not judged), no meta leader known to a majority at %d, longest stretch %.1fs, fewer than 2 nodes /healthz 200 at %d",
				tc.name, victim, restarting, took.Seconds(), firstLineOf(errString(err)), got, qf.samples, qf.unknown, qf.noLeader, qf.longest.Seconds(), qf.unhealthy)
			if victim == restarting && qf.lost > 0 {
				t.Errorf("quorum lost (%d samples) although only the restarting node was lost", qf.lost)
			}
			stale := rerun(t, ctx, env)
			converged(t, ctx, env)
			t.Logf("%s: after %s returned, the rerun converged (stale locks cleared with force-unlock: %d)", tc.name, victim, stale)
		})
	}
	t.Logf("test %.0fs", time.Since(began).Seconds())
}

// loseHub takes host off the network and kills its nats-server and the runsv supervising
// it (runsvdir starts them again within seconds, cut off until the link is back).
func loseHub(t *testing.T, env *labtest.Env, host string) {
	if err := env.Lab.LinkDown(host); err != nil {
		t.Error(err)
	}
	out, err := env.Lab.Exec(context.Background(), host, "sh", "-c",
		`p=$(cat /etc/service/nats-server/supervise/pid); pp=$(awk '/^PPid:/{print $2}' /proc/$p/status); kill -9 $pp $p`)
	if err != nil {
		t.Errorf("kill the nats-server of %s: %v %s", host, err, out)
	}
}

// waitQuorum waits until n hub nodes answer /healthz 200 (asked inside each node).
func waitQuorum(t *testing.T, ctx context.Context, env *labtest.Env, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		up := 0
		for _, h := range []string{"hub-1", "hub-2", "hub-3"} {
			out, _ := env.Lab.Exec(ctx, h, "curl", "-s", "-m", "1", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:8222/healthz")
			if strings.TrimSpace(string(out)) == "200" {
				up++
			}
		}
		if up >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d hub nodes healthy after 3 minutes", up)
		}
		time.Sleep(time.Second)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
