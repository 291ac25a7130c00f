package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

// certHost is a fake host that serves a certificate ending at served after any reload.
type certHost struct {
	*fakeHost
	served  time.Time
	removed []string
	swept   []plan.CASweep
}

func (h *certHost) ServedCertNotAfter(context.Context, string) (time.Time, error) {
	return h.served, nil
}
func (h *certHost) RemoveOldCerts(_ context.Context, c plan.CertChange) error {
	h.removed = append(h.removed, c.Remove...)
	return nil
}
func (h *certHost) RemoveOldCAs(_ context.Context, s plan.CASweep) error {
	h.swept = append(h.swept, s)
	return nil
}

type certFleet struct {
	*fakeFleet
	hosts map[string]*certHost
}

func (f certFleet) Host(ctx context.Context, name string) (Host, error) {
	if h, ok := f.hosts[name]; ok {
		if _, err := f.fakeFleet.Host(ctx, name); err != nil {
			return nil, err
		}
		return h, nil
	}
	return f.fakeFleet.Host(ctx, name)
}

// A reload that names a new certificate is confirmed by the end the server serves: the new one
// passes and the previous files (certificate, key, CA file) are removed after the gate; the old
// one still served fails the unit, which is rolled back with the previous files kept.
func TestApply_CertConfirmed(t *testing.T) {
	newEnd := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		served time.Time
		ok     bool
	}{{"served", newEnd, true}, {"old one still served", newEnd.Add(-60 * 24 * time.Hour), false}} {
		t.Run(c.name, func(t *testing.T) {
			fx := newApplyFixture(t, "lab", plantest.Converged)
			const cfg = "/etc/nats/nats-server.conf"
			fx.fleet.hosts["hub-2"].files[cfg] = []byte("# old\n" + string(fx.fleet.hosts["hub-2"].files[cfg]))
			fx.fleet.hosts["hub-2"].digest = "sha256:" + plantest.SHA(fx.fleet.hosts["hub-2"].files[cfg])
			p, probes := fx.plan(t)
			u := p.Unit("hub-2/nats-server")
			if u.Action != plan.Reload {
				t.Fatalf("action %s, want reload", u.Action)
			}
			old := []string{"/etc/nats/tls/hub-2-aa.pem", "/etc/nats/tls/hub-2-aa.key"}
			u.Cert = &plan.CertChange{To: "/etc/nats/tls/hub-2-bb.pem", NotAfter: newEnd, Remove: old}
			u.CASweep = &plan.CASweep{Prefix: "/etc/nats/tls/ca-", Keep: []string{"/etc/nats/tls/ca-bb.pem"}, Previous: []string{"/etc/nats/tls/ca-bb-aa.pem"}}
			ch := &certHost{fakeHost: fx.fleet.hosts["hub-2"], served: c.served}
			replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
			_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan},
				certFleet{fx.fleet, map[string]*certHost{"hub-2": ch}}, fx.gates,
				Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(ch.removed, " ") != strings.Join(old, " ") {
					t.Errorf("removed %v, want %v", ch.removed, old)
				}
				if len(ch.swept) != 1 || ch.swept[0].Prefix != u.CASweep.Prefix {
					t.Errorf("CA sweeps %+v, want the unit's", ch.swept)
				}
				return
			}
			if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "new certificate /etc/nats/tls/hub-2-bb.pem was not confirmed") {
				t.Fatalf("err %v, want the unconfirmed certificate rolled back", err)
			}
			if len(ch.removed) > 0 || len(ch.swept) > 0 {
				t.Errorf("removed %v, swept %v after a failed confirmation", ch.removed, ch.swept)
			}
			fx.assertUnlockedNoTemps(t)
		})
	}
}

// serialHost also says which certificate it presents (a TLS handshake).
type serialHost struct {
	*certHost
	serial string
}

func (h *serialHost) ServedCertSerial(context.Context, string) (string, error) { return h.serial, nil }

type serialFleet struct {
	*fakeFleet
	host *serialHost
}

func (f serialFleet) Host(ctx context.Context, name string) (Host, error) {
	if name == "hub-2" {
		if _, err := f.fakeFleet.Host(ctx, name); err != nil {
			return nil, err
		}
		return f.host, nil
	}
	return f.fakeFleet.Host(ctx, name)
}

// Two certificates of one issuance period end at the same time (a CA rotation's reissue): where
// the host reads the certificate presented, its serial confirms the new one, and a server that
// presents another serial with the same end fails the unit, which is rolled back.
func TestApply_CertConfirmedBySerial(t *testing.T) {
	end := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, serial string
		ok           bool
	}{{"new serial", "bb", true}, {"old serial, same end", "aa", false}} {
		t.Run(c.name, func(t *testing.T) {
			fx := newApplyFixture(t, "lab", plantest.Converged)
			const cfg = "/etc/nats/nats-server.conf"
			fx.fleet.hosts["hub-2"].files[cfg] = []byte("# old\n" + string(fx.fleet.hosts["hub-2"].files[cfg]))
			fx.fleet.hosts["hub-2"].digest = "sha256:" + plantest.SHA(fx.fleet.hosts["hub-2"].files[cfg])
			p, probes := fx.plan(t)
			u := p.Unit("hub-2/nats-server")
			u.Cert = &plan.CertChange{To: "/etc/nats/tls/hub-2-bb.pem", NotAfter: end, Serial: "bb"}
			h := &serialHost{certHost: &certHost{fakeHost: fx.fleet.hosts["hub-2"], served: end}, serial: c.serial}
			replan := func(facts map[string]plan.Facts) (*plan.Plan, error) { return p, nil }
			_, err := Apply(context.Background(), Target{Plan: p, Probes: probes, Replan: replan},
				serialFleet{fx.fleet, h}, fx.gates, Options{GateTimeout: time.Second, ConfirmTimeout: 300 * time.Millisecond})
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "presents serial aa, want bb") {
				t.Fatalf("err %v, want the other serial rolled back", err)
			}
		})
	}
}
