package unit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"path"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
)

// FileTLS is a certificate, key or CA file of nats-server: a reload loads it again. Its name
// carries the certificate's serial, so a new certificate is a new file and a changed path in
// the config.
const FileTLS FileKind = "tls"

// certEpoch anchors the issuance periods of managed certificates.
var certEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// tlsFiles is what a host's nats-server config names: the CA it trusts and, on a hub or relay,
// its certificate and key. Paths are on the host, in the tls directory next to the config.
type tlsFiles struct {
	CA, Cert, Key string
	files         []File
}

// hostTLS renders the host's TLS files (nil without a tls block): the CA certificate on every
// nats-server host, a certificate and key on hubs and relays (they accept leaf links and
// routes; leaves only verify their upstream). A managed certificate is issued here,
// deterministically: from the CA key, the host's names and the issuance period (a third of the
// validity), so rendering stays a pure function and a plan shows no change until the period
// turns or the host's names change. Its key is derived from the CA key the same way and
// changes with every certificate. With links = "routes" only hubs and the relays of a relay
// cluster have files (for their routes): every leaf link stays plaintext.
func (r *Context) hostTLS(n *inventory.NATS) (*tlsFiles, error) {
	t := r.Inv.Lattice.TLS
	if t == nil {
		return nil, nil
	}
	certHost := r.Host.Hub != nil || r.Host.IsRelay()
	if t.RoutesOnly && r.Host.Hub == nil && len(r.Inv.RelayCluster(r.Host)) == 0 {
		return nil, nil // leaf links stay plaintext for now
	}
	dir := path.Join(path.Dir(n.ConfigFile), "tls")
	out := &tlsFiles{}
	caSerial := "unknown"
	if ca, err := inventory.ParseCACert(t.CACert); err == nil {
		caSerial = serialName(ca.SerialNumber)
	}
	caContent := t.CACert
	// A CA rotation: trust the retiring CA too until its last step, and issue from it
	// until the second (every server trusts the new CA by then).
	rotating := t.Managed && len(t.RetiringCACert) > 0 && len(t.CACert) > 0
	if rotating && r.Opts.CAStep < CADropOld {
		if old, err := inventory.ParseCACert(t.RetiringCACert); err == nil {
			caSerial += "-" + serialName(old.SerialNumber)
		}
		caContent = append(append([]byte{}, t.CACert...), t.RetiringCACert...)
	}
	if rotating && r.Opts.CAStep < CAReissue {
		old := *t
		old.CACert, old.CAKey = t.RetiringCACert, t.RetiringCAKey
		old.RetiringCACert, old.RetiringCAKey = nil, inventory.Secret{}
		t = &old
	}
	if len(caContent) == 0 {
		if r.Opts.RevealSecrets {
			return nil, fmt.Errorf("secret %s has no value: load the inventory with its secrets (`latticepush secrets` creates the fleet CA)", inventory.SecretCAKey)
		}
		caContent = []byte("# the fleet CA certificate (from the secrets file)\n")
	}
	out.CA = path.Join(dir, "ca-"+caSerial+".pem")
	out.files = append(out.files, r.File(out.CA, FileTLS, ServiceNATS, caContent, 0o600))
	if !certHost {
		return out, nil
	}

	var certPEM []byte
	var key inventory.Secret
	var serial string
	switch {
	case !t.Managed:
		hc := t.Hosts[r.Host.Name]
		if hc == nil {
			return nil, fmt.Errorf("no certificate for %s: set tls cert_file and key_file", r.Host.Name)
		}
		certPEM, key, serial = hc.CertPEM, hc.Key, serialName(hc.Cert.SerialNumber)
	case t.CAKey.IsSet():
		c, k, s, err := IssueHostCert(t, r.Host)
		if err != nil {
			return nil, err
		}
		certPEM, key, serial = c, inventory.NewSecret(inventory.HostKeyName(r.Host.Name), string(k), "issued"), s
	case r.Opts.RevealSecrets:
		return nil, fmt.Errorf("secret %s has no value: load the inventory with its secrets (`latticepush secrets` creates the fleet CA)", inventory.SecretCAKey)
	default:
		certPEM, serial = []byte("# issued by the fleet CA when the secrets are loaded\n"), "unissued"
		if c, err := planCert(t, r.Host); err == nil {
			serial = serialName(c.serial)
		}
	}
	base := path.Join(dir, r.Host.Name+"-"+serial)
	out.Cert, out.Key = base+".pem", base+".key"
	out.files = append(out.files, r.File(out.Cert, FileTLS, ServiceNATS, certPEM, 0o600))
	k, err := r.Secret(key, inventory.HostKeyName(r.Host.Name))
	if err != nil {
		return nil, err
	}
	out.files = append(out.files, r.File(out.Key, FileTLS, ServiceNATS, []byte(k), 0o600))
	return out, nil
}

func serialName(s *big.Int) string { return strings.ToLower(s.Text(16)) }

// CertNames are the names a hub's or relay's certificate carries: its host name and its
// address (an IP address or a DNS name), which leaves and routed peers dial.
func CertNames(h *inventory.Host) (dns []string, ips []net.IP) {
	dns = append(dns, h.Name)
	if ip := net.ParseIP(h.Address); ip != nil {
		ips = append(ips, ip)
	} else if h.Address != h.Name {
		dns = append(dns, h.Address)
	}
	return dns, ips
}

// IssueHostCert issues hub or relay h's certificate with the managed CA for the current issuance period:
// valid from the period's start (less an hour of clock skew) for t.Validity, so a certificate
// in use has at least two thirds of its validity left. It returns the certificate and key
// (PEM) and the serial in hex. The same inputs give the same bytes: the key is derived from
// the CA key and the certificate's contents, the serial from the CA certificate and the
// contents, and the signature is RFC 6979's.
func IssueHostCert(t *inventory.TLS, h *inventory.Host) (certPEM, keyPEM []byte, serial string, err error) {
	caKey, err := inventory.ParseCAKey(t.CAKey)
	if err != nil {
		return nil, nil, "", err
	}
	c, err := planCert(t, h)
	if err != nil {
		return nil, nil, "", err
	}
	var key *ecdsa.PrivateKey
	for i := uint32(0); key == nil; i++ {
		m := hmac.New(sha256.New, caKey.D.FillBytes(make([]byte, 32)))
		m.Write([]byte("latticepush host key"))
		m.Write(c.ca.Raw)
		m.Write([]byte(c.what))
		_ = binary.Write(m, binary.BigEndian, i)
		key, _ = ecdsa.ParseRawPrivateKey(elliptic.P256(), m.Sum(nil)) // retried when not below the order
	}
	ca, sn, notBefore, notAfter, dns, ips := c.ca, c.serial, c.notBefore, c.notAfter, c.dns, c.ips
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: h.Name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		DNSNames:     dns,
		IPAddresses:  ips,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Routes are mutual TLS: each hub or relay is a server and a client.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), deterministicSigner{caKey})
	if err != nil {
		return nil, nil, "", fmt.Errorf("issue certificate for %s: %w", h.Name, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), serialName(sn), nil
}

// plannedCert is what a managed certificate of the current period holds, known from the CA
// certificate alone (no key): its serial names the host's files even where the secrets are not
// loaded.
type plannedCert struct {
	ca                  *x509.Certificate
	serial              *big.Int
	notBefore, notAfter time.Time
	dns                 []string
	ips                 []net.IP
	what                string // everything the certificate says, for derivations
}

func planCert(t *inventory.TLS, h *inventory.Host) (*plannedCert, error) {
	ca, err := inventory.ParseCACert(t.CACert)
	if err != nil {
		return nil, fmt.Errorf("fleet CA certificate: %w", err)
	}
	period := t.Validity / 3
	k := t.Now.Sub(certEpoch) / period
	start := certEpoch.Add(k * period)
	c := &plannedCert{ca: ca, notBefore: start.Add(-time.Hour), notAfter: start.Add(t.Validity)}
	if c.notAfter.After(ca.NotAfter) {
		c.notAfter = ca.NotAfter
	}
	c.dns, c.ips = CertNames(h)
	var ipText []string
	for _, ip := range c.ips {
		ipText = append(ipText, ip.String())
	}
	c.what = fmt.Sprintf("%s\x00%d\x00%d\x00%s\x00%s", h.Name, c.notBefore.Unix(), c.notAfter.Unix(),
		strings.Join(c.dns, ","), strings.Join(ipText, ","))
	sum := sha256.Sum256(append(append([]byte("latticepush serial\x00"), ca.Raw...), c.what...))
	sb := sum[:16]
	sb[0] = sb[0]&0x7f | 0x40 // positive, 16 bytes
	c.serial = new(big.Int).SetBytes(sb)
	return c, nil
}

// deterministicSigner signs with RFC 6979 (no randomness): the same certificate every time.
type deterministicSigner struct{ k *ecdsa.PrivateKey }

func (s deterministicSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s deterministicSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(nil, digest, opts)
}

// tlsBlock writes a nats-server tls block. verify asks the peer for a certificate signed by
// the CA (mutual TLS).
func tlsConf(w *confWriter, f *tlsFiles, cert, verify bool) {
	w.open("tls {")
	if cert {
		w.kv("cert_file", quote(f.Cert))
		w.kv("key_file", quote(f.Key))
	}
	w.kv("ca_file", quote(f.CA))
	if verify {
		w.kv("verify", "true")
	}
	w.close("}")
}

// clientTLS writes the hub's client port TLS. A wasmCloud host on the hub's machine connects
// to it as nats://host:port and cannot speak TLS (wasmCloud 1.x has no NATS TLS option), so
// that hub also accepts plaintext clients (allow_non_tls): TLS stays available to every client
// that asks for it.
func (r *Context) clientTLS(w *confWriter, f *tlsFiles) {
	if f == nil {
		return
	}
	w.line("# Clients connect with TLS (the fleet CA signs this hub's certificate).")
	tlsConf(w, f, true, false)
	if r.Host.Wasmcloud != nil {
		w.line("# The wasmCloud host on this machine cannot speak TLS to NATS: plaintext clients are accepted too.")
		w.kv("allow_non_tls", "true")
	}
}

// routeTLS writes mutual TLS for the routes of a hub or of a relay in a relay cluster: each
// server presents its certificate and requires one signed by the fleet CA.
func routeTLS(w *confWriter, f *tlsFiles) {
	if f == nil {
		return
	}
	w.line("# Routes are mutual TLS: both ends present a certificate of the fleet CA.")
	tlsConf(w, f, true, true)
}

// leafListenTLS makes a hub's or relay's leafnode listener TLS only (not yet with
// links = "routes").
func (r *Context) leafListenTLS(w *confWriter, f *tlsFiles) {
	if f == nil || r.Inv.Lattice.TLS.RoutesOnly {
		return
	}
	tlsConf(w, f, true, false)
}

// leafScheme is the scheme of a leaf remote's URLs: tls:// with TLS. Turning TLS on or off
// then changes the URLs, which nats-server reloads as a remote replaced (2.14+; the link is
// made again at once), where TLS turned on in a remote that stays would need a restart.
func leafScheme(f *tlsFiles) string {
	if f != nil {
		return "tls://"
	}
	return "nats-leaf://"
}

// remoteTLS makes a leaf's or relay's remote connect with TLS and verify the certificate of
// the hub or relay it dials (the fleet CA's, naming the address in the URL).
func remoteTLS(w *confWriter, f *tlsFiles) {
	if f == nil {
		return
	}
	tlsConf(w, f, false, false)
}

// tlsToggled says why key needs a restart when it turns TLS on or off where a reload cannot
// (nats-server 2.15, tested): a leafnode listener's TLS changes its auth timeout (2s to the TLS
// timeout + 1s) and an existing leaf remote's TLS its TLS timeout, which no reload changes.
// A reload does turn cluster TLS on (or off), but routes already made keep running as they
// were until they reconnect: plan refuses to do that together with a restart (plan/tls.go).
// Certificate changes where TLS stays on reload.
func tlsToggled(key string, old, new map[string]string) string {
	had := func(m map[string]string, prefix string) bool {
		for k := range m {
			if hasKeyPrefix(k, prefix) {
				return true
			}
		}
		return false
	}
	switch {
	case hasKeyPrefix(key, "leafnodes.tls") && had(old, "leafnodes.tls") != had(new, "leafnodes.tls"):
		return "leafnodes.tls (TLS turned on or off on the leafnode listener: it changes the listener's auth timeout, which no reload changes)"
	case hasKeyPrefix(key, "leafnodes.remotes") && remoteTLSToggled(old[key], new[key]):
		return "leafnodes.remotes (TLS turned on or off on an existing leaf remote, same URLs: not reloadable)"
	}
	return ""
}

// LinkTLS reports whether a nats-server config runs its routes and its leaf links (listener
// or remotes) with TLS.
func LinkTLS(config []byte) (routes, leaf bool, err error) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return false, false, err
	}
	flat := map[string]string{}
	flatten("", m, flat)
	for k, v := range flat {
		switch {
		case hasKeyPrefix(k, "cluster.tls"):
			routes = true
		case hasKeyPrefix(k, "leafnodes.tls"), k == "leafnodes.remotes" && strings.Contains(v, `"tls"`):
			leaf = true
		}
	}
	return routes, leaf, nil
}

// remoteTLSToggled reports whether a remote with the same URLs in old and new (flattened
// leafnodes.remotes, JSON) has TLS in one and not the other. A remote whose URLs changed is
// another remote to nats-server: a reload replaces it.
func remoteTLSToggled(old, new string) bool {
	type remote struct {
		URL  any `json:"url"`
		URLs any `json:"urls"`
		TLS  any `json:"tls"`
	}
	var o, n []remote
	if json.Unmarshal([]byte(old), &o) != nil || json.Unmarshal([]byte(new), &n) != nil {
		return strings.Contains(old, `"tls"`) != strings.Contains(new, `"tls"`)
	}
	key := func(r remote) string { b, _ := json.Marshal([]any{r.URL, r.URLs}); return string(b) }
	had := map[string]bool{}
	for _, r := range o {
		had[key(r)] = r.TLS != nil
	}
	for _, r := range n {
		if tlsBefore, ok := had[key(r)]; ok && tlsBefore != (r.TLS != nil) {
			return true
		}
	}
	return false
}
