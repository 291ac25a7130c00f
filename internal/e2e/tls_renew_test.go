package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// renewTLS gives the lab inventory the managed fleet CA with a 45-day renewal window.
func renewTLS(src string) string {
	return strings.Replace(src, "js_domain = \"hub\"\n", "js_domain = \"hub\"\n  tls {\n    ca           = \"managed\"\n    renew_before = \"45d\"\n  }\n", 1)
}

// TestTLS_Renew deploys a lab lattice (3 hubs, 1 edge) with the managed CA as it would have
// been 52 days ago (the inventory's clock, read once at load): its 90-day certificates end
// between 8 and 38 days from now, within renew_before (45 days). With a KV writer and reader
// through the leaf, a plan at the real time renews every hub by reload; asserted: the plan says
// renew from the certificate each hub serves, no acknowledged write is lost, each hub keeps its
// nats-server process and every route and leaf connection (same ids and start times in /routez
// and /leafz), /varz serves the new certificate on every port, the previous certificate files
// (and an older one left behind) are gone, and a plan afterwards is empty.
func TestTLS_Renew(t *testing.T) {
	began := time.Now()
	env := labtest.Up(t, labtest.Spec{Edges: 1, Edit: renewTLS})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	past := time.Now().Add(-52 * 24 * time.Hour)
	inv, diags := inventory.Load(env.Path, inventory.Options{Now: past})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	fs, err := fleet.NewSession(inv, plan.Options{}, remote.Options{AgentSocket: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	old := &session{Session: fs, t: t}
	if res, err := old.apply(ctx, old.plan(ctx)); err != nil || res.VerifyError != "" {
		t.Fatalf("apply 52 days ago: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}

	s := newSession(t, env, plan.Options{})
	mons := map[string]*natsmon.Client{}
	for _, tg := range s.Fleet.Targets(ctx) {
		if tg.Err != nil {
			t.Fatal(tg.Err)
		}
		if tg.Host.Hub != nil {
			mons[tg.Host.Name] = natsmon.New(tg.Host.Hub.LocalMonitorAddr(), tg.Dial, natsmon.Options{})
		}
	}
	type before struct{ pid, conns, files string }
	was := map[string]before{}
	for _, h := range s.Inv.Hubs() {
		v, err := mons[h.Name].Varz(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(v.TLSCertNotAfter); left <= 0 || left >= 45*24*time.Hour {
			t.Fatalf("%s serves a certificate until %s: not within the renewal window", h.Name, v.TLSCertNotAfter)
		}
		was[h.Name] = before{pid: hubPID(t, ctx, env, h.Name), conns: hubConns(t, ctx, mons[h.Name]), files: tlsFiles(t, ctx, env, h.Name)}
		t.Logf("%s before: pid %s, certificate until %s, files %s\n  connections %s", h.Name, was[h.Name].pid,
			v.TLSCertNotAfter.UTC().Format(time.RFC3339), was[h.Name].files, was[h.Name].conns)
	}

	// A certificate replaced before latticepush removed previous ones, left behind.
	for _, h := range s.Inv.Hubs() {
		if b, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", "cd /etc/nats/tls && touch "+h.Name+"-0123abcd.pem "+h.Name+"-0123abcd.key"); err != nil {
			t.Fatalf("%s: %v %s", h.Name, err, b)
		}
		if f := tlsFiles(t, ctx, env, h.Name); !strings.Contains(f, h.Name+"-0123abcd.key") {
			t.Fatalf("%s: no file left behind planted: %s", h.Name, f)
		}
	}
	l := startLoad(t, ctx, env, "edge-1")
	time.Sleep(2 * time.Second)
	p := s.plan(ctx)
	want := map[string]time.Time{}
	for _, u := range p.Units {
		if u.Role != plan.RoleHub || u.Service != plan.ServiceNATS {
			if u.Changes() {
				t.Errorf("%s: %s %v, want no change", u.ID(), u.Action, u.Reasons)
			}
			continue
		}
		if u.Action != plan.Reload || u.Cert == nil || !u.Cert.Renew || len(u.Cert.Remove) != 2 ||
			!strings.HasPrefix(u.Reasons[0], plan.ReasonRenew+":") {
			t.Fatalf("%s: %s %v cert %+v, want a reload that renews", u.ID(), u.Action, u.Reasons, u.Cert)
		}
		want[u.Host] = u.Cert.NotAfter
		t.Logf("plan %s: %s", u.ID(), strings.Join(u.Reasons, "; "))
	}
	applyStart := time.Now()
	res, err := s.apply(ctx, p)
	if err != nil || res.VerifyError != "" {
		t.Fatalf("apply the renewal: %v %s\nresults: %v", err, res.VerifyError, results(res))
	}
	applyTook := time.Since(applyStart)
	time.Sleep(2 * time.Second)
	st := l.stop()
	missing, wrong := l.check(t, ctx)
	t.Logf("renewal under load (apply %s): %d writes acknowledged, %d write errors, longest write unavailability %s, longest read unavailability %s; afterwards %d acknowledged writes missing, %d wrong",
		applyTook.Round(100*time.Millisecond), st.acked, st.writeErrs, st.writeGap.Round(time.Millisecond), st.readGap.Round(time.Millisecond), missing, wrong)
	if st.acked == 0 || st.readOK == 0 {
		t.Fatal("the load got nothing through")
	}
	if missing+wrong+st.readWrong > 0 {
		t.Errorf("lost or wrong: %d missing, %d wrong after, %d wrong reads during", missing, wrong, st.readWrong)
	}

	for _, h := range s.Inv.Hubs() {
		v, err := mons[h.Name].Varz(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.CertNotAfter().Equal(want[h.Name]) {
			t.Errorf("%s serves a certificate until %s (the earliest of its ports), want the new one's %s", h.Name, v.CertNotAfter(), want[h.Name])
		}
		if pid := hubPID(t, ctx, env, h.Name); pid != was[h.Name].pid {
			t.Errorf("%s: nats-server pid %s, was %s: not a reload", h.Name, pid, was[h.Name].pid)
		}
		if c := hubConns(t, ctx, mons[h.Name]); c != was[h.Name].conns {
			t.Errorf("%s: connections changed (a reconnect):\n  before %s\n  after  %s", h.Name, was[h.Name].conns, c)
		}
		files := tlsFiles(t, ctx, env, h.Name)
		for _, f := range strings.Fields(was[h.Name].files) {
			if strings.HasPrefix(f, h.Name+"-") && strings.Contains(" "+files+" ", " "+f+" ") {
				t.Errorf("%s: the previous certificate file %s is still there (%s)", h.Name, f, files)
			}
		}
		if strings.Contains(files, "0123abcd") || len(strings.Fields(files)) != 3 {
			t.Errorf("%s: TLS files %s, want the CA, the new certificate and its key", h.Name, files)
		}
		t.Logf("%s after: same pid, same connections, certificate until %s, files %s", h.Name, v.TLSCertNotAfter.UTC().Format(time.RFC3339), files)
	}
	if p := newSession(t, env, plan.Options{}).plan(ctx); p.HasChanges() {
		t.Errorf("a plan after the renewal has changes: %v", actions(p))
	}
	t.Logf("TestTLS_Renew took %s", time.Since(began).Round(time.Second))
}

func hubPID(t *testing.T, ctx context.Context, env *labtest.Env, host string) string {
	t.Helper()
	b, err := env.Lab.Exec(ctx, host, "cat", "/run/nats-server.pid")
	if err != nil {
		t.Fatalf("%s: pid file: %v", host, err)
	}
	return strings.TrimSpace(string(b))
}

func tlsFiles(t *testing.T, ctx context.Context, env *labtest.Env, host string) string {
	t.Helper()
	b, err := env.Lab.Exec(ctx, host, "ls", "/etc/nats/tls")
	if err != nil {
		t.Fatalf("%s: ls /etc/nats/tls: %v %s", host, err, b)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// hubConns names every route and leaf connection of a hub by its id and start time (/routez,
// /leafz): a reconnect gives a connection a new id.
func hubConns(t *testing.T, ctx context.Context, c *natsmon.Client) string {
	t.Helper()
	var rz struct {
		Routes []struct {
			Rid        uint64    `json:"rid"`
			RemoteName string    `json:"remote_name"`
			Start      time.Time `json:"start"`
		} `json:"routes"`
	}
	var lz struct {
		Leafs []struct {
			ID   uint64 `json:"id"`
			Name string `json:"name"`
		} `json:"leafs"`
	}
	for path, v := range map[string]any{natsmon.PathRoutez: &rz, natsmon.PathLeafz: &lz} {
		r, err := c.Get(ctx, path)
		if err == nil {
			err = r.Decode(v)
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var out []string
	for _, r := range rz.Routes {
		out = append(out, fmt.Sprintf("route %d %s %s", r.Rid, r.RemoteName, r.Start.Format(time.RFC3339Nano)))
	}
	for _, l := range lz.Leafs {
		out = append(out, fmt.Sprintf("leaf %d %s", l.ID, l.Name))
	}
	sort.Strings(out)
	if len(rz.Routes) == 0 {
		t.Fatalf("no routes in /routez")
	}
	return strings.Join(out, ", ")
}
