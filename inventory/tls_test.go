package inventory

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var tlsTestNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: tlsTestNow.AddDate(-1, 0, 0), NotAfter: tlsTestNow.AddDate(5, 0, 0), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCA{c, k}
}

type certSpec struct {
	names       []string
	notAfter    time.Time
	usages      []x509.ExtKeyUsage
	otherKey    bool
	otherIssuer bool
}

// issue writes dir/certs/<host>.pem and .key.
func (ca testCA) issue(t *testing.T, dir, host string, s certSpec) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		NotBefore: tlsTestNow.AddDate(0, -1, 0), NotAfter: s.notAfter, ExtKeyUsage: s.usages, KeyUsage: x509.KeyUsageDigitalSignature}
	for _, n := range s.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	signer := ca
	if s.otherIssuer {
		signer = newTestCA(t)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer.cert, k.Public(), signer.key)
	if err != nil {
		t.Fatal(err)
	}
	if s.otherKey {
		k, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	write(t, filepath.Join(dir, "certs", host+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(t, filepath.Join(dir, "certs", host+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

const operatorTLS = `lattice "default" {
  js_domain = "hub"
  tls {
    ca_file   = "ca.pem"
    cert_file = "certs/${host}.pem"
    key_file  = "certs/${host}.key"
  }
}

role "hub" {
  nats {
    max_file_store   = "1GB"
    max_memory_store = "1GB"
  }
}

host "hub-1" {
  address = "10.0.0.11"
  roles   = ["hub"]
}

host "hub-2" {
  address = "10.0.0.12"
  roles   = ["hub"]
}

host "hub-3" {
  address = "10.0.0.13"
  roles   = ["hub"]
}

host "relay-1" {
  address = "10.0.0.31"
  roles   = ["relay"]
}

host "edge-1" {
  address = "10.0.0.41"
  roles   = ["leaf"]
  nats {
    upstream = "relay-1"
  }
}
`

// TestTLS_OperatorCertificates: validate reads each hub's and relay's certificate and key from
// the operator's files (a leaf has none) and refuses, at the cert_file or key_file line, a
// certificate that does not name the host's address, one that has expired, one of another CA,
// one without clientAuth (routes are mutual TLS) and a key that is not the certificate's; one
// that expires within 30 days is a warning. Each rule is tried on a hub and on a relay. No
// diagnostic holds the key.
func TestTLS_OperatorCertificates(t *testing.T) {
	good := func(host, addr string) certSpec {
		return certSpec{names: []string{host, addr}, notAfter: tlsTestNow.AddDate(0, 3, 0),
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	}
	hosts := map[string]string{"hub-1": "10.0.0.11", "hub-2": "10.0.0.12", "hub-3": "10.0.0.13", "relay-1": "10.0.0.31"}
	for _, target := range []string{"hub-1", "relay-1"} {
		addr := hosts[target]
		for _, c := range []struct {
			name string
			edit func(*certSpec)
			want []wantDiag
		}{
			{"valid", func(*certSpec) {}, nil},
			{"wrong SAN", func(s *certSpec) { s.names = []string{target, "10.0.0.99"} },
				[]wantDiag{errorAt(5, "Certificate does not name the host", fmt.Sprintf(`certs/%s.pem does not name %q (its names: %s, 10.0.0.99)`, target, addr, target))}},
			{"expired", func(s *certSpec) { s.notAfter = tlsTestNow.Add(-time.Hour) },
				[]wantDiag{errorAt(5, "Certificate expired", fmt.Sprintf("certs/%[1]s.pem expired on 2026-12-06T11:00:00Z. Issue a new certificate for %[1]s.", target))}},
			{"expires soon", func(s *certSpec) { s.notAfter = tlsTestNow.Add(10 * 24 * time.Hour) },
				[]wantDiag{{hcl.DiagWarning, "Certificate expires soon", 5, fmt.Sprintf("certs/%s.pem expires on 2026-12-16T12:00:00Z, in 10 days", target)}}},
			{"key mismatch", func(s *certSpec) { s.otherKey = true },
				[]wantDiag{errorAt(6, "Private key does not match the certificate", fmt.Sprintf("certs/%s.key is not the key of ", target))}},
			{"other CA", func(s *certSpec) { s.otherIssuer = true },
				[]wantDiag{errorAt(5, "Certificate does not chain to ca_file", "certificate signed by unknown authority")}},
			{"server only", func(s *certSpec) { s.usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} },
				[]wantDiag{errorAt(5, "Certificate not usable for client authentication", "serverAuth and clientAuth")}},
		} {
			t.Run(target+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				ca := newTestCA(t)
				write(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
				for h, a := range hosts {
					s := good(h, a)
					if h == target {
						c.edit(&s)
					}
					ca.issue(t, dir, h, s)
				}
				path := filepath.Join(dir, "inventory.hcl")
				write(t, path, []byte(operatorTLS))
				inv, diags := Load(path, Options{SkipSecrets: true, Now: tlsTestNow})
				checkDiags(t, path, diags, c.want...)
				for _, d := range diags {
					if !strings.HasPrefix(d.Detail, target+": ") {
						t.Errorf("diagnostic does not name %s first: %s", target, d.Detail)
					}
				}
				key, _ := os.ReadFile(filepath.Join(dir, "certs", target+".key"))
				body := strings.Split(string(key), "\n")[1]
				for _, d := range diags {
					if strings.Contains(d.Detail, body) {
						t.Errorf("a diagnostic holds the key: %s", d.Detail)
					}
				}
				if c.want == nil {
					if inv == nil || len(inv.Lattice.TLS.Hosts) != 4 || inv.Lattice.TLS.Managed || inv.Lattice.TLS.Hosts["edge-1"] != nil {
						t.Fatalf("valid operator certificates not loaded: %+v", inv)
					}
					if s := inv.Lattice.TLS.Hosts[target].Key.String(); s != Redacted {
						t.Errorf("the key prints as %q", s)
					}
				}
			})
		}
	}
}

// TestTLS_Block: the tls block's own rules.
func TestTLS_Block(t *testing.T) {
	for _, c := range []struct {
		block string
		want  wantDiag
	}{
		{`tls { ca = "self" }`, errorAt(3, "Invalid tls ca", `the only value is "managed"`)},
		{`tls {
    ca    = "managed"
    links = "leaves"
  }`, errorAt(5, "Invalid tls links", `"all" (the default`)},
		{`tls { ca_file = "ca.pem" }`, errorAt(3, "Incomplete tls block", `cert_file = "certs/${host}.pem"`)},
		{`tls {
    ca        = "managed"
    cert_file = "x.pem"
  }`, errorAt(4, "Conflicting tls settings", "remove ca_file, cert_file and key_file")},
		{`tls {
    ca       = "managed"
    validity = "1d"
  }`, errorAt(5, "Invalid certificate validity", "between 3 and 825 days")},
		{`tls {
    ca           = "managed"
    renew_before = "61d"
  }`, errorAt(5, "Invalid renew_before", "at most two thirds of the validity (60 days)")},
		{`tls {
    ca           = "managed"
    validity     = "30d"
    renew_before = "soon"
  }`, errorAt(6, "Invalid renew_before", `Write a number of days ("30d")`)},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "inventory.hcl")
		src := strings.Replace(operatorTLS, `tls {
    ca_file   = "ca.pem"
    cert_file = "certs/${host}.pem"
    key_file  = "certs/${host}.key"
  }`, c.block, 1)
		write(t, path, []byte(src))
		_, diags := Load(path, Options{SkipSecrets: true, Now: tlsTestNow})
		checkDiags(t, path, diags, c.want)
	}
}

// TestTLS_ManagedSecrets: `latticepush secrets` adds the fleet CA (an ECDSA P-256 key and a
// CA certificate) once, reports it by name only, and a load without it misses ca.key.
func TestTLS_ManagedSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.hcl")
	src := strings.Replace(operatorTLS, `tls {
    ca_file   = "ca.pem"
    cert_file = "certs/${host}.pem"
    key_file  = "certs/${host}.key"
  }`, `tls { ca = "managed" }`, 1)
	write(t, path, []byte(src))
	write(t, filepath.Join(dir, "secrets.json"), []byte(`{"passwords": {}, "host_seeds": {}}`))
	_, diags := Load(path, Options{SecretsOptional: true, Now: tlsTestNow})
	if !strings.Contains(diags.Error(), "ca.key") {
		t.Errorf("missing CA not reported: %s", diags.Error())
	}
	inv, diags := Load(path, Options{SkipSecrets: true, Now: tlsTestNow})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	added, err := GenerateSecrets(inv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(added, ","), SecretCAKey) {
		t.Fatalf("added %v", added)
	}
	again, _ := GenerateSecrets(inv, Options{})
	if len(again) != 0 {
		t.Errorf("second run added %v", again)
	}
	inv, diags = Load(path, Options{Now: tlsTestNow})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	k, err := ParseCAKey(inv.Lattice.TLS.CAKey)
	if err != nil || k.Curve != elliptic.P256() {
		t.Fatalf("CA key: %v", err)
	}
	c, err := ParseCACert(inv.Lattice.TLS.CACert)
	if err != nil || !c.IsCA || !k.PublicKey.Equal(c.PublicKey) {
		t.Fatalf("CA certificate: %v", err)
	}
	if inv.Lattice.TLS.CAKey.String() != Redacted {
		t.Error("the CA key prints")
	}
}

// TestTLS_RenewBefore: the renewal window defaults to 30 days, to two thirds of a shorter
// validity (what a new certificate has left at least), and takes renew_before.
func TestTLS_RenewBefore(t *testing.T) {
	for _, c := range []struct {
		block string
		want  time.Duration
	}{
		{`tls { ca = "managed" }`, 30 * 24 * time.Hour},
		{"tls {\n    ca       = \"managed\"\n    validity = \"30d\"\n  }", 20 * 24 * time.Hour},
		{"tls {\n    ca           = \"managed\"\n    renew_before = \"45d\"\n  }", 45 * 24 * time.Hour},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "inventory.hcl")
		write(t, path, []byte(strings.Replace(operatorTLS, `tls {
    ca_file   = "ca.pem"
    cert_file = "certs/${host}.pem"
    key_file  = "certs/${host}.key"
  }`, c.block, 1)))
		inv, diags := Load(path, Options{SkipSecrets: true, Now: tlsTestNow})
		if diags.HasErrors() {
			t.Fatalf("%s: %v", c.block, diags)
		}
		if got := inv.Lattice.TLS.RenewBefore; got != c.want {
			t.Errorf("%s: renew_before %s, want %s", c.block, got, c.want)
		}
	}
}
