package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Client runs commands, moves files and forwards connections on one host, over the one
// connection its Pool holds for it. It is safe for concurrent use; session channels are
// bounded by Options.MaxSessions (the SFTP session counts as one while it is open).
type Client struct {
	pool     *Pool
	target   Resolved
	ssh      *ssh.Client
	sessions chan struct{}

	becomeMu   sync.Mutex
	becomeMode string // "", "root", "nopass", "password"

	sftpMu  sync.Mutex
	sftp    *sftp.Client
	sftpEnd func()
}

func newClient(p *Pool, r Resolved, c *ssh.Client) *Client {
	return &Client{pool: p, target: r, ssh: c, sessions: make(chan struct{}, p.opt.MaxSessions)}
}

// Target returns the resolved target this client is connected to.
func (c *Client) Target() Resolved { return c.target }

// RunOptions adjust one Run.
type RunOptions struct {
	// Stdin, when set, is copied to the command's standard input.
	Stdin io.Reader
	// Become runs the command as root through sudo (see Client.Run).
	Become bool
	// Timeout bounds the command; 0 means Options.CommandTimeout.
	Timeout time.Duration
}

// Result is what a command produced.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// Run runs argv on the host. Every element is quoted (see Command), so values cannot
// inject shell; to run a script, pass Script(text, args...). With Become the command runs
// under `sudo -n`, or, when the host's sudo needs a password, `sudo -k -S -p ”` with the
// Pool's BecomePassword (asked once per Pool) written to stdin ahead of opts.Stdin; the
// password never appears on a command line or in an error. A user who is already root
// needs no sudo.
//
// A non-zero exit returns the Result and an *ExitError; a transport failure, timeout or
// cancellation returns another error. ctx cancels the command (the session is closed).
func (c *Client) Run(ctx context.Context, argv []string, opts RunOptions) (Result, error) {
	var prefix []byte
	full := argv
	if opts.Become {
		var err error
		if full, prefix, err = c.sudo(ctx, argv); err != nil {
			return Result{}, err
		}
	}
	line, err := Command(full)
	if err != nil {
		return Result{}, err
	}
	stdin := opts.Stdin
	if prefix != nil {
		if stdin == nil {
			stdin = bytes.NewReader(nil)
		}
		stdin = io.MultiReader(bytes.NewReader(prefix), stdin)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = c.pool.opt.CommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.exec(ctx, line, stdin)
	if err != nil {
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			res.ExitCode = exit.ExitStatus()
			return res, &ExitError{Argv: argv, Result: res, Signal: exit.Signal()}
		}
		return res, c.errorf("run %s: %w", argv[0], err)
	}
	return res, nil
}

// session opens a session channel, waiting for a free slot under MaxSessions. release
// must be called when the session is closed.
func (c *Client) session(ctx context.Context) (s *ssh.Session, release func(), err error) {
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	release = func() { <-c.sessions }
	type opened struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan opened, 1)
	go func() { s, err := c.ssh.NewSession(); ch <- opened{s, err} }()
	select {
	case o := <-ch:
		if o.err != nil {
			release()
			return nil, nil, fmt.Errorf("open session: %w", o.err)
		}
		return o.s, release, nil
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.s != nil {
				o.s.Close()
			}
			release()
		}()
		return nil, nil, ctx.Err()
	}
}

func (c *Client) exec(ctx context.Context, line string, stdin io.Reader) (Result, error) {
	s, release, err := c.session(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if stdin != nil {
		s.Stdin = stdin
	}
	if err := s.Start(line); err != nil {
		return Result{}, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Signal(ssh.SIGKILL)
		s.Close()
		<-done
		err = ctx.Err()
	}
	return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, err
}

// becomeProbe tells whether sudo is needed and whether it needs a password, in one exec.
const becomeProbe = `if [ "$(id -u)" = 0 ]; then echo root; elif sudo -n true 2>/dev/null; then echo nopass; else echo password; fi`

// sudo wraps argv for Become, probing the host's sudo once per Client.
func (c *Client) sudo(ctx context.Context, argv []string) ([]string, []byte, error) {
	c.becomeMu.Lock()
	defer c.becomeMu.Unlock()
	if c.becomeMode == "" {
		res, err := c.Run(ctx, Script(becomeProbe), RunOptions{Timeout: time.Minute})
		if err != nil {
			return nil, nil, c.errorf("check sudo: %w", err)
		}
		mode := strings.TrimSpace(string(res.Stdout))
		if mode == "password" {
			if _, err := c.pool.becomePassword(); err != nil {
				return nil, nil, c.errorf("%w", err)
			}
		}
		c.becomeMode = mode
	}
	switch c.becomeMode {
	case "root":
		return argv, nil, nil
	case "nopass":
		return append([]string{"sudo", "-n", "--"}, argv...), nil, nil
	default:
		pass, err := c.pool.becomePassword()
		if err != nil {
			return nil, nil, c.errorf("%w", err)
		}
		return append([]string{"sudo", "-k", "-S", "-p", "", "--"}, argv...), append(bytes.Clone(pass), '\n'), nil
	}
}

// DialContext opens a TCP connection from the host to addr (e.g. "127.0.0.1:8222") over a
// direct-tcpip channel of this client's connection, so ports that listen only on the
// host's loopback are reachable. Usable as net/http's Transport.DialContext.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.ssh.DialContext(ctx, network, addr)
	if err != nil {
		return nil, c.errorf("forward to %s: %w", addr, err)
	}
	return conn, nil
}

// Dial is DialContext without a context, for nats.SetCustomDialer.
func (c *Client) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.pool.opt.ConnectTimeout)
	defer cancel()
	return c.DialContext(ctx, network, addr)
}

// errorf returns an error about this client's host, naming it once (see HostError).
// An argument that is already a HostError for this host is given without its name.
func (c *Client) errorf(format string, a ...any) error {
	for i, v := range a {
		if err, ok := v.(error); ok {
			if he, ok := err.(*HostError); ok && he.Host == c.target.Name {
				a[i] = he.Err
			}
		}
	}
	return &HostError{Host: c.target.Name, Err: fmt.Errorf(format, a...)}
}
