package natsmon

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
)

// ServedCert reads the certificate a nats-server presents on its TLS port at addr ("host:port",
// a client or leafnode port): it reads the server's INFO line, then makes the TLS handshake as
// a client does, without verifying (the caller judges the certificate), and hangs up.
func ServedCert(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) (*x509.Certificate, error) {
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	line, err := bufio.NewReaderSize(conn, 4096).ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "INFO ") {
		return nil, errors.New("not a NATS port: no INFO line")
	}
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // read, not trusted
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no certificate presented")
	}
	return certs[0], nil
}

// ServedCertAddr is where to read the certificate of the server whose /varz is v and whose
// monitoring port is at monitorAddr: its leafnode port when that requires TLS, else its client
// port when that has a certificate; "" when neither. A listener on every address is reached at
// the monitoring port's host.
func ServedCertAddr(v *Varz, monitorAddr string) string {
	mon, _, err := net.SplitHostPort(monitorAddr)
	if err != nil {
		return ""
	}
	at := func(host string, port int) string {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = mon
		}
		return net.JoinHostPort(host, strconv.Itoa(port))
	}
	switch {
	case v.Leaf.Port > 0 && v.Leaf.TLSRequired:
		return at(v.Leaf.Host, v.Leaf.Port)
	case v.Port > 0 && !v.TLSCertNotAfter.IsZero():
		return at(v.Host, v.Port)
	}
	return ""
}
