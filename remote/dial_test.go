package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latticepush/latticepush/remote/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestConnect_KeyFileAndOneConnectionPerHost(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	p := newPool(t, Options{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			c, err := p.Connect(context.Background(), f.target(srv))
			if err != nil {
				t.Error(err)
				return
			}
			res, err := c.Run(context.Background(), []string{"echo", fmt.Sprint(i)}, RunOptions{})
			if err != nil || strings.TrimSpace(string(res.Stdout)) != fmt.Sprint(i) {
				t.Errorf("run %d: %q %v", i, res.Stdout, err)
			}
		})
	}
	wg.Wait()
	if n := srv.Connections(); n != 1 {
		t.Errorf("server saw %d connections, want 1 shared by every Run", n)
	}
}

func TestConnect_ExitStatusAndStderr(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	res, err := c.Run(context.Background(), Script(`echo oops >&2; exit 3`), RunOptions{})
	var ee *ExitError
	if !errors.As(err, &ee) || res.ExitCode != 3 || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("got %v, exit %d; want ExitError 3 mentioning stderr", err, res.ExitCode)
	}
}

func TestConnect_Agent(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv) // known_hosts only; the key below lives in the agent
	_, priv := sshtest.NewKey(t)
	ring := agent.NewKeyring()
	if err := ring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(priv.Public())
	srv.Authorize(pub)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(ring, c)
		}
	}()
	tg := f.target(srv)
	tg.IdentityFiles, tg.IdentitiesOnly = nil, false
	c := connect(t, newPool(t, Options{AgentSocket: sock}), tg)
	if got := run(t, c, "echo", "agent"); got != "agent\n" {
		t.Fatalf("got %q", got)
	}

	tg.IdentitiesOnly = true // the agent key is not an identity file: nothing to offer
	_, err = newPool(t, Options{AgentSocket: sock}).Connect(context.Background(), tg)
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "keys offered: none") {
		t.Fatalf("IdentitiesOnly with agent-only key: got %v, want AuthError offering none", err)
	}
}

func TestConnect_EncryptedKeyAsksPassphraseOnce(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	signer, priv := sshtest.NewKey(t)
	srv.Authorize(signer.PublicKey())
	enc := filepath.Join(f.dir, "id_enc")
	sshtest.WriteKey(t, enc, priv, []byte("s3cret"))
	var asked int
	p := newPool(t, Options{Passphrase: func(path string) ([]byte, error) {
		asked++
		if path != enc {
			t.Errorf("asked for %s", path)
		}
		return []byte("s3cret"), nil
	}})
	tg := f.target(srv)
	tg.IdentityFiles = []string{enc}
	connect(t, p, tg)
	tg.User = "other" // a second connection, same key file
	connect(t, p, tg)
	if asked != 1 {
		t.Fatalf("passphrase asked %d times, want 1", asked)
	}
}

func TestConnect_HostKeyChangedIsRefusedWithFileAndLine(t *testing.T) {
	srv, impostor := sshtest.New(t), sshtest.New(t)
	f := newFixture(t, srv, impostor)
	// known_hosts line 2 holds the real server's key for the impostor's address.
	real := strings.Replace(srv.KnownHostsLine(), fmt.Sprint(srv.Port()), fmt.Sprint(impostor.Port()), 1)
	os.WriteFile(f.knownHosts, []byte("# comment\n"+real+"\n"), 0o600)
	_, err := newPool(t, Options{}).Connect(context.Background(), f.target(impostor))
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("got %v, want HostKeyError", err)
	}
	want := f.knownHosts + ":2"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(impostor.HostKey)) {
		t.Fatalf("error %q should name %s and the presented fingerprint", err, want)
	}
}

func TestConnect_UnknownHostRefusedUnlessAcceptNew(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	os.WriteFile(f.knownHosts, nil, 0o600)
	tg := f.target(srv)
	if _, err := newPool(t, Options{}).Connect(context.Background(), tg); !strings.Contains(fmt.Sprint(err), "not known") {
		t.Fatalf("strict: got %v, want unknown-host error", err)
	}
	if n := srv.Connections(); n != 0 {
		t.Fatalf("strict: %d connections completed", n)
	}

	tg.StrictHostKeyChecking = "accept-new"
	var wg sync.WaitGroup
	for range 12 { // separate pools: separate connections racing to record the key
		wg.Go(func() {
			p := NewPool(Options{AgentSocket: "none"})
			defer p.Close()
			if _, err := p.Connect(context.Background(), tg); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b, _ := os.ReadFile(f.knownHosts)
	if got := strings.Count(string(b), "\n"); got != 1 || strings.TrimSpace(string(b)) != srv.KnownHostsLine() {
		t.Fatalf("known_hosts after 12 concurrent accept-new dials:\n%s\nwant exactly %q", b, srv.KnownHostsLine())
	}
	tg.StrictHostKeyChecking = "yes"
	connect(t, newPool(t, Options{}), tg)
}

func TestConnect_ProxyJumpChainSharesBastions(t *testing.T) {
	b1, b2 := sshtest.New(t), sshtest.New(t)
	targets := []*sshtest.Server{sshtest.New(t), sshtest.New(t), sshtest.New(t)}
	f := newFixture(t, append([]*sshtest.Server{b1, b2}, targets...)...)
	cfg := filepath.Join(f.dir, "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`Host bastion2
  HostName 127.0.0.1
  Port %d
  ProxyJump jumper@127.0.0.1:%d
  IdentityFile %s
  UserKnownHostsFile %s
Host 127.0.0.1
  IdentityFile %s
  UserKnownHostsFile %s
`, b2.Port(), b1.Port(), f.key, f.knownHosts, f.key, f.knownHosts)), 0o600)
	p := newPool(t, Options{})
	for i, s := range targets {
		tg := f.target(s)
		tg.ConfigFile, tg.ProxyJump = cfg, "bastion2"
		r, err := p.Resolve(tg)
		if err != nil || len(r.Jumps) != 2 || r.Jumps[0].Port != b1.Port() || r.Jumps[0].User != "jumper" {
			t.Fatalf("resolve: %+v %v; want jumps b1 (jumper) then b2", r.Jumps, err)
		}
		c := connect(t, p, tg)
		if got := run(t, c, "echo", fmt.Sprint(i)); got != fmt.Sprint(i)+"\n" {
			t.Fatalf("through jumps: %q", got)
		}
	}
	for name, s := range map[string]*sshtest.Server{"bastion1": b1, "bastion2": b2} {
		if n := s.Connections(); n != 1 {
			t.Errorf("%s saw %d connections, want 1 carrying every target", name, n)
		}
	}
}

func TestConnect_CancelledContext(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks SSH
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newPool(t, Options{}).Connect(ctx, Target{Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, ConfigFile: "none"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestConnect_KnownHostsEditIsSeenByNextDial(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	os.WriteFile(f.knownHosts, nil, 0o600)
	p := newPool(t, Options{})
	if _, err := p.Connect(context.Background(), f.target(srv)); err == nil {
		t.Fatal("unknown host accepted")
	}
	os.WriteFile(f.knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o600)
	connect(t, p, f.target(srv))
}

// A Hop the caller only inherited from the target yields to what ssh_config says for that
// jump host; a Hop of its own wins over ssh_config, as a Target does.
func TestResolve_HopSettingsAndSSHConfig(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no default keys
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte(`Host configured
  UserKnownHostsFile /cfg/known_hosts
  IdentityFile /cfg/id
  StrictHostKeyChecking yes
  User cfguser
`), 0o600)
	inherited := Hop{Inherited: true, IdentityFiles: []string{"/inv/id"}, KnownHostsFiles: []string{"/inv/known_hosts", "/home/known_hosts"},
		StrictHostKeyChecking: "accept-new", User: "invuser"}
	own := inherited
	own.Inherited, own.Address = false, "10.0.0.9"
	tg := Target{Name: "h", Address: "10.0.0.1", ConfigFile: cfg, ProxyJump: "configured,plain,own,configured:2222",
		JumpHosts: map[string]Hop{"configured": inherited, "plain": inherited, "own": own, "configured:2222": own}}
	r, err := NewResolver().Resolve(tg)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Host, User string
		IDs, KH    []string
		Strict     string
	}
	got := make([]view, len(r.Jumps))
	for i, j := range r.Jumps {
		got[i] = view{j.Host, j.User, j.IdentityFiles, j.KnownHosts, j.StrictHostKey}
	}
	want := []view{
		{"configured", "cfguser", []string{"/cfg/id", "/inv/id"}, []string{"/cfg/known_hosts"}, "yes"},
		{"plain", "invuser", []string{"/inv/id"}, []string{"/inv/known_hosts", "/home/known_hosts"}, "accept-new"},
		{"10.0.0.9", "invuser", []string{"/inv/id"}, []string{"/inv/known_hosts", "/home/known_hosts"}, "accept-new"},
		// "configured:2222" is its own hop; ssh_config is matched on its Address, 10.0.0.9.
		{"10.0.0.9", "invuser", []string{"/inv/id"}, []string{"/inv/known_hosts", "/home/known_hosts"}, "accept-new"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hops\n  %+v\nwant\n  %+v", got, want)
	}
	if r.Jumps[3].Port != 2222 || r.Jumps[2].Alias != "own" {
		t.Errorf("the element's port wins, the alias is the name as written: %+v", r.Jumps[2:])
	}
}

// When the first hop of a chain fails, the error names that hop, once, and not the next.
func TestConnect_ChainNamesTheFailingHopOnce(t *testing.T) {
	b1, b2, target := sshtest.New(t), sshtest.New(t), sshtest.New(t)
	f := newFixture(t, b2, target) // known_hosts lacks b1
	tg := f.target(target)
	hop := Hop{IdentityFiles: []string{f.key}, KnownHostsFiles: []string{f.knownHosts}, User: "tester"}
	e1, e2 := fmt.Sprintf("127.0.0.1:%d", b1.Port()), fmt.Sprintf("127.0.0.1:%d", b2.Port())
	tg.ProxyJump, tg.JumpHosts = e1+","+e2, map[string]Hop{e1: hop, e2: hop}
	_, err := newPool(t, Options{}).Connect(context.Background(), tg)
	want := fmt.Sprintf("h: via bastion tester@127.0.0.1:%d: host key for [127.0.0.1]:%d is not known (it presented ssh-ed25519 %s); known_hosts files: %s. ",
		b1.Port(), b1.Port(), ssh.FingerprintSHA256(b1.HostKey), f.knownHosts)
	var hk *HostKeyError
	if !errors.As(err, &hk) || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "bastion") != 1 {
		t.Fatalf("got\n  %v\nwant it to start\n  %s", err, want)
	}
}

// TestRelease_ClosesAndRedialsButKeepsBastions: a released connection is closed and the next
// Connect dials again; a connection other hosts were reached through is kept.
func TestRelease_ClosesAndRedialsButKeepsBastions(t *testing.T) {
	srv, bastion, behind := sshtest.New(t), sshtest.New(t), sshtest.New(t)
	f := newFixture(t, srv, bastion, behind)
	p := newPool(t, Options{})
	run(t, connect(t, p, f.target(srv)), "true")
	p.Release(f.target(srv))
	if got := run(t, connect(t, p, f.target(srv)), "echo", "again"); got != "again\n" {
		t.Fatalf("after Release: %q", got)
	}
	if n := srv.Connections(); n != 2 {
		t.Errorf("server saw %d connections, want 2: released, then dialled again", n)
	}

	cfg := filepath.Join(f.dir, "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Host 127.0.0.1\n  IdentityFile %s\n  UserKnownHostsFile %s\n", f.key, f.knownHosts)), 0o600)
	tg := f.target(behind)
	tg.ConfigFile, tg.ProxyJump = cfg, fmt.Sprintf("jumper@127.0.0.1:%d", bastion.Port())
	run(t, connect(t, p, tg), "true")
	direct := f.target(bastion)
	direct.User = "jumper" // the same connection as the jump
	run(t, connect(t, p, direct), "true")
	p.Release(direct)
	if got := run(t, connect(t, p, tg), "echo", "through"); got != "through\n" {
		t.Fatalf("through the bastion after releasing it: %q", got)
	}
	if n := bastion.Connections(); n != 1 {
		t.Errorf("bastion saw %d connections, want 1: a connection others go through is not released", n)
	}
}
