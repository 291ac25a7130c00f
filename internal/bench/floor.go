package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sync/errgroup"
)

// FloorKex is the key exchange the floor, latticepush (remote prefers it) and the cold
// Ansible runs all use, so that the cold comparison pays the same handshake cost.
const FloorKex = "curve25519-sha256"

// Floor is what no fleet-wide SSH operation can beat: a fresh connection to every host
// (TCP, curve25519 key exchange, host key checked against known_hosts, public-key
// authentication), one session running `true`, all hosts at once.
type Floor struct {
	User       string
	KeyPath    string // OpenSSH private key
	KnownHosts string
	// Limit bounds connections in flight; 0 means all at once.
	Limit int
}

// Run connects to every address ("host:port") and runs `true` there; it returns the wall
// time and the first error.
func (f Floor) Run(ctx context.Context, addrs []string) (time.Duration, error) {
	pem, err := os.ReadFile(f.KeyPath)
	if err != nil {
		return 0, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return 0, fmt.Errorf("floor key: %w", err)
	}
	hk, err := knownhosts.New(f.KnownHosts)
	if err != nil {
		return 0, fmt.Errorf("floor known_hosts: %w", err)
	}
	cfg := &ssh.ClientConfig{
		User:            f.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hk,
		// Only the key type known_hosts holds, as latticepush does: no second round of
		// negotiation.
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Config:            ssh.Config{KeyExchanges: []string{ssh.KeyExchangeCurve25519}},
		Timeout:           30 * time.Second,
	}
	g, ctx := errgroup.WithContext(ctx)
	if f.Limit > 0 {
		g.SetLimit(f.Limit)
	}
	start := time.Now()
	for _, a := range addrs {
		g.Go(func() error { return execTrue(ctx, a, cfg) })
	}
	err = g.Wait()
	return time.Since(start), err
}

func execTrue(ctx context.Context, addr string, cfg *ssh.ClientConfig) error {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	if err != nil {
		raw.Close()
		return fmt.Errorf("%s: %w", addr, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	defer s.Close()
	if err := s.Run("true"); err != nil {
		return fmt.Errorf("%s: true: %w", addr, err)
	}
	return nil
}
