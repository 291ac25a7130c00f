package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configure a Pool. The zero value is usable; zero fields take the defaults noted.
type Options struct {
	// Resolver merges Targets with ssh_config; default NewResolver().
	Resolver *Resolver
	// AgentSocket is the ssh-agent socket; default $SSH_AUTH_SOCK, "none" disables the agent.
	AgentSocket string
	// Passphrase is asked for an encrypted key file that the agent does not hold, at most
	// once per file. Nil: such keys are skipped (and named in the authentication error).
	Passphrase func(keyFile string) ([]byte, error)
	// BecomePassword is asked at most once per Pool, and only when a host's sudo needs a
	// password. Nil: such hosts fail with an error saying so.
	BecomePassword func() ([]byte, error)
	// MaxHandshakes bounds SSH handshakes in flight overall, which bounds the CPU key
	// exchanges take here; default 32. Each direct host has its own sshd, whose MaxStartups
	// one connection per host cannot exceed.
	MaxHandshakes int
	// MaxBastionHandshakes bounds handshakes tunnelled through one bastion at once, which
	// all count against that bastion sshd's MaxStartups; default 8, under OpenSSH's 10.
	MaxBastionHandshakes int
	// MaxSessions bounds session channels (exec, SFTP) per connection; default 8, under
	// sshd's default MaxSessions of 10.
	MaxSessions int
	// ConnectTimeout bounds TCP connect plus handshake plus authentication; default 15s
	// (ssh_config ConnectTimeout, when set, wins for that host).
	ConnectTimeout time.Duration
	// KeepAlive is the keepalive@openssh.com interval (default 15s, ssh_config
	// ServerAliveInterval wins); a connection is closed after 3 unanswered keepalives.
	KeepAlive time.Duration
	// CommandTimeout bounds each Run that sets no Timeout of its own; default 10m.
	CommandTimeout time.Duration
	// Logger receives debug records, each with a "host" attribute; default discards.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Resolver == nil {
		o.Resolver = NewResolver()
	}
	if o.AgentSocket == "" {
		o.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	if o.MaxHandshakes <= 0 {
		o.MaxHandshakes = 32
	}
	if o.MaxBastionHandshakes <= 0 {
		o.MaxBastionHandshakes = 8
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 8
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 15 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Pool holds one SSH connection per host (and one per bastion, shared by every host behind
// it) and hands out Clients over them. It is safe for concurrent use; Close ends all
// connections.
type Pool struct {
	opt        Options
	keys       *keyring
	handshakes chan struct{}

	mu    sync.Mutex
	conns map[string]*conn // by Resolved.key() (or a bastion's chain key)

	becomeOnce sync.Once
	becomePass []byte
	becomeErr  error
}

// conn is one SSH connection being dialled or established.
type conn struct {
	ready      chan struct{}
	client     *ssh.Client
	err        error
	handshakes chan struct{} // bounds handshakes tunnelled through this connection
	c          *Client       // the Client over this connection, for targets
	bastion    atomic.Bool   // some connection was dialled through this one: never released
}

// NewPool returns a Pool with opt (see Options for defaults).
func NewPool(opt Options) *Pool {
	opt.defaults()
	return &Pool{
		opt:        opt,
		keys:       &keyring{agentSock: opt.AgentSocket, passphrase: opt.Passphrase, files: map[string]fileKey{}},
		handshakes: make(chan struct{}, opt.MaxHandshakes),
		conns:      map[string]*conn{},
	}
}

// Resolve merges t with ssh_config and defaults without connecting (for plan output and
// for showing Warnings before an apply).
func (p *Pool) Resolve(t Target) (Resolved, error) { return p.opt.Resolver.Resolve(t) }

// Connect returns the Client for t, dialling it (and its bastions) on first use; later
// calls share the connection. A failed dial is not cached: the next call dials again.
func (p *Pool) Connect(ctx context.Context, t Target) (*Client, error) {
	r, err := p.Resolve(t)
	if err != nil {
		return nil, err
	}
	for _, w := range r.Warnings {
		p.opt.Logger.Warn(w, "host", r.Name)
	}
	cn, err := p.connect(ctx, r.key(), r.Jumps, r.Endpoint)
	if err != nil {
		return nil, &HostError{Host: r.Name, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cn.c == nil {
		cn.c = newClient(p, r, cn.client)
	}
	return cn.c, nil
}

// connect returns the established connection for key, dialling it once.
func (p *Pool) connect(ctx context.Context, key string, jumps []Endpoint, e Endpoint) (*conn, error) {
	p.mu.Lock()
	cn := p.conns[key]
	if cn == nil {
		cn = &conn{ready: make(chan struct{}), handshakes: make(chan struct{}, p.opt.MaxBastionHandshakes)}
		p.conns[key] = cn
		p.mu.Unlock()
		cn.client, cn.err = p.dial(ctx, jumps, e)
		if cn.err != nil {
			p.forget(key, cn)
		} else {
			done := make(chan struct{}) // closed once the connection ended and was forgotten
			go func() { cn.client.Wait(); p.forget(key, cn); close(done) }()
			go p.keepAlive(cn.client, e, done)
		}
		close(cn.ready)
	} else {
		p.mu.Unlock()
	}
	select {
	case <-cn.ready:
		return cn, cn.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Release closes t's connection once nothing more is to be done on the host (a plan, once the
// host's facts are in), so that a large fleet does not hold every connection at once; a
// later Connect dials again. A connection other hosts were reached through is kept.
func (p *Pool) Release(t Target) {
	r, err := p.Resolve(t)
	if err != nil {
		return
	}
	key := r.key()
	p.mu.Lock()
	cn := p.conns[key]
	if cn == nil || cn.bastion.Load() {
		p.mu.Unlock()
		return
	}
	select {
	case <-cn.ready:
	default: // still dialling: whoever dials uses it
		p.mu.Unlock()
		return
	}
	delete(p.conns, key)
	p.mu.Unlock()
	if cn.client != nil {
		cn.client.Close()
	}
}

func (p *Pool) forget(key string, cn *conn) {
	p.mu.Lock()
	if p.conns[key] == cn {
		delete(p.conns, key)
	}
	p.mu.Unlock()
}

// dial connects to e, through the bastion connection for jumps when there are any.
func (p *Pool) dial(ctx context.Context, jumps []Endpoint, e Endpoint) (*ssh.Client, error) {
	timeout := p.opt.ConnectTimeout
	if e.ConnectTimeout > 0 {
		timeout = e.ConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	sem := p.handshakes
	var raw net.Conn
	if len(jumps) == 0 {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", e.Addr())
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", e.Addr(), err)
		}
		raw = c
	} else {
		last := jumps[len(jumps)-1]
		bastion, err := p.connect(ctx, chainKey(jumps), jumps[:len(jumps)-1], last)
		if err != nil {
			var hop *HopError
			if errors.As(err, &hop) { // a hop before last failed: name that one only
				return nil, err
			}
			return nil, &HopError{Hop: last, Err: err}
		}
		sem = bastion.handshakes
		bastion.bastion.Store(true)
		c, err := bastion.client.DialContext(ctx, "tcp", e.Addr())
		if err != nil {
			return nil, fmt.Errorf("connect to %s through bastion %s: %w", e.Addr(), last, err)
		}
		raw = c
	}
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		raw.Close()
		return nil, fmt.Errorf("wait to connect to %s: %w", e, ctx.Err())
	}
	return p.handshake(ctx, raw, e)
}

func chainKey(jumps []Endpoint) string {
	var parts []string
	for _, j := range jumps {
		parts = append(parts, j.User+"@"+j.Addr())
	}
	return strings.Join(parts, ">")
}

// preferredKex puts curve25519 first: much cheaper than the post-quantum hybrids for the
// same handshake count, which matters when hundreds of hosts are dialled from 2 cores.
var preferredKex = []string{
	ssh.KeyExchangeCurve25519, ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeECDHP256,
	ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521, ssh.KeyExchangeDH14SHA256, ssh.KeyExchangeDH16SHA512,
}

// handshake runs the SSH handshake on raw, bounded by ctx (closing raw cancels it: channel
// connections through a bastion have no deadlines).
func (p *Pool) handshake(ctx context.Context, raw net.Conn, e Endpoint) (*ssh.Client, error) {
	hk := hostKeysFor(e.KnownHosts)
	algos, err := hk.algorithms(e.Addr())
	if err != nil {
		raw.Close()
		return nil, err
	}
	keys, notes := p.keys.signers(e)
	signers := make([]ssh.Signer, len(keys))
	for i, k := range keys {
		signers[i] = k.Signer
	}
	cfg := &ssh.ClientConfig{
		User:              e.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback:   hk.check(e),
		HostKeyAlgorithms: algos,
		Config:            ssh.Config{KeyExchanges: preferredKex},
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(raw, e.Addr(), cfg)
	if err != nil {
		raw.Close()
		var hkErr *HostKeyError
		switch {
		case errors.As(err, &hkErr):
			return nil, hkErr
		case ctx.Err() != nil:
			return nil, fmt.Errorf("ssh handshake with %s: %w", e, ctx.Err())
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, authError(e, keys, notes, err)
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, fmt.Errorf("ssh handshake with %s: the host offers none of the key types known_hosts holds for it (%s): %w",
				e, strings.Join(algos, ", "), err)
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", e, err)
	}
	p.opt.Logger.Debug("connected", "host", e.Alias, "addr", e.Addr())
	return ssh.NewClient(c, chans, reqs), nil
}

// keepAlive sends keepalive@openssh.com every interval and closes the connection after
// three in a row go unanswered, so a dead peer surfaces as an error instead of a hang. It
// returns once done is closed (the connection ended).
func (p *Pool) keepAlive(c *ssh.Client, e Endpoint, done <-chan struct{}) {
	every := p.opt.KeepAlive
	if e.KeepAlive > 0 {
		every = e.KeepAlive
	}
	t := time.NewTicker(every)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() { _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); reply <- err }()
		select {
		case err := <-reply:
			if err != nil {
				c.Close()
				return
			}
			missed = 0
		case <-time.After(every):
			if missed++; missed >= 3 {
				p.opt.Logger.Warn("no answer to 3 keepalives; closing", "host", e.Alias)
				c.Close()
				return
			}
		case <-done:
			return
		}
	}
}

// Close closes every connection, all at once; Clients obtained from the pool stop working.
// Ending an SFTP session waits for the host's sftp-server to exit (a round trip), so
// connections closed one after the other would cost the CLI a round trip per host at exit.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[string]*conn{}
	p.mu.Unlock()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, cn := range conns {
		wg.Go(func() {
			<-cn.ready
			if cn.client == nil {
				return
			}
			if cn.c != nil {
				cn.c.closeSFTP()
			}
			if err := cn.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.keys.mu.Lock()
	if p.keys.agentC != nil {
		p.keys.agentC.Close()
		p.keys.agent, p.keys.agentC, p.keys.agentOK = nil, nil, false
	}
	p.keys.mu.Unlock()
	return errors.Join(errs...)
}

// becomePassword asks Options.BecomePassword once per pool.
func (p *Pool) becomePassword() ([]byte, error) {
	p.becomeOnce.Do(func() {
		if p.opt.BecomePassword == nil {
			p.becomeErr = errors.New("sudo needs a password on this host and none can be asked (run interactively, or allow the user passwordless sudo)")
			return
		}
		p.becomePass, p.becomeErr = p.opt.BecomePassword()
	})
	return p.becomePass, p.becomeErr
}
