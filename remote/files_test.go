package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latticepush/latticepush/remote/sshtest"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestFiles_StageSwapRestore(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "nats.conf")

	if err := c.Put(ctx, p, []byte("v1\n"), 0o640, StageOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stage(ctx, p, []byte("v2\n"), 0o600, StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "v1\n" {
		t.Fatalf("Stage changed the target: %q", b)
	}
	if fi, err := os.Stat(st.Temp); err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(st.Temp) != filepath.Dir(p) {
		t.Fatalf("staged copy %s: %v %v; want mode 0600 beside the target", st.Temp, fi, err)
	}
	if err := c.Swap(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	prev, _ := os.ReadFile(p + BackupSuffix)
	if string(got) != "v2\n" || string(prev) != "v1\n" {
		t.Fatalf("after swap: target %q backup %q", got, prev)
	}
	if err := c.Restore(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "v1\n" {
		t.Fatalf("after restore: %q", got)
	}

	// A file that did not exist before the swap is removed by Restore.
	fresh := filepath.Join(dir, "fresh")
	os.WriteFile(fresh+BackupSuffix, []byte("ancient"), 0o600) // must not come back
	if err := c.Put(ctx, fresh, []byte("new"), 0o644, StageOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("restore of a new file left %v", err)
	}

	st, _ = c.Stage(ctx, p, []byte("discard me"), 0o644, StageOptions{})
	if err := c.Discard(ctx, st); err != nil {
		t.Fatal(err)
	}
	assertNoStrays(t, filepath.Join(dir, "sub"))
}

func assertNoStrays(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), tmpMarker) {
			t.Errorf("stray temp file %s", e.Name())
		}
	}
}

func TestFiles_ReadFilesOneRoundTrip(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	dir := t.TempDir()
	small, big, weird := filepath.Join(dir, "small"), filepath.Join(dir, "big"), filepath.Join(dir, "it's $(x)")
	os.WriteFile(small, []byte("hello\x00\n"), 0o640)
	os.WriteFile(big, bytes.Repeat([]byte("x"), 5000), 0o600)
	os.WriteFile(weird, nil, 0o644)
	got, err := c.ReadFiles(context.Background(), []string{small, big, weird, filepath.Join(dir, "missing"), dir}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("hello\x00\n"))
	if s := got[small]; !s.Exists || s.Mode != 0o640 || s.Size != 7 || s.SHA256 != hex.EncodeToString(sum[:]) || string(s.Content) != "hello\x00\n" {
		t.Errorf("small: %+v", s)
	}
	if s := got[big]; s.Size != 5000 || s.Content != nil || s.SHA256 == "" {
		t.Errorf("big: size %d content %d bytes; want no content over the limit", s.Size, len(s.Content))
	}
	if s := got[weird]; !s.Exists || s.Size != 0 || s.Content == nil {
		t.Errorf("weird name: %+v", s)
	}
	if s := got[filepath.Join(dir, "missing")]; s.Exists {
		t.Errorf("missing: %+v", s)
	}
	if s := got[dir]; !s.Exists || s.Problem == "" {
		t.Errorf("directory: %+v, want a problem", s)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d connections", n)
	}
}

// cutProxy forwards TCP to dst and cuts both directions once limit bytes went upstream.
type cutProxy struct {
	ln    net.Listener
	dst   string
	limit atomic.Int64
	sent  atomic.Int64
}

func newCutProxy(t *testing.T, dst string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, dst: dst}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) serve(c net.Conn) {
	d, err := net.Dial("tcp", p.dst)
	if err != nil {
		c.Close()
		return
	}
	var once sync.Once
	cut := func() { once.Do(func() { c.Close(); d.Close() }) }
	go func() { io.Copy(c, d); cut() }()
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if lim := p.limit.Load(); lim >= 0 && p.sent.Load()+int64(n) > lim {
				n = int(lim - p.sent.Load())
				d.Write(buf[:max(n, 0)])
				cut()
				return
			}
			p.sent.Add(int64(n))
			d.Write(buf[:n])
		}
		if err != nil {
			cut()
			return
		}
	}
}

// TestFiles_CutConnectionNeverLeavesPartialFile cuts the link after K bytes for many K
// across a whole connect+put: the target is always the old or the new file, and the next
// run's lock (which sweeps the directory) leaves no temp file.
func TestFiles_CutConnectionNeverLeavesPartialFile(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	proxy := newCutProxy(t, srv.Addr())
	kh, _ := os.ReadFile(f.knownHosts)
	line := knownhosts.Line([]string{knownhosts.Normalize(proxy.ln.Addr().String())}, srv.HostKey)
	os.WriteFile(f.knownHosts, append(kh, line+"\n"...), 0o600)
	through := f.target(srv)
	through.Port = proxy.ln.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	p := filepath.Join(dir, "nats.conf")
	old := bytes.Repeat([]byte("old\n"), 10000)
	fresh := bytes.Repeat([]byte("new!"), 60000)
	ctx := context.Background()

	put := func(limit int64) error {
		proxy.limit.Store(limit)
		proxy.sent.Store(0)
		pool := NewPool(Options{AgentSocket: "none"})
		defer pool.Close()
		c, err := pool.Connect(ctx, through)
		if err != nil {
			return err
		}
		return c.Put(ctx, p, fresh, 0o644, StageOptions{})
	}
	os.WriteFile(p, old, 0o644)
	if err := put(-1); err != nil {
		t.Fatal(err)
	}
	total := proxy.sent.Load()
	direct := connect(t, newPool(t, Options{}), f.target(srv))

	r := rand.New(rand.NewPCG(42, 7))
	cuts := []int64{0, 1, 100, total - 1}
	for range 40 {
		cuts = append(cuts, r.Int64N(total))
	}
	var sawOld, sawNew int
	for _, k := range cuts {
		os.WriteFile(p, old, 0o644)
		os.Remove(p + BackupSuffix)
		err := put(k)
		got, _ := os.ReadFile(p)
		switch {
		case bytes.Equal(got, old):
			sawOld++
		case bytes.Equal(got, fresh):
			sawNew++
		default:
			t.Fatalf("cut at %d of %d bytes (err %v): target is %d bytes, neither old nor new", k, total, err, len(got))
		}
		l, err := direct.Lock(ctx, LockInfo{User: "next"}, LockOptions{Dir: filepath.Join(t.TempDir(), "lock"), Sweep: []string{dir}})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		assertNoStrays(t, dir)
	}
	if sawOld == 0 {
		t.Errorf("no cut left the old file: the proxy never cut early enough (total %d)", total)
	}
	t.Logf("%d cuts over %d bytes: %d old, %d new", len(cuts), total, sawOld, sawNew)
}

func TestLock_ContentionAndStale(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	a := connect(t, newPool(t, Options{}), f.target(srv))
	b := connect(t, newPool(t, Options{}), f.target(srv))
	ctx := context.Background()
	opts := LockOptions{Dir: filepath.Join(t.TempDir(), "lock")}
	me, _ := os.Hostname()

	la, err := a.Lock(ctx, LockInfo{User: "alice", Host: me, PID: os.Getpid(), Command: "apply 'x'\n"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Lock(ctx, LockInfo{User: "bob", Host: me, PID: os.Getpid()}, opts)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder.User != "alice" || le.Holder.Command != "apply 'x'\n" || le.Stale {
		t.Fatalf("second lock: %v (%+v), want live LockedError held by alice", err, le)
	}
	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	// A holder whose process on this machine is gone, but in another boot (so the pid is not
	// proof), is reported stale, not broken.
	dead := deadPID(t)
	if _, err := a.Lock(ctx, LockInfo{User: "ghost", Host: me, PID: dead, BootID: "an-earlier-boot"}, opts); err != nil {
		t.Fatal(err)
	}
	_, err = b.Lock(ctx, LockInfo{User: "bob", Host: me, PID: os.Getpid()}, opts)
	if !errors.As(err, &le) || !le.Stale || !strings.Contains(err.Error(), "latticepush force-unlock") {
		t.Fatalf("got %v, want a stale LockedError with guidance", err)
	}
	if err := b.ForceUnlock(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, LockInfo{User: "bob"}, opts); err != nil {
		t.Fatalf("after force-unlock: %v", err)
	}
}

func deadPID(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	return p.Pid
}

func TestForward_DialContextReachesLoopback(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	echo, _ := net.Listen("tcp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		for {
			conn, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(conn, conn); conn.Close() }()
		}
	}()
	conn, err := c.DialContext(context.Background(), "tcp", echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through forward: %q %v", buf, err)
	}
}

// TestPoolClose_EndsSFTPSessionsTogether: closing the pool ends every host's SFTP session at
// once. Each session's end here waits until all three hosts' sessions are ending (or 3 s),
// as a host's sftp-server takes a round trip to exit: one after the other, each would wait
// out its 3 s.
func TestPoolClose_EndsSFTPSessionsTogether(t *testing.T) {
	const hosts = 3
	var (
		mu        sync.Mutex
		ending    int
		together  = make(chan struct{})
		waitedOut atomic.Int32
	)
	end := func() {
		mu.Lock()
		if ending++; ending == hosts {
			close(together)
		}
		mu.Unlock()
		select {
		case <-together:
		case <-time.After(3 * time.Second):
			waitedOut.Add(1)
		}
	}
	var servers []*sshtest.Server
	for range hosts {
		s := sshtest.New(t)
		s.SFTPEnd = end
		servers = append(servers, s)
	}
	f := newFixture(t, servers...)
	p := NewPool(Options{AgentSocket: "none"})
	for i, s := range servers {
		tg := f.target(s)
		tg.Name = fmt.Sprintf("h%d", i)
		c := connect(t, p, tg)
		if _, err := c.Stage(context.Background(), filepath.Join(s.Dir, "f"), []byte("x"), 0o644, StageOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := waitedOut.Load(); n > 0 {
		t.Errorf("%d of %d SFTP sessions ended while the others were still open: the pool closed its connections one after the other", n, hosts)
	}
}
