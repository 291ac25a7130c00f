package remote

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsIndex answers known_hosts lookups as golang.org/x/crypto/ssh/knownhosts does
// (the same matching, errors and entries, in file order), without reading every line for
// every host: the files are read once, each line naming only literal hosts (no wildcard, no
// negation, not hashed) is filed under each of its hosts, and only the other lines (hashed,
// wildcard or negated patterns, and @cert-authority lines, which are usually wildcards) are
// tried against each host. What a host matched is kept, so a host's second lookup (a dial
// asks for the key types, then checks the key) costs a map read. A hashed line costs one
// HMAC per host looked up, as in OpenSSH: a file of hashed entries is scanned per host.
type knownHostsIndex struct {
	lines   []khLine
	revoked map[string]*knownhosts.KnownKey
	literal map[khAddr][]int // host and port -> lines naming it literally, in file order
	other   []int            // lines that must be matched pattern by pattern

	mu     sync.Mutex
	memo   map[khAddr][]int // host and port -> every line matching it, in file order
	tested int              // lines matched pattern by pattern so far (for tests)
}

type khAddr struct{ host, port string }

type khLine struct {
	cert     bool
	hashed   *khHashed   // a |1|salt|hash pattern
	patterns []khPattern // otherwise
	known    knownhosts.KnownKey
}

type khPattern struct {
	negate bool
	addr   khAddr
}

type khHashed struct{ salt, hash []byte }

// newKnownHostsIndex reads files in order. A file without one valid entry but with a broken
// one is an error; broken lines are skipped otherwise, as ssh does.
func newKnownHostsIndex(files ...string) (*knownHostsIndex, error) {
	ix := &knownHostsIndex{revoked: map[string]*knownhosts.KnownKey{}, literal: map[khAddr][]int{}, memo: map[khAddr][]int{}}
	for _, fn := range files {
		if err := ix.read(fn); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func (ix *knownHostsIndex) read(fn string) error {
	f, err := os.Open(fn)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var firstErr error
	firstErrLine, valid, n := 0, 0, 0
	for sc.Scan() {
		n++
		line := bytes.Trim(sc.Bytes(), " \t")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if err := ix.add(line, fn, n); err != nil {
			if firstErr == nil {
				firstErr, firstErrLine = err, n
			}
			continue
		}
		valid++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if valid == 0 && firstErr != nil {
		return fmt.Errorf("knownhosts: %s: no valid entries, line %d: %v", fn, firstErrLine, firstErr)
	}
	return nil
}

func khWord(line []byte) (string, []byte) {
	i := bytes.IndexAny(line, "\t ")
	if i == -1 {
		return string(line), nil
	}
	return string(line[:i]), bytes.Trim(line[i:], " \t")
}

func (ix *knownHostsIndex) add(line []byte, fn string, n int) error {
	marker := ""
	if w, next := khWord(line); w == "@cert-authority" || w == "@revoked" {
		marker, line = w, next
	}
	pattern, line := khWord(line)
	if len(pattern) > 0 && pattern[0] == '@' {
		return fmt.Errorf("knownhosts: unexpected marker: %q", pattern)
	}
	if len(line) == 0 {
		return errors.New("knownhosts: missing host pattern")
	}
	wantType, line := khWord(line)
	if len(line) == 0 {
		return errors.New("knownhosts: missing key type pattern")
	}
	blob, _ := khWord(line)
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		return err
	}
	key, err := ssh.ParsePublicKey(raw)
	if err != nil {
		return err
	}
	if key.Type() != wantType {
		return fmt.Errorf("knownhosts: key type mismatch: found %q, want %q", key.Type(), wantType)
	}
	known := knownhosts.KnownKey{Key: key, Filename: fn, Line: n}
	if marker == "@revoked" {
		ix.revoked[plainBlob(key)] = &known
		return nil
	}
	l := khLine{cert: marker == "@cert-authority", known: known}
	if pattern[0] == '|' {
		if l.hashed, err = parseHashed(pattern); err != nil {
			return err
		}
	} else if l.patterns, err = parsePatterns(pattern); err != nil {
		return err
	}
	i := len(ix.lines)
	ix.lines = append(ix.lines, l)
	if l.cert || l.hashed != nil || !literalOnly(l.patterns) {
		ix.other = append(ix.other, i)
		return nil
	}
	for j, p := range l.patterns {
		if !slices.ContainsFunc(l.patterns[:j], func(q khPattern) bool { return q.addr == p.addr }) {
			ix.literal[p.addr] = append(ix.literal[p.addr], i)
		}
	}
	return nil
}

func parseHashed(s string) (*khHashed, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 4 {
		return nil, fmt.Errorf("knownhosts: got %d components, want 3", len(parts))
	}
	salt, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	hash, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return nil, err
	}
	if parts[1] != "1" {
		return nil, fmt.Errorf("knownhosts: got hash type %s, must be '1'", parts[1])
	}
	return &khHashed{salt: salt, hash: hash}, nil
}

func parsePatterns(s string) ([]khPattern, error) {
	var ps []khPattern
	for _, p := range strings.Split(s, ",") {
		if p == "" {
			continue
		}
		var neg bool
		if p[0] == '!' {
			neg, p = true, p[1:]
		}
		if p == "" {
			return nil, errors.New("knownhosts: negation without following hostname")
		}
		var a khAddr
		var err error
		if p[0] == '[' {
			if a.host, a.port, err = net.SplitHostPort(p); err != nil {
				return nil, err
			}
		} else if a.host, a.port, err = net.SplitHostPort(p); err != nil {
			a.host, a.port = p, "22"
		}
		ps = append(ps, khPattern{negate: neg, addr: a})
	}
	return ps, nil
}

func literalOnly(ps []khPattern) bool {
	for _, p := range ps {
		if p.negate || strings.ContainsAny(p.addr.host, "*?") {
			return false
		}
	}
	return true
}

func plainBlob(key ssh.PublicKey) string {
	if c, ok := key.(*ssh.Certificate); ok {
		return string(c.Key.Marshal())
	}
	return string(key.Marshal())
}

func (l *khLine) match(a khAddr) bool {
	if l.hashed != nil {
		h := a.host
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		mac := hmac.New(sha1.New, l.hashed.salt)
		mac.Write([]byte(knownhosts.Normalize(h + ":" + a.port)))
		return hmac.Equal(mac.Sum(nil), l.hashed.hash)
	}
	matched := false
	for _, p := range l.patterns {
		if !khWildcard(p.addr.host, a.host) || p.addr.port != a.port {
			continue
		}
		if p.negate {
			return false
		}
		matched = true
	}
	return matched
}

// khWildcard matches OpenSSH host patterns: * any run, ? any one character.
func khWildcard(pat, s string) bool {
	for {
		if pat == "" {
			return s == ""
		}
		if s == "" {
			return false
		}
		if pat[0] == '*' {
			if len(pat) == 1 {
				return true
			}
			for j := range len(s) {
				if khWildcard(pat[1:], s[j:]) {
					return true
				}
			}
			return false
		}
		if pat[0] != '?' && pat[0] != s[0] {
			return false
		}
		pat, s = pat[1:], s[1:]
	}
}

// matching returns the lines matching a, in file order.
func (ix *knownHostsIndex) matching(a khAddr) []int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if m, ok := ix.memo[a]; ok {
		return m
	}
	m := slices.Clone(ix.literal[a])
	for _, i := range ix.other {
		ix.tested++
		if ix.lines[i].match(a) {
			m = append(m, i)
		}
	}
	slices.Sort(m)
	ix.memo[a] = m
	return m
}

// callback is the HostKeyCallback: certificates through ssh.CertChecker with the
// @cert-authority and @revoked lines, plain keys against the lines naming the host.
func (ix *knownHostsIndex) callback() ssh.HostKeyCallback {
	cc := ssh.CertChecker{IsHostAuthority: ix.isHostAuthority, IsRevoked: ix.isRevoked, HostKeyFallback: ix.check}
	return cc.CheckHostKey
}

func (ix *knownHostsIndex) isHostAuthority(key ssh.PublicKey, address string) bool {
	h, p, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	for _, i := range ix.matching(khAddr{h, p}) {
		if l := &ix.lines[i]; l.cert && bytes.Equal(l.known.Key.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

func (ix *knownHostsIndex) isRevoked(c *ssh.Certificate) bool {
	_, a := ix.revoked[plainBlob(c)]
	_, b := ix.revoked[plainBlob(c.SignatureKey)]
	return a || b
}

func (ix *knownHostsIndex) check(address string, remote net.Addr, key ssh.PublicKey) error {
	if r := ix.revoked[plainBlob(key)]; r != nil {
		return &knownhosts.RevokedError{Revoked: *r}
	}
	host, port, err := net.SplitHostPort(remote.String())
	if err != nil {
		return fmt.Errorf("knownhosts: SplitHostPort(%s): %v", remote, err)
	}
	if address != "" {
		if host, port, err = net.SplitHostPort(address); err != nil {
			return fmt.Errorf("knownhosts: SplitHostPort(%s): %v", address, err)
		}
	}
	kerr := &knownhosts.KeyError{}
	for _, i := range ix.matching(khAddr{host, port}) {
		l := &ix.lines[i]
		kerr.Want = append(kerr.Want, l.known)
		if bytes.Equal(l.known.Key.Marshal(), key.Marshal()) {
			return nil
		}
	}
	return kerr
}
