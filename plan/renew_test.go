package plan

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

func testCertPEM(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "hub-1"},
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func hubConf(serial string) []byte {
	return []byte("server_name: hub-1\ntls {\n  cert_file: \"/etc/nats/tls/hub-1-" + serial + ".pem\"\n  key_file: \"/etc/nats/tls/hub-1-" +
		serial + ".key\"\n  ca_file: \"/etc/nats/tls/ca-1.pem\"\n}\n")
}

// planRenew decides from the certificate a hub serves: one that expires within renew_before
// and that the plan replaces is a renewal (the reason says renew, the unit's cert names the
// new end and the previous files to remove); a new certificate outside the window is a
// certificate change without renew; one due that the plan cannot replace (operator-supplied)
// is a warning naming the file to replace.
func TestPlanRenew(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	newEnd := now.Add(80 * day).Truncate(time.Second)
	for _, c := range []struct {
		name      string
		managed   bool
		served    time.Time
		change    bool
		wantRenew bool
		wantCert  bool
		wantWarn  string
	}{
		{"due, replaced", true, now.Add(10 * day), true, true, true, ""},
		{"not due, replaced", true, now.Add(50 * day), true, false, true, ""},
		{"due, operator-supplied, not replaced", false, now.Add(10 * day), false, false, false, "replace /inv/certs/hub-1.pem (and its key /inv/certs/hub-1.key)"},
		{"due, operator-supplied, replaced", false, now.Add(10 * day), true, true, true, ""},
		{"not due, unchanged", true, now.Add(50 * day), false, false, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl := &inventory.TLS{Managed: c.managed, Validity: 90 * day, RenewBefore: 30 * day, Now: now}
			if !c.managed {
				tl.Hosts = map[string]*inventory.HostCert{"hub-1": {CertFile: "/inv/certs/hub-1.pem", KeyFile: "/inv/certs/hub-1.key"}}
			}
			inv := &inventory.Inventory{Lattice: inventory.Lattice{TLS: tl}}
			const cfg = "/etc/nats/nats-server.conf"
			u := &Unit{Host: "hub-1", Service: ServiceNATS, Role: RoleHub, Action: Noop, WasRunning: true, ConfigPath: cfg}
			if c.change {
				u.Action = Reload
				u.Files = []FileChange{{Path: cfg, Op: "update", content: hubConf("bb")},
					{Path: "/etc/nats/tls/hub-1-bb.pem", Op: "create", content: testCertPEM(t, newEnd)}}
			}
			facts := map[string]Facts{"hub-1": {Host: "hub-1", Files: map[string]FileFact{cfg: {Exists: true, Content: hubConf("aa")}},
				NATS: &NATSFacts{TLSCertNotAfter: c.served}}}
			p := &Plan{Units: []*Unit{u}}
			planRenew(inv, facts, p)
			if (u.Cert != nil) != c.wantCert {
				t.Fatalf("cert %+v, want one: %v", u.Cert, c.wantCert)
			}
			if u.Cert != nil {
				if u.Cert.Renew != c.wantRenew || !u.Cert.NotAfter.Equal(newEnd) || !u.Cert.FromNotAfter.Equal(c.served) ||
					strings.Join(u.Cert.Remove, " ") != "/etc/nats/tls/hub-1-aa.pem /etc/nats/tls/hub-1-aa.key" ||
					u.Cert.Sweep != "/etc/nats/tls/hub-1-" || strings.Join(u.Cert.Keep, " ") != "/etc/nats/tls/hub-1-bb.pem /etc/nats/tls/hub-1-bb.key" {
					t.Errorf("cert %+v", u.Cert)
				}
				if got := strings.HasPrefix(strings.Join(u.Reasons, "|"), ReasonRenew+":"); got != c.wantRenew {
					t.Errorf("reasons %q, renew %v", u.Reasons, c.wantRenew)
				}
			}
			if sum := p.Summary(); c.wantRenew != strings.Contains(sum, "1 reload (1 renew)") {
				t.Errorf("summary %q, renew %v", sum, c.wantRenew)
			}
			warn := strings.Join(p.Warnings, "|")
			if c.wantWarn == "" && warn != "" || !strings.Contains(warn, c.wantWarn) {
				t.Errorf("warnings %q, want %q", warn, c.wantWarn)
			}
		})
	}
}

// configCert finds a server's certificate in its client tls block, else its leafnode
// listener's or cluster's; a leaf's remotes (the CA only) name none.
func TestConfigCert(t *testing.T) {
	for _, c := range []struct{ conf, cert, key string }{
		{string(hubConf("aa")), "/etc/nats/tls/hub-1-aa.pem", "/etc/nats/tls/hub-1-aa.key"},
		{"leafnodes {\n  port: 7422\n  tls {\n    cert_file: \"/t/r.pem\"\n    key_file: \"/t/r.key\"\n  }\n}\n", "/t/r.pem", "/t/r.key"},
		{"leafnodes {\n  remotes = [ { urls: [\"tls://h:7422\"], tls { ca_file: \"/t/ca.pem\" } } ]\n}\n", "", ""},
		{"not { a config", "", ""},
	} {
		if cert, key := configCert([]byte(c.conf)); cert != c.cert || key != c.key {
			t.Errorf("configCert(%q) = %q, %q; want %q, %q", c.conf, cert, key, c.cert, c.key)
		}
	}
}

// A due certificate replaced by a restart (another change needs one) is named renew too; the
// restart loads it, so nothing is left to confirm.
func TestPlanRenew_Restart(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	inv := &inventory.Inventory{Lattice: inventory.Lattice{TLS: &inventory.TLS{Managed: true, RenewBefore: 30 * 24 * time.Hour, Now: now}}}
	const cfg = "/etc/nats/nats-server.conf"
	u := &Unit{Host: "hub-1", Service: ServiceNATS, Role: RoleHub, Action: Restart, WasRunning: true, ConfigPath: cfg,
		Reasons: []string{"cluster.port changes"}, Files: []FileChange{{Path: cfg, Op: "update", content: hubConf("bb")}}}
	facts := map[string]Facts{"hub-1": {Files: map[string]FileFact{cfg: {Exists: true, Content: hubConf("aa")}},
		NATS: &NATSFacts{TLSCertNotAfter: now.Add(24 * time.Hour)}}}
	planRenew(inv, facts, &Plan{Units: []*Unit{u}})
	if u.Cert != nil || len(u.Reasons) != 2 || !strings.HasPrefix(u.Reasons[0], ReasonRenew+": ") {
		t.Errorf("cert %+v, reasons %q", u.Cert, u.Reasons)
	}
}
