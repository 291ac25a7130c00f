package plan_test

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
	"github.com/latticepush/latticepush/plan"
)

// TestTLSMove_RelayCluster: on the running tiered example, turning TLS on with restarts is
// refused for the relay cluster as for the hubs (a relay restarted with route TLS could not
// route to the other relay), naming both clusters; links = "routes" reloads every hub and relay
// (route TLS by reload, the edges untouched); and from there, every leaf link onto TLS
// restarts the relays (their leafnode listeners take TLS), which the route rule lets through:
// their routes already have it.
func TestTLSMove_RelayCluster(t *testing.T) {
	inv := loadGoldenExample(t, "tiered")
	plaintext, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	running := goldenFacts(inv, plaintext, true, inv.Lattice.JSDomain)
	build := func(facts map[string]plan.Facts) (*plan.Plan, error) {
		t.Helper()
		desired, err := plan.Render(inv)
		if err != nil {
			t.Fatal(err)
		}
		return plan.Build(inv, desired, facts, plan.Options{})
	}

	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	caCert, caKey := testCA(t, now)
	inv.Lattice.TLS = &inventory.TLS{Managed: true, Validity: inventory.DefaultCertValidity, Now: now,
		CACert: caCert, CAKey: inventory.NewSecret(inventory.SecretCAKey, string(caKey), "test")}
	_, err = build(running)
	if err == nil || !strings.Contains(err.Error(), `restart running hubs (hub-1, hub-2, hub-3) and relays of relay cluster "relays" (relay-1, relay-2) with route TLS turned on`) {
		t.Fatalf("all links onto TLS by restart: %v, want a refusal naming the hubs and the relays", err)
	}

	inv.Lattice.TLS.RoutesOnly = true
	p, err := build(running)
	if err != nil {
		t.Fatalf("links = \"routes\": %v", err)
	}
	for _, u := range p.Units {
		if u.Service != plan.ServiceNATS {
			continue
		}
		switch {
		case u.Role == plan.RoleHub || u.Role == plan.RoleRelay:
			if u.Action != plan.Reload {
				t.Errorf("links = \"routes\": %s %s, want a reload", u.ID(), u.Action)
			}
		case u.Changes():
			t.Errorf("links = \"routes\": %s %s, want no change (its leaf link stays plaintext)", u.ID(), u.Action)
		}
	}

	routes, err := plan.Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.Lattice.TLS.RoutesOnly = false
	p, err = build(goldenFacts(inv, routes, true, inv.Lattice.JSDomain))
	if err != nil {
		t.Fatalf("leaf links onto TLS with route TLS in place: %v", err)
	}
	for _, u := range p.Units {
		if u.Role == plan.RoleRelay && u.Service == plan.ServiceNATS && u.Action != plan.Restart {
			t.Errorf("%s: %s, want a restart (TLS on its leafnode listener)", u.ID(), u.Action)
		}
	}
}

// testCA is a fleet CA like the managed one: an ECDSA P-256 key and its self-signed certificate.
func testCA(t *testing.T, now time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
