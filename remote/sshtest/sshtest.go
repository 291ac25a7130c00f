// Package sshtest runs an in-process SSH server on 127.0.0.1 for tests: public-key auth
// against keys the test authorizes, "exec" requests run with /bin/sh -c in a directory the
// test chooses, the "sftp" subsystem served by pkg/sftp on the real file system, and
// direct-tcpip forwarding to loopback addresses only. It is a test double of sshd, not a
// hardened server: commands run as the test's own user.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Server is a running test SSH server. Its methods are safe for concurrent use.
type Server struct {
	// Dir is where exec'd commands start; default the test's temp dir.
	Dir     string
	HostKey ssh.PublicKey
	// SFTPEnd, when set, is called once an SFTP session's client has ended it (the client's
	// end of input), before the server closes its side: what a host's sftp-server does
	// before it exits. Set it before the first connection.
	SFTPEnd func()

	ln     net.Listener
	signer ssh.Signer
	mu     sync.Mutex
	keys   map[string]bool
	conns  atomic.Int64
	execs  atomic.Int64
	wg     sync.WaitGroup
}

// New starts a server with a fresh ed25519 host key; it stops when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: t.TempDir(), HostKey: signer.PublicKey(), ln: ln, signer: signer, keys: map[string]bool{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// KnownHostsLine is the known_hosts line for this server's address and host key.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey)
}

// Authorize lets pub log in (as any user).
func (s *Server) Authorize(pub ssh.PublicKey) {
	s.mu.Lock()
	s.keys[string(pub.Marshal())] = true
	s.mu.Unlock()
}

// Connections counts SSH connections that completed a handshake.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Execs is how many commands the server has run (exec requests).
func (s *Server) Execs() int { return int(s.execs.Load()) }

// NewKey returns a fresh ed25519 signer, for the test to authorize or hold in an agent.
func NewKey(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

func (s *Server) serve() {
	defer s.wg.Done()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.keys[string(key.Marshal())] {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	cfg.AddHostKey(s.signer)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c, cfg)
	}
}

func (s *Server) handle(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	s.conns.Add(1)
	defer sc.Close()
	go func() {
		for r := range reqs { // keepalive@openssh.com and others: answer so clients see life
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go s.session(nc)
		case "direct-tcpip":
			go forward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *Server) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for r := range reqs {
		switch r.Type {
		case "exec":
			var p struct{ Cmd string }
			if ssh.Unmarshal(r.Payload, &p) != nil {
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, nil)
			s.exec(ch, p.Cmd)
			return
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(r.Payload, &p) != nil || p.Name != "sftp" {
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, nil)
			srv, err := sftp.NewServer(ch)
			if err == nil {
				srv.Serve()
				if s.SFTPEnd != nil {
					s.SFTPEnd()
				}
				srv.Close()
			}
			return
		default:
			if r.WantReply {
				r.Reply(r.Type == "env", nil)
			}
		}
	}
}

func (s *Server) exec(ch ssh.Channel, cmdline string) {
	s.execs.Add(1)
	cmd := exec.Command("/bin/sh", "-c", cmdline)
	cmd.Dir = s.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
	status := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				status = 128 + int(ws.Signal())
			} else {
				status = ee.ExitCode()
			}
		} else {
			fmt.Fprintln(ch.Stderr(), err)
			status = 127
		}
	}
	ch.CloseWrite()
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(status))
	ch.SendRequest("exit-status", false, b)
}

// forward serves direct-tcpip to loopback destinations only.
func forward(nc ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if ssh.Unmarshal(nc.ExtraData(), &p) != nil {
		nc.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	if ip := net.ParseIP(p.Host); ip == nil || !ip.IsLoopback() {
		nc.Reject(ssh.Prohibited, "sshtest forwards to loopback only")
		return
	}
	dst, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		dst.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(dst, ch); dst.(*net.TCPConn).CloseWrite() }()
	io.Copy(ch, dst)
	ch.Close()
	dst.Close()
}

// WriteKey writes priv as an unencrypted OpenSSH private key file (mode 0600) at path, and
// its public half at path+".pub".
func WriteKey(t testing.TB, path string, priv ed25519.PrivateKey, passphrase []byte) {
	t.Helper()
	var (
		block any
		err   error
	)
	if passphrase == nil {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", passphrase)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pemEncode(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(priv.Public())
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
}
