package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/latticepush/latticepush/internal/poll"
	"github.com/latticepush/latticepush/plan"
)

// Certs is what a Host does for a hub's new certificate (plan.CertChange): say which
// certificate the running server serves, and remove the previous files once the new one is.
type Certs interface {
	// ServedCertNotAfter returns the earliest end of the certificates the running
	// nats-server serves (/varz tls_cert_not_after of its client, cluster and leafnode ports).
	ServedCertNotAfter(ctx context.Context, monitorAddr string) (time.Time, error)
	// RemoveOldCerts removes c.Remove and every <c.Sweep><serial>.pem and .key but c.Keep:
	// certificate files no config names any more.
	RemoveOldCerts(ctx context.Context, c plan.CertChange) error
}

// ServedSerial is what a Host that can read the certificate its server presents (a TLS
// handshake through its connection) implements: the serial (hex) of that certificate.
type ServedSerial interface {
	ServedCertSerial(ctx context.Context, monitorAddr string) (string, error)
}

// certsOf is h as Certs, looking through the run's own wrapper (changeRecorder).
func certsOf(h Host) (Certs, bool) {
	if c, ok := h.(changeRecorder); ok {
		h = c.Host
	}
	c, ok := h.(Certs)
	return c, ok
}

// confirmCert waits until the reloaded hub serves its new certificate: config_digest covers
// the config, not the certificate file's bytes, so only /varz tls_cert_not_after proves the
// reload loaded it. A mismatch fails the unit (it is rolled back).
func (a *run) confirmCert(ctx context.Context, h Host, u *plan.Unit) error {
	if u.Cert == nil || u.Cert.NotAfter.IsZero() {
		return nil
	}
	c, ok := certsOf(h)
	if !ok {
		return fmt.Errorf("%s: cannot read the certificate the server serves", u.Host)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.ConfirmTimeout)
	defer cancel()
	var last time.Time
	var lastErr error
	ss, bySerial := c.(ServedSerial)
	bySerial = bySerial && u.Cert.Serial != ""
	var lastSerial string
	wait := poll.New(10*time.Millisecond, 200*time.Millisecond)
	for {
		got, err := c.ServedCertNotAfter(ctx, u.MonitorAddr)
		if err == nil && got.Equal(u.Cert.NotAfter) {
			if !bySerial {
				return nil
			}
			lastSerial, err = ss.ServedCertSerial(ctx, u.MonitorAddr)
			if err == nil && lastSerial == u.Cert.Serial {
				return nil
			}
		}
		last, lastErr = got, err
		if !wait.Wait(ctx) {
			if lastErr != nil {
				return fmt.Errorf("the new certificate was not confirmed: /varz unreachable: %v", lastErr)
			}
			if bySerial && last.Equal(u.Cert.NotAfter) {
				return fmt.Errorf("the new certificate %s was not confirmed: the server presents serial %s, want %s (the server log says why)",
					u.Cert.To, lastSerial, u.Cert.Serial)
			}
			return fmt.Errorf("the new certificate %s was not confirmed: /varz tls_cert_not_after %s, want %s (the server log says why)",
				u.Cert.To, last.UTC().Format(time.RFC3339), u.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}
}

// removeOldCerts removes the previous certificate and key of a hub whose new certificate was
// confirmed served and whose gate passed: until then a rollback needs them. A failure is a warning.
func (a *run) removeOldCerts(ctx context.Context, h Host, u *plan.Unit) {
	if u.Cert == nil || u.Cert.NotAfter.IsZero() || (len(u.Cert.Remove) == 0 && u.Cert.Sweep == "") {
		// Without the new certificate's end, its reload was not confirmed: nothing goes.
		return
	}
	c, ok := certsOf(h)
	if !ok {
		return
	}
	if err := c.RemoveOldCerts(ctx, *u.Cert); err != nil {
		a.emit(Event{Type: EventWarning, Host: u.Host, Message: "removing the previous certificate files failed: " + err.Error()})
	}
}

// CAFiles is what a Host does for a server whose config moved to other CA files
// (plan.CASweep): remove the ones no config names any more.
type CAFiles interface {
	RemoveOldCAs(ctx context.Context, s plan.CASweep) error
}

// removeOldCAs removes the CA files a server's config no longer names, once its gate passed
// (a rollback needs them until then). A failure is a warning.
func (a *run) removeOldCAs(ctx context.Context, h Host, u *plan.Unit) {
	if u.CASweep == nil {
		return
	}
	if c, ok := h.(changeRecorder); ok {
		h = c.Host
	}
	c, ok := h.(CAFiles)
	if !ok {
		return
	}
	if err := c.RemoveOldCAs(ctx, *u.CASweep); err != nil {
		a.emit(Event{Type: EventWarning, Host: u.Host, Message: "removing the previous CA files failed: " + err.Error()})
	}
}
