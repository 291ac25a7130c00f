package remote

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is returned when a host presents a key that known_hosts does not accept:
// either the host is unknown (Known is empty) or its key changed (Known lists the entries
// to look at). It is never retried.
type HostKeyError struct {
	Host        string // as checked: host or [host]:port
	Presented   string // key type and SHA256 fingerprint the host presented
	Known       []knownhosts.KnownKey
	KnownHosts  []string // files consulted
	AcceptNewOK bool     // whether accept-new would have recorded it
}

func (e *HostKeyError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("host key for %s is not known (it presented %s); known_hosts files: %s. "+
			"Check the fingerprint with the host's owner, then add it (ssh-keyscan, or one `ssh %s`), or set strict_host_key_checking = \"accept-new\"",
			e.Host, e.Presented, strings.Join(e.KnownHosts, ", "), e.Host)
	}
	var where []string
	for _, k := range e.Known {
		where = append(where, fmt.Sprintf("%s:%d (%s %s)", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key)))
	}
	return fmt.Sprintf("HOST KEY CHANGED for %s: it presented %s, but known_hosts holds %s. "+
		"This may be an attack or a reinstalled host; confirm the new fingerprint out of band, then remove the old entry (ssh-keygen -R %s -f %s) and connect again",
		e.Host, e.Presented, strings.Join(where, "; "), e.Host, e.Known[0].Filename)
}

// hostKeys checks host keys against a set of known_hosts files and, in accept-new mode,
// appends new ones. Appends go through knownHostsWriter, so a file has one writer per
// process and, through flock, one at a time across processes.
type hostKeys struct {
	files  []string
	dummy  ssh.PublicKey
	mu     sync.Mutex
	cb     ssh.HostKeyCallback // nil when no file exists
	loaded bool
	sig    string // size and mtime of each file when cb was loaded
}

var (
	hostKeysMu sync.Mutex
	hostKeysBy = map[string]*hostKeys{}
	writerMu   sync.Mutex // serialises appends to any known_hosts file in this process
)

// hostKeysFor returns the shared checker for exactly this list of files.
func hostKeysFor(files []string) *hostKeys {
	k := strings.Join(files, "\x00")
	hostKeysMu.Lock()
	defer hostKeysMu.Unlock()
	if h := hostKeysBy[k]; h != nil {
		return h
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	dummy, _ := ssh.NewPublicKey(pub)
	h := &hostKeys{files: files, dummy: dummy}
	hostKeysBy[k] = h
	return h
}

// callback returns the checker for the files as they are now: it re-reads them when one
// changed (size or mtime) since the last read, so an edit by the operator or another
// process is seen by the next dial.
func (h *hostKeys) callback() (ssh.HostKeyCallback, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var (
		existing []string
		sig      strings.Builder
	)
	for _, f := range h.files {
		if st, err := os.Stat(f); err == nil {
			existing = append(existing, f)
			fmt.Fprintf(&sig, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
		}
	}
	if h.loaded && h.sig == sig.String() {
		return h.cb, nil
	}
	h.cb, h.sig = nil, sig.String()
	if len(existing) > 0 {
		ix, err := newKnownHostsIndex(existing...)
		if err != nil {
			return nil, fmt.Errorf("read known_hosts: %w", err)
		}
		h.cb = ix.callback()
	}
	h.loaded = true
	return h.cb, nil
}

// known returns the entries known_hosts holds for hostport.
func (h *hostKeys) known(hostport string) ([]knownhosts.KnownKey, error) {
	cb, err := h.callback()
	if err != nil || cb == nil {
		return nil, err
	}
	var ke *knownhosts.KeyError
	if err := cb(hostport, &net.TCPAddr{IP: net.IPv4zero}, h.dummy); errors.As(err, &ke) {
		return ke.Want, nil
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

// hostKeyPreference is OpenSSH's order of plain host-key algorithms.
var hostKeyPreference = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// algorithms returns the host-key algorithms to offer for hostport: only the types
// known_hosts holds for it, so the server cannot pick a type we cannot check. For an
// unknown host it returns nil (the library defaults).
func (h *hostKeys) algorithms(hostport string) ([]string, error) {
	known, err := h.known(hostport)
	if err != nil || len(known) == 0 {
		return nil, err
	}
	var types []string
	for _, k := range known {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			types = append(types, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		default:
			types = append(types, t)
		}
	}
	var algos []string
	for _, a := range hostKeyPreference {
		if slices.Contains(types, a) {
			algos = append(algos, a)
		}
	}
	for _, t := range types { // anything else known_hosts holds (certificates, sk keys)
		if !slices.Contains(algos, t) {
			algos = append(algos, t)
		}
	}
	return algos, nil
}

// check returns the HostKeyCallback for one endpoint.
func (h *hostKeys) check(e Endpoint) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		hostport := e.Addr()
		known, err := h.known(hostport)
		if err != nil {
			return err
		}
		if cb, _ := h.callback(); cb != nil {
			if err := cb(hostport, remote, key); err == nil {
				return nil
			}
		}
		kerr := &HostKeyError{
			Host: knownhosts.Normalize(hostport), Known: known, KnownHosts: h.files,
			Presented: key.Type() + " " + ssh.FingerprintSHA256(key),
		}
		if len(known) > 0 || e.StrictHostKey != "accept-new" {
			return kerr
		}
		return h.add(hostport, key)
	}
}

// add appends hostport's key to the first known_hosts file, unless another writer (in this
// process or another) recorded a key for it meanwhile; then that key must match.
func (h *hostKeys) add(hostport string, key ssh.PublicKey) error {
	writerMu.Lock()
	defer writerMu.Unlock()
	path := h.files[0]
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("accept-new: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("accept-new: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("accept-new: lock %s: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)

	h.mu.Lock()
	h.loaded, h.cb = false, nil // re-read: someone may have written it
	h.mu.Unlock()
	if known, err := h.known(hostport); err != nil {
		return err
	} else if len(known) > 0 {
		cb, _ := h.callback()
		if err := cb(hostport, &net.TCPAddr{IP: net.IPv4zero}, key); err != nil {
			return &HostKeyError{Host: knownhosts.Normalize(hostport), Known: known, KnownHosts: h.files,
				Presented: key.Type() + " " + ssh.FingerprintSHA256(key)}
		}
		return nil
	}
	w := bufio.NewWriter(f)
	if st, err := f.Stat(); err == nil && st.Size() > 0 && !endsWithNewline(f, st.Size()) {
		w.WriteByte('\n')
	}
	w.WriteString(knownhosts.Line([]string{knownhosts.Normalize(hostport)}, key) + "\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("accept-new: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("accept-new: sync %s: %w", path, err)
	}
	h.mu.Lock()
	h.loaded, h.cb = false, nil
	h.mu.Unlock()
	return nil
}

func endsWithNewline(f *os.File, size int64) bool {
	b := make([]byte, 1)
	_, err := f.ReadAt(b, size-1)
	return err == nil && b[0] == '\n'
}
