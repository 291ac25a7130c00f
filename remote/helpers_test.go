package remote

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/latticepush/latticepush/remote/sshtest"
)

// fixture is one authorized key plus a known_hosts file, reusable across test servers.
type fixture struct {
	dir, key, knownHosts string
}

func newFixture(t *testing.T, servers ...*sshtest.Server) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.key = filepath.Join(f.dir, "id_ed25519")
	signer, priv := sshtest.NewKey(t)
	sshtest.WriteKey(t, f.key, priv, nil)
	f.knownHosts = filepath.Join(f.dir, "known_hosts")
	var lines string
	for _, s := range servers {
		s.Authorize(signer.PublicKey())
		lines += s.KnownHostsLine() + "\n"
	}
	if err := os.WriteFile(f.knownHosts, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) target(s *sshtest.Server) Target {
	return Target{Name: "h", Address: "127.0.0.1", Port: s.Port(), User: "tester",
		IdentityFiles: []string{f.key}, IdentitiesOnly: true, KnownHostsFile: f.knownHosts, ConfigFile: "none"}
}

func newPool(t *testing.T, opt Options) *Pool {
	if opt.AgentSocket == "" {
		opt.AgentSocket = "none"
	}
	p := NewPool(opt)
	t.Cleanup(func() { p.Close() })
	return p
}

func connect(t *testing.T, p *Pool, tg Target) *Client {
	t.Helper()
	c, err := p.Connect(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t *testing.T, c *Client, argv ...string) string {
	t.Helper()
	res, err := c.Run(context.Background(), argv, RunOptions{})
	if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	return string(res.Stdout)
}
