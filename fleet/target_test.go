package fleet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/remote/sshtest"
	"github.com/latticepush/latticepush/rollout"
)

// jumpFixture: in-process SSH servers on loopback, keys and known_hosts files in a temp dir,
// and HOME pointing at an empty directory, so nothing can come from ~/.ssh.
type jumpFixture struct {
	t   *testing.T
	dir string
}

func newJumpFixture(t *testing.T) *jumpFixture {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	return &jumpFixture{t: t, dir: t.TempDir()}
}

// key writes a fresh key, authorized on servers.
func (f *jumpFixture) key(name string, servers ...*sshtest.Server) string {
	signer, priv := sshtest.NewKey(f.t)
	path := filepath.Join(f.dir, name)
	sshtest.WriteKey(f.t, path, priv, nil)
	for _, s := range servers {
		s.Authorize(signer.PublicKey())
	}
	return path
}

// knownHosts writes a known_hosts file holding servers' keys.
func (f *jumpFixture) knownHosts(name string, servers ...*sshtest.Server) string {
	var b strings.Builder
	for _, s := range servers {
		b.WriteString(s.KnownHostsLine() + "\n")
	}
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// inv is an inventory of hosts (sorted by name, as Load leaves them).
func inv(hosts ...*inventory.Host) *inventory.Inventory {
	return &inventory.Inventory{Filename: "inventory.hcl", Hosts: hosts}
}

func sshHost(name string, port int, s inventory.SSH) *inventory.Host {
	s.Port, s.ConfigFile = port, "none"
	if s.StrictHostKeyChecking == "" {
		s.StrictHostKeyChecking = "yes"
	}
	return &inventory.Host{Name: name, Address: "127.0.0.1", SSH: s}
}

func jumpAt(s *sshtest.Server) string { return fmt.Sprintf("tester@127.0.0.1:%d", s.Port()) }

func connectAndRun(t *testing.T, p *remote.Pool, i *inventory.Inventory, host string) {
	t.Helper()
	c, err := p.Connect(context.Background(), Target(i, i.Host(host)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background(), []string{"echo", "through"}, remote.RunOptions{})
	if err != nil || string(res.Stdout) != "through\n" {
		t.Fatalf("run through the jump: %q %v", res.Stdout, err)
	}
}

// A bastion given as user@host:port, not an inventory host, is reached with the identity and
// known_hosts of the host that names it; ~/.ssh is empty.
func TestJump_BastionGetsTheInventorysSSHSettings(t *testing.T) {
	f := newJumpFixture(t)
	bastion, target := sshtest.New(t), sshtest.New(t)
	key := f.key("id_ed25519", bastion, target)
	kh := f.knownHosts("known_hosts", bastion, target)
	i := inv(sshHost("h1", target.Port(), inventory.SSH{User: "tester", IdentityFile: key, KnownHosts: kh, ProxyJump: jumpAt(bastion)}))

	p := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer p.Close()
	connectAndRun(t, p, i, "h1")
	if b, tg := bastion.Connections(), target.Connections(); b != 1 || tg != 1 {
		t.Fatalf("connections: bastion %d, target %d; want 1 and 1", b, tg)
	}
	r, err := p.Resolve(Target(i, i.Host("h1")))
	if err != nil {
		t.Fatal(err)
	}
	j := r.Jumps[0]
	if want := []string{kh, filepath.Join(os.Getenv("HOME"), ".ssh", "known_hosts")}; fmt.Sprint(j.KnownHosts) != fmt.Sprint(want) {
		t.Errorf("bastion known_hosts %v, want %v (the inventory's, then the user's)", j.KnownHosts, want)
	}
}

// A two-hop chain where the first hop is an inventory host (by name) with its own key and
// known_hosts, which neither the second hop nor the target accept, and whose own proxy_jump
// (set as if in defaults) passes through itself; the second hop is user@host:port and takes
// the target's settings.
func TestJump_TwoHopChainHopByHop(t *testing.T) {
	f := newJumpFixture(t)
	b1, b2, target := sshtest.New(t), sshtest.New(t), sshtest.New(t)
	bastionKey := f.key("id_bastion", b1)
	key := f.key("id_ed25519", b2, target)
	bastionKH := f.knownHosts("bastion_known_hosts", b1)
	kh := f.knownHosts("known_hosts", b2, target)
	chain := "bastion," + jumpAt(b2)
	i := inv(
		sshHost("bastion", b1.Port(), inventory.SSH{User: "tester", IdentityFile: bastionKey, KnownHosts: bastionKH, ProxyJump: chain}),
		sshHost("h1", target.Port(), inventory.SSH{User: "tester", IdentityFile: key, KnownHosts: kh, ProxyJump: chain}),
	)
	p := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer p.Close()
	connectAndRun(t, p, i, "h1")
	for name, s := range map[string]*sshtest.Server{"hop 1": b1, "hop 2": b2, "target": target} {
		if n := s.Connections(); n != 1 {
			t.Errorf("%s saw %d connections, want 1", name, n)
		}
	}
	// The same first hop by its address and port.
	i.Host("h1").SSH.ProxyJump = jumpAt(b1) + "," + jumpAt(b2)
	r, err := p.Resolve(Target(i, i.Host("h1")))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Jumps) != 2 || fmt.Sprint(r.Jumps[0].IdentityFiles) != fmt.Sprint([]string{bastionKey}) || r.Jumps[1].KnownHosts[0] != kh {
		t.Fatalf("hops %+v: want the bastion's own key first, then the target's known_hosts", r.Jumps)
	}
}

// A bastion presenting another key than known_hosts holds for it is refused: the error names
// the hop and the fingerprint it presented, and the host once.
func TestJump_WrongBastionKeyNamesTheHopOnce(t *testing.T) {
	f := newJumpFixture(t)
	bastion, impostor, target := sshtest.New(t), sshtest.New(t), sshtest.New(t)
	key := f.key("id_ed25519", impostor, target)
	// known_hosts line 1 holds the real bastion's key for the address the impostor answers on.
	hostport := knownhosts.Normalize(impostor.Addr())
	kh := filepath.Join(f.dir, "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{hostport}, bastion.HostKey)+"\n"+target.KnownHostsLine()+"\n"), 0o600)
	i := inv(sshHost("h1", target.Port(), inventory.SSH{User: "tester", IdentityFile: key, KnownHosts: kh, ProxyJump: jumpAt(impostor)}))

	p := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer p.Close()
	_, err := p.Connect(context.Background(), Target(i, i.Host("h1")))
	want := fmt.Sprintf("h1: via bastion tester@%s: HOST KEY CHANGED for %s: it presented ssh-ed25519 %s, but known_hosts holds %s:1 (ssh-ed25519 %s). "+
		"This may be an attack or a reinstalled host; confirm the new fingerprint out of band, then remove the old entry (ssh-keygen -R %s -f %s) and connect again",
		impostor.Addr(), hostport, ssh.FingerprintSHA256(impostor.HostKey), kh, ssh.FingerprintSHA256(bastion.HostKey), hostport, kh)
	if err == nil || err.Error() != want {
		t.Fatalf("error\n  %v\nwant\n  %s", err, want)
	}
	if target.Connections() != 0 {
		t.Error("the target was reached through a refused bastion")
	}
	// Labelled by callers that name hosts, it still names h1 once.
	if got := plan.OnHost("h1", err).Error(); got != want {
		t.Errorf("OnHost: %s", got)
	}
	// plan names the host itself: Facts.Err leaves it out, and the host key stops the plan.
	facts := New(i, p, Options{}).Observe(context.Background(), []plan.Probe{{Host: "h1"}})["h1"]
	if !facts.Refused || facts.Err != strings.TrimPrefix(want, "h1: ") {
		t.Fatalf("facts: refused %v, err %q", facts.Refused, facts.Err)
	}
}

// A bastion block (proxy_jump = bastion.east, which the inventory renders as its
// user@address:port) is reached with its own key and known_hosts, which the target does not
// accept.
func TestJump_BastionBlock(t *testing.T) {
	f := newJumpFixture(t)
	bastion, target := sshtest.New(t), sshtest.New(t)
	bastionKey, key := f.key("id_bastion", bastion), f.key("id_ed25519", target)
	bastionKH, kh := f.knownHosts("bastion_known_hosts", bastion), f.knownHosts("known_hosts", target)
	i := inv(sshHost("h1", target.Port(), inventory.SSH{User: "tester", IdentityFile: key, KnownHosts: kh, ProxyJump: jumpAt(bastion)}))
	i.Bastions = []*inventory.Bastion{{Name: "east", Address: "127.0.0.1",
		SSH: inventory.SSH{User: "tester", Port: bastion.Port(), IdentityFile: bastionKey, KnownHosts: bastionKH, StrictHostKeyChecking: "yes", ConfigFile: "none"}}}
	p := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer p.Close()
	connectAndRun(t, p, i, "h1")
	if b, tg := bastion.Connections(), target.Connections(); b != 1 || tg != 1 {
		t.Fatalf("connections: bastion %d, target %d; want 1 and 1", b, tg)
	}
}

// Apply observes each host in its lock's exec: the Observe that follows the lock takes the
// facts the lock's exec printed, once, and only when asked the same; otherwise it runs the
// facts script itself.
func TestLock_ObservesInTheSameExec(t *testing.T) {
	f := newJumpFixture(t)
	srv := sshtest.New(t)
	key := f.key("id_ed25519", srv)
	kh := f.knownHosts("known_hosts", srv)
	h := sshHost("h1", srv.Port(), inventory.SSH{User: "tester", IdentityFile: key, KnownHosts: kh})
	h.ServiceManager = "runit"
	i := inv(h)
	p := remote.NewPool(remote.Options{AgentSocket: "none"})
	defer p.Close()
	fl := New(i, p, Options{Lock: remote.LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}})
	file := filepath.Join(t.TempDir(), "app.conf")
	if err := os.WriteFile(file, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pr := plan.Probe{Host: "h1", Files: []string{file}, Want: map[string]string{file: hexSum([]byte("new\n"))}}
	fl.ObserveWhenLocking([]plan.Probe{pr})
	ctx := context.Background()
	host, err := fl.Host(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Lock(ctx, rollout.LockOwner{User: "tester", Host: "controller", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	// observe checks the facts Observe returns, and the execs since before (now, when -1).
	observeSince := func(what string, pr plan.Probe, before, execs int) {
		t.Helper()
		if before < 0 {
			before = srv.Execs()
		}
		facts := fl.Observe(ctx, []plan.Probe{pr})["h1"]
		if got := srv.Execs() - before; got != execs {
			t.Errorf("%s: %d execs, want %d", what, got, execs)
		}
		if ff := facts.Files[file]; facts.Err != "" || !ff.Exists || string(ff.Content) != "old\n" || facts.Lock != "" {
			t.Errorf("%s: facts %+v (file %+v), want the file's old content and no other run's lock", what, facts, ff)
		}
	}
	observe := func(what string, pr plan.Probe, execs int) { t.Helper(); observeSince(what, pr, -1, execs) }
	observe("right after the lock", pr, 0)
	observe("again", pr, 1)
	if err := host.Unlock(ctx, rollout.Closing{}); err != nil {
		t.Fatal(err)
	}
	if err := host.Lock(ctx, rollout.LockOwner{User: "tester", Host: "controller", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	other := pr
	other.Want = map[string]string{file: hexSum([]byte("newer\n"))}
	observe("asked something else than the lock's exec", other, 1)
	if err := host.Unlock(ctx, rollout.Closing{}); err != nil {
		t.Fatal(err)
	}

	// LockQuick, the first host's lock: the lock alone in its exec, the facts in one of their
	// own, which the Observe that follows waits for instead of asking again.
	before := srv.Execs()
	if err := host.(rollout.QuickLockHost).LockQuick(ctx, rollout.LockOwner{User: "tester", Host: "controller", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	observeSince("a quick lock and the observe after it (the lock's exec, the facts')", pr, before, 2)
	observe("again after a quick lock", pr, 1)
	if err := host.Unlock(ctx, rollout.Closing{}); err != nil {
		t.Fatal(err)
	}
}
