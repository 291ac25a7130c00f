package inventory

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// tlsBlock is `lattice { tls { ... } }` as written: either ca = "managed", or the operator's
// own files (ca_file, and cert_file/key_file evaluated once per hub and relay with `host` set
// to its name, e.g. "certs/${host}.pem").
type tlsBlock struct {
	CA       *string        `hcl:"ca,optional"`
	Validity *string        `hcl:"validity,optional"`
	Renew    *string        `hcl:"renew_before,optional"`
	Links    *string        `hcl:"links,optional"`
	CAFile   *string        `hcl:"ca_file,optional"`
	CertFile hcl.Expression `hcl:"cert_file,optional"`
	KeyFile  hcl.Expression `hcl:"key_file,optional"`

	DeclRange     hcl.Range `hcl:",def_range"`
	CARange       hcl.Range `hcl:"ca,attr_range"`
	ValidityRange hcl.Range `hcl:"validity,attr_range"`
	RenewRange    hcl.Range `hcl:"renew_before,attr_range"`
	CAFileRange   hcl.Range `hcl:"ca_file,attr_range"`
	LinksRange    hcl.Range `hcl:"links,attr_range"`
}

// Managed is the value of `tls { ca = ... }` that makes latticepush the fleet's CA.
const Managed = "managed"

// SecretCAKey is the name of the managed CA's private key in the secrets file.
const SecretCAKey = "ca.key"

// RetiringCAKeyName is the name of the key of the CA a rotation replaces.
const RetiringCAKeyName = "retiring_ca.key"

// DefaultCertValidity is how long a managed host certificate is valid.
const DefaultCertValidity = 90 * 24 * time.Hour

// DefaultRenewBefore is the default renewal window (tls renew_before).
const DefaultRenewBefore = 30 * 24 * time.Hour

// CertWarnBefore is how close to its expiry a certificate is reported (validate, verify).
const CertWarnBefore = 30 * 24 * time.Hour

// TLS is the lattice's TLS: every route of the hub cluster and of relay clusters (mutual TLS),
// every leafnode listener (hubs' and relays') and remote, and the hubs' client port. Nil in an
// inventory without a tls block: every link plaintext.
type TLS struct {
	// Managed: latticepush is the CA (its key and certificate in the secrets file) and issues
	// each hub's and relay's certificate when it renders.
	Managed bool
	// Validity of a managed host certificate (default 90 days); a new one is issued each
	// third of it.
	Validity time.Duration
	// RenewBefore is the renewal window: plan renews a certificate a hub serves that expires
	// within it (default DefaultRenewBefore, at most two thirds of Validity, what a newly
	// issued managed certificate has left at least).
	RenewBefore time.Duration
	// Now is the clock certificates are issued and checked against, read once at load.
	Now time.Time
	// RoutesOnly (links = "routes") is the first step of moving a running plaintext fleet:
	// TLS on routes only (the hub cluster's and relay clusters') and on the hubs' client ports;
	// every leaf link, a relay's included, still plaintext. A reload applies it; the routes
	// made before stay plaintext until each server restarts.
	RoutesOnly bool

	// CACert is the CA certificate (PEM): the managed CA's from the secrets file, or the
	// operator's ca_file. Empty when the secrets were not loaded.
	CACert []byte
	// CAKey is the managed CA's private key (PEM). It is only ever used to sign, on the
	// operator's machine.
	CAKey Secret
	// RetiringCACert and RetiringCAKey are the CA a rotation replaces (`latticepush secrets
	// --rotate ca.key`), kept until every server serves a certificate of the new one: the
	// servers trust both meanwhile. Empty when no CA rotation is recorded.
	RetiringCACert []byte
	RetiringCAKey  Secret
	// Hosts holds the operator-supplied certificate and key of each hub and relay, by host name.
	Hosts map[string]*HostCert

	DeclRange hcl.Range
}

// HostCert is an operator-supplied certificate with its key, read from the operator's files.
type HostCert struct {
	CertFile, KeyFile string
	CertPEM           []byte // the leaf certificate and any intermediates
	Key               Secret // PEM
	Cert              *x509.Certificate
}

// HostKeyName is the name of host's TLS private key, for placeholders and messages.
func HostKeyName(host string) string { return "tls_keys." + host }

// caSecret is the managed CA in the secrets file: {"ca": {"cert": "PEM", "key": "PEM"}}.
type caSecret struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// resolveTLS turns the lattice's tls block into inv.Lattice.TLS and, for operator-supplied
// certificates, reads and checks every hub's and relay's files: chain, names, expiry and key.
func resolveTLS(inv *Inventory, d *decoded, ctx *hcl.EvalContext, now time.Time) hcl.Diagnostics {
	b := d.fs.Lattice.TLS
	if b == nil {
		return nil
	}
	var diags hcl.Diagnostics
	errf := func(sev hcl.DiagnosticSeverity, at hcl.Range, summary, detail string, args ...any) {
		diags = append(diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: at.Ptr()})
	}
	t := &TLS{Validity: DefaultCertValidity, Now: now, DeclRange: b.DeclRange}
	inv.Lattice.TLS = t
	if b.Validity != nil {
		v, err := parseValidity(*b.Validity)
		switch {
		case err != nil:
			errf(hcl.DiagError, b.ValidityRange, "Invalid certificate validity", "validity = %q: %v. Write a number of days (\"90d\") or a duration (\"720h\").", *b.Validity, err)
		case v < 3*24*time.Hour || v > 825*24*time.Hour:
			errf(hcl.DiagError, b.ValidityRange, "Invalid certificate validity", "validity = %q: a host certificate must be valid between 3 and 825 days.", *b.Validity)
		default:
			t.Validity = v
		}
	}
	t.RenewBefore = min(DefaultRenewBefore, t.Validity*2/3)
	if b.Renew != nil {
		v, err := parseValidity(*b.Renew)
		switch {
		case err != nil:
			errf(hcl.DiagError, b.RenewRange, "Invalid renew_before", "renew_before = %q: %v. Write a number of days (\"30d\") or a duration (\"720h\").", *b.Renew, err)
		case v <= 0 || v > t.Validity*2/3:
			errf(hcl.DiagError, b.RenewRange, "Invalid renew_before", "renew_before = %q: the renewal window must be more than 0 and at most two thirds of the validity (%d days): a managed certificate is issued again each third of its validity, so a new one has two thirds left and must not be due for renewal at once.",
				*b.Renew, int((t.Validity*2/3).Hours()/24))
		default:
			t.RenewBefore = v
		}
	}
	if b.Links != nil {
		switch *b.Links {
		case "all":
		case "routes":
			t.RoutesOnly = true
		default:
			errf(hcl.DiagError, b.LinksRange, "Invalid tls links", "links = %q: \"all\" (the default: routes, leaf links and hub client ports) or \"routes\" (hub and relay cluster routes and hub client ports only: the first step of moving a running fleet to TLS, see README).", *b.Links)
		}
	}
	hasCert := exprSet(b.CertFile) || exprSet(b.KeyFile)
	switch {
	case b.CA != nil && *b.CA != Managed:
		errf(hcl.DiagError, b.CARange, "Invalid tls ca", "ca = %q: the only value is \"managed\" (latticepush is the fleet's CA). For your own CA, set ca_file, cert_file and key_file instead.", *b.CA)
		return diags
	case b.CA != nil && (b.CAFile != nil || hasCert):
		errf(hcl.DiagError, b.CARange, "Conflicting tls settings", "ca = \"managed\" issues every certificate itself: remove ca_file, cert_file and key_file, or remove ca to use your own.")
		return diags
	case b.CA != nil:
		t.Managed = true
		// The CA certificate is public: it names the hosts' files even where the secrets are
		// not loaded (render with placeholders). Its key is loaded with the secrets.
		if doc, _, err := readSecretsDoc(inv.Auth.SecretsFile); err == nil && doc.CA != nil {
			t.CACert = []byte(doc.CA.Cert)
			if doc.RetiringCA != nil {
				t.RetiringCACert = []byte(doc.RetiringCA.Cert)
			}
		}
		return diags
	case b.CAFile == nil || !exprSet(b.CertFile) || !exprSet(b.KeyFile):
		errf(hcl.DiagError, b.DeclRange, "Incomplete tls block", "Set ca = \"managed\" (latticepush issues every certificate), or all of ca_file, cert_file and key_file (your own certificates, e.g. cert_file = \"certs/${host}.pem\").")
		return diags
	}

	caPath := inv.path(*b.CAFile)
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		errf(hcl.DiagError, b.CAFileRange, "Cannot read ca_file", "%v. ca_file names the CA certificate (PEM) on this machine, relative to the inventory.", err)
		return diags
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		errf(hcl.DiagError, b.CAFileRange, "Invalid ca_file", "%s holds no PEM certificate.", caPath)
		return diags
	}
	t.CACert = caPEM
	t.Hosts = map[string]*HostCert{}
	for _, h := range CertHosts(inv) {
		hc, ds := readHostCert(inv, h, b, ctx, roots, now)
		diags = append(diags, ds...)
		if hc != nil {
			t.Hosts[h.Name] = hc
		}
	}
	return diags
}

// CertHosts are the hosts that hold a certificate of their own, in name order: the hubs and the
// relays, which accept leaf links (and routes, in a cluster). Leaves only verify their upstream.
func CertHosts(inv *Inventory) []*Host {
	var out []*Host
	for _, h := range inv.Hosts {
		if h.Hub != nil || h.IsRelay() {
			out = append(out, h)
		}
	}
	return out
}

func exprSet(e hcl.Expression) bool {
	if e == nil {
		return false
	}
	v, diags := e.Value(nil)
	return diags.HasErrors() || !v.IsNull()
}

// hostPath evaluates cert_file or key_file for host h (`host` is its name).
func hostPath(inv *Inventory, e hcl.Expression, ctx *hcl.EvalContext, h *Host) (string, hcl.Diagnostics) {
	c := ctx.NewChild()
	c.Variables = map[string]cty.Value{"host": cty.StringVal(h.Name)}
	v, diags := e.Value(c)
	if diags.HasErrors() {
		return "", diags
	}
	if v.IsNull() || !v.Type().Equals(cty.String) || !v.IsKnown() {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid certificate path",
			Detail: "cert_file and key_file are strings, e.g. \"certs/${host}.pem\".", Subject: e.Range().Ptr()}}
	}
	return inv.path(v.AsString()), nil
}

func (inv *Inventory) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(inv.Dir, p)
}

// readHostCert reads hub or relay h's certificate and key and checks them: the certificate
// chains to the CA for server and client use (routes are mutual TLS), names the host's address and
// name, is valid now (a warning within CertWarnBefore of its end), and the key is its key.
func readHostCert(inv *Inventory, h *Host, b *tlsBlock, ctx *hcl.EvalContext, roots *x509.CertPool, now time.Time) (*HostCert, hcl.Diagnostics) {
	certPath, diags := hostPath(inv, b.CertFile, ctx, h)
	keyPath, d := hostPath(inv, b.KeyFile, ctx, h)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	certAt, keyAt := b.CertFile.Range(), b.KeyFile.Range()
	bad := func(at hcl.Range, summary, detail string, args ...any) (*HostCert, hcl.Diagnostics) {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
			Detail: h.Name + ": " + fmt.Sprintf(detail, args...), Subject: at.Ptr()})
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return bad(certAt, "Cannot read certificate", "%v.", err)
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return bad(certAt, "Invalid certificate", "%s: %v.", certPath, err)
	}
	cert := certs[0]
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return bad(keyAt, "Cannot read private key", "%v.", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return bad(keyAt, "Invalid private key", "%s: %v (the key itself is never printed).", keyPath, err)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	switch {
	case now.After(cert.NotAfter):
		return bad(certAt, "Certificate expired", "%s expired on %s. Issue a new certificate for %s.", certPath, cert.NotAfter.UTC().Format(time.RFC3339), h.Name)
	case now.Before(cert.NotBefore):
		return bad(certAt, "Certificate not yet valid", "%s is valid only from %s.", certPath, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return bad(certAt, "Certificate does not chain to ca_file", "%s: %v. The hubs, relays and leaves trust only ca_file's CA.", certPath, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return bad(certAt, "Certificate not usable for client authentication", "%s: %v. Hub and relay cluster routes are mutual TLS: the certificate needs the extended key usages serverAuth and clientAuth.", certPath, err)
	}
	for _, name := range []string{h.Address, h.Name} {
		if err := cert.VerifyHostname(name); err != nil {
			return bad(certAt, "Certificate does not name the host", "%s does not name %q (its names: %s). Leaves and routed peers dial %s at %s: issue the certificate with that name.",
				certPath, name, strings.Join(certNames(cert), ", "), h.Name, h.Address)
		}
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		return bad(keyAt, "Private key does not match the certificate", "%s is not the key of %s.", keyPath, certPath)
	}
	if left := cert.NotAfter.Sub(now); left < CertWarnBefore {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Certificate expires soon",
			Detail: fmt.Sprintf("%s: %s expires on %s, in %d days. Issue a new one before then.", h.Name, certPath,
				cert.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24)), Subject: certAt.Ptr()})
	}
	return &HostCert{CertFile: certPath, KeyFile: keyPath, CertPEM: certPEM, Cert: cert,
		Key: NewSecret(HostKeyName(h.Name), string(keyPEM), "file "+keyPath)}, diags
}

func certNames(c *x509.Certificate) []string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = []string{"none"}
	}
	return names
}

func parseCerts(raw []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, raw = pem.Decode(raw)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// parseKey reads a PEM private key: PKCS#8, SEC 1 (EC) or PKCS#1 (RSA).
func parseKey(raw []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, raw = pem.Decode(raw)
		if blk == nil {
			return nil, errors.New("no PEM private key")
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, errors.New("not a valid private key")
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("unsupported key type")
		}
		return s, nil
	}
}

// ParseCAKey reads the managed CA's key (PEM, SEC 1).
func ParseCAKey(s Secret) (*ecdsa.PrivateKey, error) {
	k, err := parseKey([]byte(s.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not an ECDSA P-256 key", s.Name())
	}
	return ek, nil
}

// ParseCACert reads the CA certificate (the first PEM certificate).
func ParseCACert(pemBytes []byte) (*x509.Certificate, error) {
	cs, err := parseCerts(pemBytes)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

func parseValidity(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, errors.New("not a number of days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// newCA creates the managed CA: an ECDSA P-256 key and a self-signed certificate valid for 10
// years, allowed to sign host certificates only (path length 0).
func newCA(lattice string, now time.Time) (*caSecret, error) {
	return newCANamed("latticepush CA for lattice "+lattice, now)
}

// newCANamed is newCA with the certificate's subject name. A rotation's CA carries its date in
// it: a server asks for a client certificate by its CAs' names, which must tell the two apart.
func newCANamed(name string, now time.Time) (*caSecret, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &caSecret{
		Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})),
	}, nil
}

// loadCA fills the managed CA from the secrets file; it returns the names missing.
func loadCA(inv *Inventory, ca, old *caSecret, source string) (missing []string, diags hcl.Diagnostics) {
	t := inv.Lattice.TLS
	if t == nil || !t.Managed {
		return nil, nil
	}
	if ca == nil || ca.Key == "" || ca.Cert == "" {
		return []string{SecretCAKey}, nil
	}
	at := secretsKeyRange(inv.Auth.SecretsFile, "ca", "key")
	t.CAKey = NewSecret(SecretCAKey, ca.Key, source)
	t.CACert = []byte(ca.Cert)
	if old != nil {
		t.RetiringCAKey = NewSecret(RetiringCAKeyName, old.Key, source)
		t.RetiringCACert = []byte(old.Cert)
		if k, err := ParseCAKey(t.RetiringCAKey); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unusable retiring fleet CA",
				Detail:  fmt.Sprintf("%s: %v. The retiring CA is the one a CA rotation replaces: put back the secrets file from before the rotation.", inv.Auth.SecretsFile, err),
				Subject: &at})
		} else if c, err := ParseCACert(t.RetiringCACert); err != nil || !k.Public().(*ecdsa.PublicKey).Equal(c.PublicKey) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unusable retiring fleet CA",
				Detail:  fmt.Sprintf("%s: retiring_ca.cert is not the certificate of retiring_ca.key. Put back the secrets file from before the rotation.", inv.Auth.SecretsFile),
				Subject: &at})
		}
	}
	k, err := ParseCAKey(t.CAKey)
	if err == nil {
		var c *x509.Certificate
		if c, err = ParseCACert(t.CACert); err == nil && !k.Public().(*ecdsa.PublicKey).Equal(c.PublicKey) {
			err = errors.New("ca.cert is not the certificate of ca.key")
		}
		if err == nil && t.Now.After(c.NotAfter) {
			err = fmt.Errorf("the CA certificate expired on %s", c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unusable fleet CA",
			Detail: fmt.Sprintf("%s: %v. Remove the \"ca\" entry and run `latticepush secrets %s` to create a new CA (every host then gets new certificates).",
				inv.Auth.SecretsFile, err, inv.Filename), Subject: &at})
	}
	return nil, diags
}

// IsIP reports whether address is an IP address (else a DNS name).
func IsIP(address string) bool { return net.ParseIP(address) != nil }

// Pool is the fleet CA as a certificate pool, for clients that verify a hub.
func (t *TLS) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(t.CACert)
	p.AppendCertsFromPEM(t.RetiringCACert) // a CA rotation: servers serve either until it ends
	return p
}

// ClientCertificate is a certificate latticepush presents where a hub or relay requires one
// (its cluster port, mutual TLS): with the managed CA a short-lived one issued for the purpose,
// with operator-supplied certificates h's own.
// During a CA rotation it is the new CA's, then one of the retiring CA too: a TLS client
// given both presents the one whose CA the server names in its request.
func (t *TLS) ClientCertificates(h *Host) ([]tls.Certificate, error) {
	c, err := t.ClientCertificate(h)
	if err != nil || !t.Managed || len(t.RetiringCACert) == 0 {
		return []tls.Certificate{c}, err
	}
	old := *t
	old.CACert, old.CAKey, old.RetiringCACert = t.RetiringCACert, t.RetiringCAKey, nil
	oc, err := old.ClientCertificate(h)
	if err != nil {
		return nil, err
	}
	return []tls.Certificate{c, oc}, nil
}

// ClientCertificate is ClientCertificates' first: the current CA's.
func (t *TLS) ClientCertificate(h *Host) (tls.Certificate, error) {
	if !t.Managed {
		hc := t.Hosts[h.Name]
		if hc == nil {
			return tls.Certificate{}, fmt.Errorf("no certificate for %s", h.Name)
		}
		return tls.X509KeyPair(hc.CertPEM, []byte(hc.Key.Reveal()))
	}
	caKey, err := ParseCAKey(t.CAKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca, err := ParseCACert(t.CACert)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: "latticepush check"},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// RotateCA creates a new managed CA in the secrets file and keeps the current one as
// retiring: plan then trusts both on every server, issues every certificate from the new one,
// and drops the old one (README, TLS).
func RotateCA(inv *Inventory) (oldSerial, newSerial string, err error) {
	path := inv.Auth.SecretsFile
	if t := inv.Lattice.TLS; t == nil || !t.Managed {
		return "", "", fmt.Errorf("%s cannot be rotated: the inventory has no managed CA (tls { ca = \"managed\" }); with your own CA, replace ca_file and the certificates yourself", SecretCAKey)
	}
	doc, _, err := readSecretsDoc(path)
	if err != nil {
		return "", "", fmt.Errorf("%w; nothing was changed", err)
	}
	if doc.CA == nil || doc.CA.Key == "" {
		return "", "", fmt.Errorf("%s has no %s to rotate: run `latticepush secrets %s` first", path, SecretCAKey, inv.Filename)
	}
	if doc.RetiringCA != nil {
		return "", "", fmt.Errorf("%s already records a rotation of %s: plan and apply until plan shows it complete, "+
			"then run `latticepush secrets --finish-rotation %s %s` before rotating again. Nothing was changed", path, SecretCAKey, SecretCAKey, inv.Filename)
	}
	old, err := ParseCACert([]byte(doc.CA.Cert))
	if err != nil {
		return "", "", fmt.Errorf("%s: the CA certificate: %v; nothing was changed", path, err)
	}
	now := time.Now().UTC()
	ca, err := newCANamed("latticepush CA for lattice "+inv.Lattice.Name+", "+now.Format("2006-01-02T15:04:05Z"), now)
	if err != nil {
		return "", "", err
	}
	nc, _ := ParseCACert([]byte(ca.Cert))
	doc.RetiringCA, doc.CA = doc.CA, ca
	if err := writeSecretsDoc(path, doc); err != nil {
		return "", "", err
	}
	return CASerial(old), CASerial(nc), nil
}

// FinishCARotation forgets the retiring CA. Plan refuses afterwards while a server still
// serves a certificate of it, so finishing early changes nothing on the fleet.
func FinishCARotation(inv *Inventory) (oldSerial string, err error) {
	path := inv.Auth.SecretsFile
	doc, _, err := readSecretsDoc(path)
	if err != nil {
		return "", fmt.Errorf("%w; nothing was changed", err)
	}
	if doc.RetiringCA == nil {
		return "", fmt.Errorf("%s records no rotation of %s; nothing was changed", path, SecretCAKey)
	}
	if c, err := ParseCACert([]byte(doc.RetiringCA.Cert)); err == nil {
		oldSerial = CASerial(c)
	}
	doc.RetiringCA = nil
	if err := writeSecretsDoc(path, doc); err != nil {
		return "", err
	}
	return oldSerial, nil
}

// CASerial is a CA certificate's serial as files and messages name it (lower-case hex).
func CASerial(c *x509.Certificate) string { return strings.ToLower(c.SerialNumber.Text(16)) }
