package service

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/remote/sshtest"
	"github.com/latticepush/latticepush/supervisor"
)

// TestRunit_RealSupervisor drives a real runsvdir supervising a real nats-server through
// an in-process SSH connection: enable, restart (a new pid), lame-duck stop (the process
// exits and is not restarted), start again.
func TestRunit_RealSupervisor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runsvdir and nats-server")
	}
	runsvdir := testenv.RequireCommand(t, "runsvdir")
	testenv.RequireCommand(t, "sv")
	natsServer := testenv.NATSServer(t)

	root := t.TempDir()
	svDir, serviceDir := filepath.Join(root, "sv"), filepath.Join(root, "service")
	os.MkdirAll(filepath.Join(svDir, "nats"), 0o755)
	os.MkdirAll(serviceDir, 0o755)
	port := freePort(t)
	conf := filepath.Join(root, "nats.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n", port)), 0o644)
	run := fmt.Sprintf("#!/bin/sh\nexec %s -c %s 2>&1\n", natsServer, conf)
	os.WriteFile(filepath.Join(svDir, "nats", "run"), []byte(run), 0o755)
	past := time.Now().Add(-2 * time.Second)
	os.Chtimes(serviceDir, past, past)

	sup := exec.Command(runsvdir, serviceDir)
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("sv", "-w", "5", "down", filepath.Join(serviceDir, "nats")).Run()
		sup.Process.Signal(syscall.SIGHUP) // runsvdir TERMs its runsv children and exits
		sup.Wait()
	})

	srv := sshtest.New(t)
	c := dialTest(t, srv)
	m := New(supervisor.Runit{SvDir: svDir, ServiceDir: serviceDir}, c, Options{Wait: 15 * time.Second})
	ctx := context.Background()
	pidFile := filepath.Join(serviceDir, "nats", "supervise", "pid")

	if err := m.Enable(ctx, "nats"); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, "nats"); err != nil {
		t.Fatal(err)
	}
	waitActive(t, m, true)
	before, _ := os.ReadFile(pidFile)
	if err := m.Restart(ctx, "nats"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(pidFile)
	if strings.TrimSpace(string(before)) == strings.TrimSpace(string(after)) {
		st, _ := exec.Command("sv", "status", filepath.Join(serviceDir, "nats")).CombinedOutput()
		t.Fatalf("restart kept pid %s (%s)", before, st)
	}
	if err := m.GracefulStop(ctx, "nats", "USR2"); err != nil {
		t.Fatal(err)
	}
	waitActive(t, m, false)
	if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		conn.Close()
		t.Fatal("nats-server still answers after lame-duck stop")
	}
	if err := m.Start(ctx, "nats"); err != nil {
		t.Fatal(err)
	}
	waitActive(t, m, true)

	// A config the server refuses at start (its port taken): Start fails fast instead of
	// waiting out Options.Wait, and leaves the service down. Putting the old config back,
	// the restart used by a rollback (lame-duck stop, then start) brings it up again.
	squat, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	good, _ := os.ReadFile(conf)
	os.WriteFile(conf, []byte(fmt.Sprintf("listen: %s\n", squat.Addr())), 0o644)
	if err := m.GracefulStop(ctx, "nats", "USR2"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = m.Start(ctx, "nats")
	if err == nil || !strings.Contains(err.Error(), "keeps exiting") {
		t.Fatalf("start with a refused config: err %v, want a crash loop reported", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("a crash loop took %s to report", waited)
	}
	os.WriteFile(conf, good, 0o644)
	if err := m.GracefulStop(ctx, "nats", "USR2"); err != nil {
		t.Fatalf("stop after the crash loop: %v", err)
	}
	if err := m.Start(ctx, "nats"); err != nil {
		st, _ := exec.Command("sv", "status", filepath.Join(serviceDir, "nats")).CombinedOutput()
		t.Fatalf("start after restoring the config: %v (%s)", err, st)
	}
	waitActive(t, m, true)
}

func waitActive(t *testing.T, m Manager, want bool) {
	t.Helper()
	for range 50 {
		if ok, err := m.IsActive(context.Background(), "nats"); err != nil {
			t.Fatal(err)
		} else if ok == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("service never became active=%v", want)
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func dialTest(t *testing.T, srv *sshtest.Server) *remote.Client {
	t.Helper()
	dir := t.TempDir()
	signer, priv := sshtest.NewKey(t)
	sshtest.WriteKey(t, filepath.Join(dir, "id"), priv, nil)
	srv.Authorize(signer.PublicKey())
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(srv.KnownHostsLine()+"\n"), 0o600)
	p := remote.NewPool(remote.Options{AgentSocket: "none"})
	t.Cleanup(func() { p.Close() })
	c, err := p.Connect(context.Background(), remote.Target{Address: "127.0.0.1", Port: srv.Port(), User: "t",
		IdentityFiles: []string{filepath.Join(dir, "id")}, KnownHostsFile: filepath.Join(dir, "known_hosts"), ConfigFile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Services supervised ahead of their start (two in one command) are held down (each and its
// log service); one runs once enabled and started, and Disable leaves neither link nor down
// files; a service supervised and disabled without ever starting leaves nothing either.
func TestRunit_SuperviseHeldDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts runsvdir")
	}
	runsvdir := testenv.RequireCommand(t, "runsvdir")
	testenv.RequireCommand(t, "sv")
	root := t.TempDir()
	svDir, serviceDir := filepath.Join(root, "sv"), filepath.Join(root, "service")
	for _, name := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(svDir, name, "log"), 0o755)
		os.WriteFile(filepath.Join(svDir, name, "run"), []byte("#!/bin/sh\necho started\nexec sleep 1000\n"), 0o755)
		os.WriteFile(filepath.Join(svDir, name, "log", "run"), []byte("#!/bin/sh\nexec cat >"+filepath.Join(root, name+".log")+"\n"), 0o755)
	}
	os.MkdirAll(serviceDir, 0o755)
	past := time.Now().Add(-2 * time.Second)
	os.Chtimes(serviceDir, past, past)
	sup := exec.Command(runsvdir, serviceDir)
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{"a", "b"} {
			exec.Command("sv", "-w", "5", "down", filepath.Join(serviceDir, name)).Run()
		}
		sup.Process.Signal(syscall.SIGHUP)
		sup.Wait()
		// runsv processes exit after runsvdir: retry until their supervise files are gone.
		for i := 0; i < 50 && os.RemoveAll(root) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	srv := sshtest.New(t)
	m := New(supervisor.Runit{SvDir: svDir, ServiceDir: serviceDir}, dialTest(t, srv), Options{Wait: 15 * time.Second})
	ctx := context.Background()
	// Both in one command (one round trip), as apply's stage phase does for a host.
	if err := m.Supervise(ctx, "a", "b"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := os.Lstat(filepath.Join(serviceDir, name)); err != nil {
			t.Fatalf("%s not linked after Supervise: %v", name, err)
		}
	}
	// runsvdir picks both up at its next rescan; they stay down.
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command("sv", "status", filepath.Join(serviceDir, "a")).CombinedOutput()
		if err == nil {
			if !strings.HasPrefix(string(out), "down:") || !strings.Contains(string(out), "; down: log:") {
				t.Fatalf("supervised service not held down: %s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runsvdir did not pick the service up: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := m.Enable(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(svDir, "a", "down")); !os.IsNotExist(err) {
		t.Errorf("down file still there after enable (%v)", err)
	}
	start := time.Now()
	if err := m.Start(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	t.Logf("start of a supervised service took %s", time.Since(start))
	if out, _ := exec.Command("sv", "status", filepath.Join(serviceDir, "a")).CombinedOutput(); !strings.HasPrefix(string(out), "run:") || !strings.Contains(string(out), "; run: log:") {
		t.Fatalf("after enable and start: %s", out)
	}
	for _, name := range []string{"a", "b"} {
		if err := m.Disable(ctx, name); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{filepath.Join(serviceDir, name), filepath.Join(svDir, name, "down"), filepath.Join(svDir, name, "log", "down")} {
			if _, err := os.Lstat(p); !os.IsNotExist(err) {
				t.Errorf("%s left after disable (%v)", p, err)
			}
		}
	}
}
