package natsmon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// ServedCert reads the INFO line, then takes the certificate from the TLS handshake, as a
// client of a NATS port that requires TLS after INFO.
func TestServedCert(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0xabc), Subject: pkix.Name{CommonName: "hub-1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), AuthorityKeyId: []byte{1, 2, 3}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("INFO {\"tls_required\":true}\r\n"))
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
		_ = s.Handshake()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := ServedCert(ctx, d.DialContext, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if c.SerialNumber.Int64() != 0xabc {
		t.Fatalf("serial %x, want abc", c.SerialNumber)
	}

	v := &Varz{Port: 4222}
	v.Leaf.Port, v.Leaf.TLSRequired = 7422, true
	if got := ServedCertAddr(v, "127.0.0.1:8222"); got != "127.0.0.1:7422" {
		t.Fatalf("leafnode TLS: %q", got)
	}
	v.Leaf.Host = "10.0.0.2"
	if got := ServedCertAddr(v, "127.0.0.1:8222"); got != "10.0.0.2:7422" {
		t.Fatalf("leafnode listener on one address: %q", got)
	}
	v.Leaf.TLSRequired = false
	if got := ServedCertAddr(v, "127.0.0.1:8222"); got != "" {
		t.Fatalf("no TLS: %q", got)
	}
	v.TLSCertNotAfter, v.Host = time.Now(), "0.0.0.0"
	if got := ServedCertAddr(v, "127.0.0.1:8222"); got != "127.0.0.1:4222" {
		t.Fatalf("client TLS: %q", got)
	}
}
