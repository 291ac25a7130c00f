package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newTestKey(t *testing.T) (ssh.PublicKey, ssh.Signer) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return p, sig
}

// TestKnownHostsIndex_AnswersAsKnownhosts: over a known_hosts of many hosts mixing plain,
// multi-host, non-default-port and hashed entries, wildcard and negated patterns, an
// @cert-authority line, an @revoked line, a comment and a broken line, the index gives every
// lookup the answer golang.org/x/crypto/ssh/knownhosts gives (nil, the same error with the
// same entries in the same order), while trying only the lines that are not literal host
// names against each host.
func TestKnownHostsIndex_AnswersAsKnownhosts(t *testing.T) {
	const n = 1000
	keys := make([]ssh.PublicKey, n)
	var b strings.Builder
	b.WriteString("# known hosts\nbroken-line-without-a-key\n")
	nonLiteral := 0
	for i := range n {
		keys[i], _ = newTestKey(t)
		host := fmt.Sprintf("h%d.example", i)
		switch {
		case i%10 == 3:
			b.WriteString(knownhosts.Line([]string{knownhosts.HashHostname(host)}, keys[i]) + "\n")
			nonLiteral++
		case i%10 == 5:
			b.WriteString(knownhosts.Line([]string{host, fmt.Sprintf("198.18.%d.%d", i/250, i%250)}, keys[i]) + "\n")
		case i%10 == 7:
			b.WriteString(knownhosts.Line([]string{"[" + host + "]:2222"}, keys[i]) + "\n")
		default:
			b.WriteString(knownhosts.Line([]string{host}, keys[i]) + "\n")
		}
	}
	// A second key for h1 (another type would be the same: every matching line is a candidate).
	second, _ := newTestKey(t)
	b.WriteString(knownhosts.Line([]string{"h1.example"}, second) + "\n")
	wild, _ := newTestKey(t)
	b.WriteString("*.wild.example,!bad.wild.example " + strings.TrimPrefix(knownhosts.Line([]string{"x"}, wild), "x ") + "\n")
	caPub, caSigner := newTestKey(t)
	b.WriteString("@cert-authority *.ca.example " + strings.TrimPrefix(knownhosts.Line([]string{"x"}, caPub), "x ") + "\n")
	revokedKey, _ := newTestKey(t)
	b.WriteString("@revoked * " + strings.TrimPrefix(knownhosts.Line([]string{"x"}, revokedKey), "x ") + "\n")
	b.WriteString(knownhosts.Line([]string{"revoked.example"}, revokedKey) + "\n")
	nonLiteral += 2 // the wildcard and the @cert-authority lines

	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := newKnownHostsIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	got := ix.callback()
	if len(ix.other) != nonLiteral {
		t.Errorf("%d lines tried per host, want %d (hashed, wildcard and @cert-authority lines only)", len(ix.other), nonLiteral)
	}

	cert := func(principal string, signer ssh.Signer) ssh.PublicKey {
		hostKey, _ := newTestKey(t)
		c := &ssh.Certificate{Key: hostKey, CertType: ssh.HostCert, ValidPrincipals: []string{principal}, ValidBefore: ssh.CertTimeInfinity}
		if err := c.SignCert(rand.Reader, signer); err != nil {
			t.Fatal(err)
		}
		return c
	}
	other, otherSigner := newTestKey(t)
	type query struct {
		addr string
		key  ssh.PublicKey
	}
	var qs []query
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("h%d.example", i)
		qs = append(qs, query{host + ":22", keys[i]}, query{host + ":22", other}, query{host + ":2222", keys[i]})
	}
	qs = append(qs,
		query{"h1.example:22", second},
		query{"198.18.0.5:22", keys[5]},
		query{"a.wild.example:22", wild}, query{"bad.wild.example:22", wild}, query{"a.wild.example:2222", wild},
		query{"web.ca.example:22", cert("web.ca.example", caSigner)},
		query{"web.ca.example:22", cert("web.ca.example", otherSigner)},
		query{"web.ca.example:22", caPub},
		query{"revoked.example:22", revokedKey},
		query{"unknown.example:22", other},
		query{"[::1]:22", other},
	)
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	for _, q := range qs {
		we, ge := want(q.addr, remote, q.key), got(q.addr, remote, q.key)
		if !sameHostKeyError(we, ge) {
			t.Errorf("%s with %s: index says %v, knownhosts says %v", q.addr, ssh.FingerprintSHA256(q.key), ge, we)
		}
	}
	// Each host was tried against the non-literal lines once, however often it was asked.
	addrs := map[khAddr]bool{}
	for _, q := range qs {
		h, p, _ := net.SplitHostPort(q.addr)
		addrs[khAddr{h, p}] = true
	}
	if ix.tested > len(addrs)*len(ix.other) {
		t.Errorf("%d line matches for %d addresses and %d non-literal lines: lookups are not remembered", ix.tested, len(addrs), len(ix.other))
	}
}

func sameHostKeyError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ka, kb *knownhosts.KeyError
	if errors.As(a, &ka) {
		return errors.As(b, &kb) && sameKnown(ka.Want, kb.Want)
	}
	var ra, rb *knownhosts.RevokedError
	if errors.As(a, &ra) {
		return errors.As(b, &rb) && sameKnown([]knownhosts.KnownKey{ra.Revoked}, []knownhosts.KnownKey{rb.Revoked})
	}
	return a.Error() == b.Error()
}

func sameKnown(a, b []knownhosts.KnownKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Filename != b[i].Filename || a[i].Line != b[i].Line || !reflect.DeepEqual(a[i].Key.Marshal(), b[i].Key.Marshal()) {
			return false
		}
	}
	return true
}
