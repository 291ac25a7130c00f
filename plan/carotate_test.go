package plan_test

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
	"github.com/latticepush/latticepush/unit"
)

// loadManagedLab is the lab example with the managed fleet CA.
func loadManagedLab(t *testing.T) *inventory.Inventory {
	t.Helper()
	return plantest.LoadExample(t, "lab", func(s string) string {
		return strings.Replace(s, "js_domain = \"hub\"\n", "js_domain = \"hub\"\n  tls {\n    ca = \"managed\"\n  }\n", 1)
	})
}

func caCerts(t *testing.T, pemBytes []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, pemBytes = pem.Decode(pemBytes)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// serving sets the issuer of the certificate every hub and relay presents (as a TLS handshake
// reads it) to the CA certificate's subject key ID, except for the hosts in other.
func serving(t *testing.T, inv *inventory.Inventory, facts map[string]plan.Facts, ca []byte, other map[string][]byte) map[string]plan.Facts {
	t.Helper()
	for _, h := range inventory.CertHosts(inv) {
		f := facts[h.Name]
		c := ca
		if o, ok := other[h.Name]; ok {
			c = o
		}
		n := *f.NATS
		n.TLSCertIssuer = hex.EncodeToString(caCerts(t, c)[0].SubjectKeyId)
		n.TLSCertNotAfter = inv.Lattice.TLS.Now.Add(60 * 24 * time.Hour)
		f.NATS = &n
		facts[h.Name] = f
	}
	return facts
}

func stepRender(t *testing.T, inv *inventory.Inventory, step int) plan.Desired {
	t.Helper()
	d, err := plan.RenderCAStep(inv, step)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func caRotation(p *plan.Plan) *plan.Rotation {
	for _, r := range p.Rotations {
		if r.Secret == inventory.SecretCAKey {
			return r
		}
	}
	return nil
}

// trustedBy returns the CA file a host's desired config names and the certificates in it.
func trustedBy(t *testing.T, d plan.Desired, inv *inventory.Inventory, host string) (string, []*x509.Certificate) {
	t.Helper()
	h := inv.Host(host)
	conf := string(plantest.ContentOf(d, host, h.NATS().ConfigFile))
	i := strings.Index(conf, "ca_file")
	if i < 0 {
		t.Fatalf("%s: no ca_file in\n%s", host, conf)
	}
	line := conf[i:]
	line = line[:strings.IndexByte(line, '\n')]
	file := strings.Trim(strings.TrimSpace(line[strings.IndexAny(line, ":=")+1:]), `"`)
	return path.Base(file), caCerts(t, plantest.ContentOf(d, host, file))
}

func hostCert(t *testing.T, d plan.Desired, host string) *x509.Certificate {
	t.Helper()
	for _, f := range d[host] {
		if strings.HasPrefix(path.Base(f.Path), host+"-") && strings.HasSuffix(f.Path, ".pem") {
			return caCerts(t, f.Content)[0]
		}
	}
	t.Fatalf("%s has no certificate", host)
	return nil
}

func mustBuild(t *testing.T, inv *inventory.Inventory, d plan.Desired, facts map[string]plan.Facts, opts plan.Options) *plan.Plan {
	t.Helper()
	p, err := plan.Build(inv, d, facts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func changing(p *plan.Plan) []string {
	var out []string
	for _, u := range p.Units {
		if u.Changes() {
			out = append(out, u.ID()+"="+string(u.Action))
		}
	}
	return out
}

// A CA rotation is three plans of reloads, each taken only once the fleet is observed through
// the one before: trust both CAs everywhere; certificates of the new CA; trust the new CA
// only. Then complete, and after --finish-rotation the plan is empty.
func TestCARotation_ThreeSteps(t *testing.T) {
	inv0 := loadManagedLab(t)
	d0 := render(t, inv0)
	oldCA := inv0.Lattice.TLS.CACert
	facts0 := serving(t, inv0, plantest.Converged(inv0, d0), oldCA, nil)
	if p := mustBuild(t, inv0, d0, facts0, plan.Options{}); len(changing(p)) > 0 || caRotation(p) != nil {
		t.Fatalf("converged fleet: %v, rotation %v", changing(p), caRotation(p))
	}

	oldSerial, newSerial, err := inventory.RotateCA(inv0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := inventory.RotateCA(inv0); err == nil || !strings.Contains(err.Error(), "already records a rotation of ca.key") {
		t.Fatalf("second rotation before finishing: %v", err)
	}
	inv := reload(t, inv0)
	newCA := inv.Lattice.TLS.CACert
	if string(inv.Lattice.TLS.RetiringCACert) != string(oldCA) || string(newCA) == string(oldCA) {
		t.Fatal("after rotate: the retiring CA is not the old one, or the CA did not change")
	}
	d1 := render(t, inv)

	// The probes ask for the later steps' files too.
	var probed []string
	for _, pr := range plan.Probes(inv, d1, plan.Options{}) {
		if pr.Host == "hub-1" {
			probed = pr.Files
		}
	}
	if !strings.Contains(strings.Join(probed, " "), "/ca-"+newSerial+".pem") {
		t.Fatalf("hub-1's probe does not ask for the new CA's file: %v", probed)
	}

	// Step 1: every nats-server reloads trusting both; certificates stay the old CA's.
	p1 := mustBuild(t, inv, d1, facts0, plan.Options{})
	r := caRotation(p1)
	if r == nil || r.Step != plan.CARotationTrustBoth || r.OldCA != oldSerial || r.NewCA != newSerial {
		t.Fatalf("step 1: rotation %+v", r)
	}
	for _, u := range p1.Units {
		if u.Service == plan.ServiceNATS && (u.Action != plan.Reload || u.Cert != nil) {
			t.Fatalf("step 1: %s is %s (cert %v), want a reload without a certificate change", u.ID(), u.Action, u.Cert)
		}
	}
	for _, host := range []string{"hub-1", "edge-1"} {
		name, cs := trustedBy(t, d1, inv, host)
		if name != "ca-"+newSerial+"-"+oldSerial+".pem" || len(cs) != 2 {
			t.Fatalf("step 1: %s trusts %s (%d certificates), want both CAs", host, name, len(cs))
		}
	}
	if c := hostCert(t, d1, "hub-1"); c.Issuer.String() != caCerts(t, oldCA)[0].Subject.String() {
		t.Fatalf("step 1: hub-1's certificate is issued by %s, want the old CA", c.Issuer)
	}

	// Only the hubs applied step 1: the certificates are not reissued yet.
	half := plantest.Converged(inv, d1)
	for host, f := range facts0 {
		if inv.Host(host).Hub == nil {
			half[host] = f
		}
	}
	half = serving(t, inv, half, oldCA, nil)
	if r := caRotation(mustBuild(t, inv, d1, half, plan.Options{})); r.Step != plan.CARotationTrustBoth || !strings.Contains(strings.Join(r.Waiting, " "), "edge-1 (trusts ca-") {
		t.Fatalf("step 1 on the hubs only: %+v, want step 1 again, waiting for the edges", r)
	}

	// Step 2: every server runs a config that trusts both: the hubs get certificates of the new CA.
	facts1 := serving(t, inv, digestOnly(plantest.Converged(inv, d1), "hub-1", "edge-1"), oldCA, nil)
	p2 := mustBuild(t, inv, d1, facts1, plan.Options{})
	if r := caRotation(p2); r.Step != plan.CARotationReissue || len(r.Waiting) != 3 {
		t.Fatalf("step 2: %+v, want reissue waiting for the 3 hubs", r)
	}
	for _, u := range p2.Units {
		if u.Service != plan.ServiceNATS {
			continue
		}
		switch {
		case u.Role == plan.RoleHub && (u.Action != plan.Reload || u.Cert == nil):
			t.Fatalf("step 2: hub %s is %s (cert %v), want a reload with a new certificate", u.ID(), u.Action, u.Cert)
		case u.Role != plan.RoleHub && u.Changes():
			t.Fatalf("step 2: leaf %s changes: %s %v", u.ID(), u.Action, u.Reasons)
		}
	}
	d2 := stepRender(t, inv, unit.CAReissue)
	if c := hostCert(t, d2, "hub-2"); c.Issuer.String() != caCerts(t, newCA)[0].Subject.String() {
		t.Fatalf("step 2: hub-2's certificate is issued by %s, want the new CA", c.Issuer)
	} else if got := p2.Unit("hub-2/nats-server").Cert.Serial; got != strings.ToLower(c.SerialNumber.Text(16)) {
		t.Fatalf("step 2: hub-2's reload confirms serial %q, want the new certificate's %x", got, c.SerialNumber)
	}
	if !strings.Contains(strings.Join(p2.Unit("hub-1/nats-server").Reasons, "\n"), "step 2 of 3") {
		t.Fatalf("step 2: hub-1's reasons: %v", p2.Unit("hub-1/nats-server").Reasons)
	}

	// Step 3 waits while a hub still presents a certificate of the old CA: nothing drops it.
	facts2 := plantest.Converged(inv, d2)
	for host, f := range facts1 { // the leaves' config is the same in steps 1 and 2
		if inv.Host(host).Hub == nil {
			facts2[host] = f
		}
	}
	stale := serving(t, inv, facts2, newCA, map[string][]byte{"hub-3": oldCA})
	ps := mustBuild(t, inv, d1, stale, plan.Options{})
	if r := caRotation(ps); r.Step != plan.CARotationReissue || strings.Join(r.Waiting, ",") != "hub-3 (presents a certificate of the retiring CA)" {
		t.Fatalf("hub-3 still on the old CA: %+v, want step 2 again, waiting for hub-3", r)
	}
	for _, u := range ps.Units {
		if u.Changes() && u.Role != plan.RoleHub {
			t.Fatalf("hub-3 still on the old CA: %s changes (%v): nothing may drop the old CA", u.ID(), u.Reasons)
		}
	}

	// Step 3: every hub presents a certificate of the new CA: every server drops the old one.
	facts2 = serving(t, inv, facts2, newCA, nil)
	p3 := mustBuild(t, inv, d1, facts2, plan.Options{})
	if r := caRotation(p3); r.Step != plan.CARotationDropOld || len(r.Waiting) != 0 {
		t.Fatalf("step 3: %+v", r)
	}
	d3 := stepRender(t, inv, unit.CADropOld)
	for _, u := range p3.Units {
		if u.Service == plan.ServiceNATS && u.Action != plan.Reload {
			t.Fatalf("step 3: %s is %s, want a reload", u.ID(), u.Action)
		}
	}
	for _, host := range []string{"hub-1", "edge-3"} {
		name, cs := trustedBy(t, d3, inv, host)
		if name != "ca-"+newSerial+".pem" || len(cs) != 1 || !cs[0].Equal(caCerts(t, newCA)[0]) {
			t.Fatalf("step 3: %s trusts %s (%d certificates), want the new CA only", host, name, len(cs))
		}
	}

	// Complete: nothing changes; after --finish-rotation the plan is empty still.
	facts3 := serving(t, inv, digestOnly(plantest.Converged(inv, d3), "hub-2", "edge-2"), newCA, nil)
	p4 := mustBuild(t, inv, d1, facts3, plan.Options{})
	if r := caRotation(p4); r.Step != plan.RotationComplete || len(changing(p4)) > 0 {
		t.Fatalf("after step 3: %+v, changes %v", r, changing(p4))
	}
	if old, err := inventory.FinishCARotation(inv); err != nil || old != oldSerial {
		t.Fatalf("finish: %q, %v", old, err)
	}
	inv2 := reload(t, inv)
	d4 := render(t, inv2)
	if p := mustBuild(t, inv2, d4, serving(t, inv2, plantest.Converged(inv2, d3), newCA, nil), plan.Options{}); len(changing(p)) > 0 || len(p.Rotations) > 0 {
		t.Fatalf("after finishing: %v, rotations %v", changing(p), p.Rotations)
	}
	if _, err := inventory.FinishCARotation(inv2); err == nil {
		t.Fatal("finishing twice: no error")
	}
}

// Refusals: finishing the rotation before it is complete, and a plan that leaves out a server
// still presenting a certificate of the old CA once others trust only the new one.
func TestCARotation_Refusals(t *testing.T) {
	inv0 := loadManagedLab(t)
	oldCA := inv0.Lattice.TLS.CACert
	if _, _, err := inventory.RotateCA(inv0); err != nil {
		t.Fatal(err)
	}
	inv := reload(t, inv0)
	newCA := inv.Lattice.TLS.CACert
	d1 := render(t, inv)

	// Half of step 3 applied (hub-1 and the edges trust the new CA only) while hub-3, left
	// out, presents the old CA's certificate still.
	d3 := stepRender(t, inv, unit.CADropOld)
	facts := plantest.Converged(inv, d3)
	facts1 := plantest.Converged(inv, d1)
	facts["hub-3"] = facts1["hub-3"]
	facts = serving(t, inv, facts, newCA, map[string][]byte{"hub-3": oldCA})
	_, err := plan.Build(inv, d1, facts, plan.Options{Excludes: []string{"hub-3"}})
	if err == nil || !strings.Contains(err.Error(), "hub-3, left out of this plan, still present a certificate of the retiring CA") {
		t.Fatalf("old CA dropped while hub-3 presents its certificate: %v", err)
	}
	// With hub-3 included, its reload gives it a certificate of the new CA.
	p := mustBuild(t, inv, d1, facts, plan.Options{})
	if u := p.Unit("hub-3/nats-server"); u == nil || u.Action != plan.Reload || u.Cert == nil {
		t.Fatalf("hub-3 included: %+v", u)
	}

	// --finish-rotation at step 2 (the servers present the old CA's certificates): the plan
	// would trust the new CA only.
	if _, err := inventory.FinishCARotation(inv); err != nil {
		t.Fatal(err)
	}
	inv2 := reload(t, inv)
	d := render(t, inv2)
	early := serving(t, inv, plantest.Converged(inv, d1), oldCA, nil)
	_, err = plan.Build(inv2, d, early, plan.Options{})
	if err == nil || !strings.Contains(err.Error(), "hub-1, hub-2, hub-3 present a certificate of a CA that is not the fleet CA") ||
		!strings.Contains(err.Error(), "--finish-rotation ca.key") {
		t.Fatalf("finished early: %v", err)
	}
}

// Relays hold certificates like hubs: they reload onto both CAs with everything else, get a
// certificate of the new CA in step 2 (the edges below them unchanged), and the old CA goes
// only once they present the new CA's too.
func TestCARotation_Relays(t *testing.T) {
	inv0 := plantest.LoadExample(t, "tiered", func(s string) string {
		return strings.Replace(s, "js_domain = \"hub\"\n", "js_domain = \"hub\"\n  tls {\n    ca = \"managed\"\n  }\n", 1)
	})
	oldCA := inv0.Lattice.TLS.CACert
	if _, _, err := inventory.RotateCA(inv0); err != nil {
		t.Fatal(err)
	}
	inv := reload(t, inv0)
	newCA := inv.Lattice.TLS.CACert
	d1 := render(t, inv)
	byRole := func(p *plan.Plan) map[plan.Role]string {
		out := map[plan.Role]string{}
		for _, u := range p.Units {
			if u.Service == plan.ServiceNATS && u.Changes() {
				out[u.Role] += u.Host + "=" + string(u.Action) + " "
			}
		}
		return out
	}

	facts1 := serving(t, inv, plantest.Converged(inv, d1), oldCA, nil)
	p2 := mustBuild(t, inv, d1, facts1, plan.Options{})
	if r := caRotation(p2); r.Step != plan.CARotationReissue {
		t.Fatalf("step 2: %+v", r)
	}
	got := byRole(p2)
	if got[plan.RoleRelay] != "relay-1=reload relay-2=reload " || got[plan.RoleLeaf] != "" {
		t.Fatalf("step 2 changes %v, want the relays (and hubs) reloaded, no edge", got)
	}
	if u := p2.Unit("relay-1/nats-server"); u.Cert == nil || u.Cert.Serial == "" {
		t.Fatalf("step 2: relay-1's reload confirms no new certificate: %+v", u.Cert)
	}
	d2 := stepRender(t, inv, unit.CAReissue)
	if c := hostCert(t, d2, "relay-2"); c.Issuer.String() != caCerts(t, newCA)[0].Subject.String() {
		t.Fatalf("step 2: relay-2's certificate is issued by %s, want the new CA", c.Issuer)
	}

	facts2 := plantest.Converged(inv, d2)
	stale := serving(t, inv, facts2, newCA, map[string][]byte{"relay-2": oldCA})
	if r := caRotation(mustBuild(t, inv, d1, stale, plan.Options{})); r.Step != plan.CARotationReissue ||
		strings.Join(r.Waiting, ",") != "relay-2 (presents a certificate of the retiring CA)" {
		t.Fatalf("relay-2 on the old CA: %+v, want step 2 again, waiting for relay-2", r)
	}
	p3 := mustBuild(t, inv, d1, serving(t, inv, facts2, newCA, nil), plan.Options{})
	if r := caRotation(p3); r.Step != plan.CARotationDropOld {
		t.Fatalf("step 3: %+v", r)
	}
	if got := byRole(p3); got[plan.RoleRelay] == "" || got[plan.RoleLeaf] == "" {
		t.Fatalf("step 3 changes %v, want every server reloaded", got)
	}
}
