package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/latticepush/latticepush/internal/lab/wasmcloud-standin/standin"
)

// binary is the stand-in, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmcloud-standin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	binary, err = standin.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lattice is an in-process hub (JetStream domain "hub", server "hub-1") and one leaf linked to
// it by a leafnode remote, both on loopback with random ports.
type lattice struct {
	hub, leaf *server.Server
	leafPort  int
}

// startLattice starts the hub and a leaf; leafDomain "" means a leaf without JetStream, else
// the leaf runs its own JetStream with that domain. It returns once a leaf client reaches the
// hub's JetStream through the domain.
func startLattice(t *testing.T, leafDomain string) *lattice {
	t.Helper()
	hubOpts := &server.Options{
		ServerName: "hub-1", Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, JetStreamDomain: "hub", StoreDir: t.TempDir(),
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: -1},
	}
	hub := runServer(t, hubOpts)
	remote, err := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", hubOpts.LeafNode.Port))
	if err != nil {
		t.Fatal(err)
	}
	leafOpts := &server.Options{
		ServerName: "leaf-1", Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{remote}}}},
	}
	if leafDomain != "" {
		leafOpts.JetStream, leafOpts.JetStreamDomain, leafOpts.StoreDir = true, leafDomain, t.TempDir()
	}
	leaf := runServer(t, leafOpts)
	l := &lattice{hub: hub, leaf: leaf, leafPort: leafOpts.Port}

	nc := l.connect(t, leaf)
	js, err := jetstream.NewWithDomain(nc, "hub")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the hub's JetStream answers through the leaf", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ai, err := js.AccountInfo(ctx)
		return err == nil && ai.Domain == "hub"
	})
	return l
}

func runServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server %s did not start", opts.ServerName)
	}
	return s
}

func (l *lattice) connect(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// awaitLeafInterest waits until the leaf knows that someone (across the link) listens on subject.
func (l *lattice) awaitLeafInterest(t *testing.T, subject string) {
	t.Helper()
	eventually(t, "interest in "+subject+" reaches the leaf", func() bool {
		return l.leaf.GlobalAccount().SubscriptionInterest(subject)
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// process is one running stand-in.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

// startStandin runs the stand-in against the leaf with only the given environment (plus the
// NATS address), and kills it at the end of the test if it still runs.
func (l *lattice) startStandin(t *testing.T, env ...string) *process {
	t.Helper()
	return startProcess(t, append([]string{
		"WASMCLOUD_NATS_HOST=127.0.0.1", fmt.Sprintf("WASMCLOUD_NATS_PORT=%d", l.leafPort),
	}, env...)...)
}

func startProcess(t *testing.T, env ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stand-in pid %d stderr:\n%s", p.cmd.Process.Pid, p.stderr)
		}
	})
	return p
}

// exitCode waits for the process to end by itself; a hang is a test failure.
func (p *process) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("stand-in still running after 30s; stderr:\n%s", p.stderr)
		return -1
	}
}

func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

func newSeed(t *testing.T) (seed, id string) {
	t.Helper()
	kp, err := nkeys.CreateServer()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := kp.Seed()
	id, _ = kp.PublicKey()
	return string(s), id
}

// userSeed is a valid nkey seed of the wrong kind for a host (SU…).
func userSeed(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := kp.Seed()
	return string(s)
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) contains(sub string) bool { return strings.Contains(s.String(), sub) }
