package natsmon

import "time"

// CertNotAfter is the earliest end among the certificates the server serves on its client,
// cluster and leafnode ports (/varz tls_cert_not_after of each); zero when it serves none.
// After a reload that loads a new certificate, every port serves it: a port that kept the
// previous one shows here.
func (v *Varz) CertNotAfter() time.Time {
	var first time.Time
	for _, t := range []time.Time{v.TLSCertNotAfter, v.Cluster.TLSCertNotAfter, v.Leaf.TLSCertNotAfter} {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}
