package remote

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// maxKeysOffered stays under sshd's default MaxAuthTries (6): every refused key counts.
const maxKeysOffered = 5

// keyring loads private keys and talks to ssh-agent for a Pool. Each key file is read (and
// its passphrase asked) at most once.
type keyring struct {
	agentSock  string
	passphrase func(path string) ([]byte, error)

	mu      sync.Mutex
	agent   agent.ExtendedAgent
	agentC  net.Conn
	agentOK bool
	files   map[string]fileKey
}

type fileKey struct {
	signer ssh.Signer
	pub    ssh.PublicKey // from the key or its .pub; set even when the key is encrypted
	err    error
}

// offered is a signer plus where it came from, for error messages.
type offered struct {
	ssh.Signer
	from string
}

func (k *keyring) agentClient() agent.ExtendedAgent {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.agentOK || k.agentSock == "" || k.agentSock == "none" {
		return k.agent
	}
	k.agentOK = true
	if conn, err := net.Dial("unix", k.agentSock); err == nil {
		k.agent, k.agentC = agent.NewClient(conn), conn
	}
	return k.agent
}

func (k *keyring) load(path string) fileKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	if fk, ok := k.files[path]; ok {
		return fk
	}
	fk := k.parse(path)
	k.files[path] = fk
	return fk
}

func (k *keyring) parse(path string) fileKey {
	var fk fileKey
	if b, err := os.ReadFile(path + ".pub"); err == nil {
		fk.pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		fk.err = err
		return fk
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if fk.pub == nil {
			fk.pub = missing.PublicKey
		}
		if k.passphrase == nil {
			fk.err = fmt.Errorf("%s is encrypted and no passphrase prompt is available (add it to ssh-agent)", path)
			return fk
		}
		pass, perr := k.passphrase(path)
		if perr != nil {
			fk.err = fmt.Errorf("passphrase for %s: %w", path, perr)
			return fk
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
		clear(pass)
	}
	if err != nil {
		fk.err = fmt.Errorf("load %s: %w", path, err)
		return fk
	}
	fk.signer, fk.pub = signer, signer.PublicKey()
	return fk
}

// signers returns the keys to offer to e, in order: its identity files (through the agent
// when the agent holds that key, so an encrypted key needs no prompt), then, unless
// IdentitiesOnly, the agent's other keys. It also returns notes on keys it could not use.
func (k *keyring) signers(e Endpoint) ([]offered, []string) {
	var (
		out   []offered
		notes []string
		seen  = map[string]bool{}
	)
	var agentKeys []ssh.Signer
	if a := k.agentClient(); a != nil {
		agentKeys, _ = a.Signers()
	}
	fromAgent := func(pub ssh.PublicKey) ssh.Signer {
		for _, s := range agentKeys {
			if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
				return s
			}
		}
		return nil
	}
	add := func(s ssh.Signer, from string) {
		id := string(s.PublicKey().Marshal())
		if !seen[id] && len(out) < maxKeysOffered {
			seen[id] = true
			out = append(out, offered{s, from})
		}
	}
	for _, path := range e.IdentityFiles {
		var fk fileKey
		if pubOnly, err := os.ReadFile(path + ".pub"); err == nil {
			if pub, _, _, _, err := ssh.ParseAuthorizedKey(pubOnly); err == nil {
				if s := fromAgent(pub); s != nil {
					add(s, path+" (agent)")
					continue
				}
			}
		}
		fk = k.load(path)
		switch {
		case fk.signer != nil:
			add(fk.signer, path)
		case fk.pub != nil && fromAgent(fk.pub) != nil:
			add(fromAgent(fk.pub), path+" (agent)")
		case errors.Is(fk.err, os.ErrNotExist):
		default:
			notes = append(notes, fk.err.Error())
		}
	}
	if !e.IdentitiesOnly {
		for _, s := range agentKeys {
			add(s, "agent")
		}
	}
	return out, notes
}

// authError explains a failed authentication with the keys that were offered.
func authError(e Endpoint, keys []offered, notes []string, err error) error {
	var tried []string
	for _, k := range keys {
		tried = append(tried, k.from+" "+ssh.FingerprintSHA256(k.PublicKey()))
	}
	msg := fmt.Sprintf("authenticate to %s: %v; keys offered: ", e, err)
	if len(tried) == 0 {
		msg += "none (set identity_file, or load a key into ssh-agent)"
	} else {
		msg += strings.Join(tried, ", ")
	}
	if len(notes) > 0 {
		msg += "; not usable: " + strings.Join(notes, "; ")
	}
	return &AuthError{msg: msg, err: err}
}

// AuthError reports that the server refused every key offered. It is not retried.
type AuthError struct {
	msg string
	err error
}

func (e *AuthError) Error() string { return e.msg }
func (e *AuthError) Unwrap() error { return e.err }
