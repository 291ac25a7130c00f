package plan

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
)

// CertChange is a server's new certificate (a hub's), applied by reload: the files the
// running config names and the ones the new config names (by serial), and the ends apply
// confirms.
type CertChange struct {
	// From is the certificate file the running config names; FromNotAfter the end of the
	// certificate the running server serves (/varz tls_cert_not_after).
	From         string    `json:"from"`
	FromNotAfter time.Time `json:"from_not_after"`
	// To is the new certificate file; NotAfter its end, which /varz must report after the
	// reload (else the reload is rolled back).
	To       string    `json:"to"`
	NotAfter time.Time `json:"not_after"`
	// Serial is the new certificate's serial (hex), which the server must present after the
	// reload where the host can read it (a TLS handshake): two certificates of one issuance
	// period end at the same time, as in a CA rotation's reissue step.
	Serial string `json:"serial,omitempty"`
	// Renew: the certificate served expires within the renewal window (tls renew_before).
	Renew bool `json:"renew,omitempty"`
	// Remove are the previous certificate and key files, which no config names any more:
	// removed once the new certificate is confirmed served.
	Remove []string `json:"remove,omitempty"`
	// Sweep is the path prefix of the host's certificate files ("/etc/nats/tls/hub-1-"):
	// every <Sweep><serial>.pem and .key but Keep (the files the new config names) goes
	// with Remove, so certificates replaced before are not left behind either.
	Sweep string   `json:"sweep,omitempty"`
	Keep  []string `json:"keep,omitempty"`
}

// ReasonRenew starts the reason of a unit whose certificate is renewed.
const ReasonRenew = "renew"

// planRenew records each running server's certificate change (a reload whose config names a
// new certificate file) and decides from the certificates it serves whether it is a renewal:
// one that expires within the renewal window. A certificate due for renewal that the plan
// does not replace (an operator-supplied one: latticepush cannot issue it) is a warning naming
// the file to replace.
func planRenew(inv *inventory.Inventory, facts map[string]Facts, p *Plan) {
	t := inv.Lattice.TLS
	if t == nil {
		return
	}
	now := t.Now
	if now.IsZero() {
		now = time.Now()
	}
	for _, u := range p.Units {
		if u.Service != ServiceNATS || u.Step != "" || !u.WasRunning {
			continue
		}
		f := facts[u.Host]
		if f.NATS == nil || f.NATS.TLSCertNotAfter.IsZero() {
			continue
		}
		served := f.NATS.TLSCertNotAfter
		due := served.Sub(now) < t.RenewBefore
		have := f.Files[u.ConfigPath].Content
		if have == nil {
			continue
		}
		oldCert, oldKey := configCert(have)
		newCert, newKey := oldCert, oldKey
		files := map[string][]byte{}
		for _, fc := range u.Files {
			files[fc.Path] = fc.Content()
		}
		if c, ok := files[u.ConfigPath]; ok {
			newCert, newKey = configCert(c)
		}
		if oldCert == "" || newCert == "" || oldCert == newCert {
			if due {
				p.Warnings = append(p.Warnings, renewWarning(t, u.Host, served, now, oldCert))
			}
			continue
		}
		if u.Action != Reload {
			// A restart or an adopt loads the new certificate anyway.
			if due {
				u.Reasons = append([]string{fmt.Sprintf("%s: the certificate it serves expires on %s, within renew_before; %s replaces it",
					ReasonRenew, served.UTC().Format(time.RFC3339), newCert)}, u.Reasons...)
			}
			continue
		}
		c := &CertChange{From: oldCert, FromNotAfter: served, To: newCert, Renew: due}
		if cert := parseCert(files[newCert]); cert != nil {
			c.NotAfter = cert.NotAfter
			c.Serial = strings.ToLower(cert.SerialNumber.Text(16))
		}
		for _, old := range []string{oldCert, oldKey} {
			if old != "" && old != newCert && old != newKey {
				c.Remove = append(c.Remove, old)
			}
		}
		if dir, base := path.Split(newCert); newKey != "" && strings.HasPrefix(base, u.Host+"-") {
			c.Sweep = dir + u.Host + "-"
			c.Keep = []string{newCert, newKey}
		}
		u.Cert = c
		days := func(d time.Duration) int { return int(d.Hours() / 24) }
		until := "unknown"
		if !c.NotAfter.IsZero() {
			until = c.NotAfter.UTC().Format(time.RFC3339)
		}
		if due {
			// First: it says why the other reasons (the new files' names) are there.
			u.Reasons = append([]string{fmt.Sprintf("%s: the certificate it serves expires on %s (in %d days, within renew_before, %d days): %s replaces it, valid until %s",
				ReasonRenew, served.UTC().Format(time.RFC3339), days(served.Sub(now)), days(t.RenewBefore), c.To, until)}, u.Reasons...)
		} else {
			u.Reasons = append(u.Reasons, fmt.Sprintf("new certificate %s, valid until %s, replaces the one it serves (until %s)",
				c.To, until, served.UTC().Format(time.RFC3339)))
		}
	}
}

func renewWarning(t *inventory.TLS, host string, served, now time.Time, certFile string) string {
	left := fmt.Sprintf("%s: the certificate it serves expires on %s (in %d days, within renew_before)",
		host, served.UTC().Format(time.RFC3339), int(served.Sub(now).Hours()/24))
	if !t.Managed {
		file := certFile
		if hc := t.Hosts[host]; hc != nil {
			file = hc.CertFile + " (and its key " + hc.KeyFile + ")"
		}
		return left + ", and latticepush cannot renew an operator-supplied certificate: replace " + file +
			" with a new certificate from your CA, then plan and apply (a reload)"
	}
	return left + ", and this plan issues no new one: the current issuance period's certificate is the one it serves; check the clock and the CA certificate's end"
}

// configCert returns the certificate and key files a nats-server config names: its client
// tls block's, else its leafnode listener's or its cluster's (a server with a certificate
// presents the same one on each); empty when it has none or does not parse.
func configCert(config []byte) (cert, key string) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return "", ""
	}
	blocks := []any{m["tls"]}
	for _, k := range []string{"leafnodes", "cluster"} {
		if b, ok := m[k].(map[string]any); ok {
			blocks = append(blocks, b["tls"])
		}
	}
	for _, b := range blocks {
		tb, _ := b.(map[string]any)
		cert, _ = tb["cert_file"].(string)
		key, _ = tb["key_file"].(string)
		if cert != "" {
			return cert, key
		}
	}
	return "", ""
}

func parseCert(b []byte) *x509.Certificate {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil
	}
	return c
}
