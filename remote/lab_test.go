package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/remote"
)

// upLab brings up n real hosts (network namespaces, OpenSSH sshd, runit) for t.
func upLab(t testing.TB, name string, n int) *lab.Fleet {
	t.Helper()
	if testing.Short() {
		t.Skip("lab tests bring up network namespaces")
	}
	testenv.RequireRoot(t)
	if err := lab.CheckPrerequisites(); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	spec := lab.Spec{Name: fmt.Sprintf("r%d-%s", os.Getpid(), name), Binaries: map[string]string{"nats-server": testenv.NATSServer(t)}}
	for i := 1; i <= n; i++ {
		spec.Hosts = append(spec.Hosts, lab.HostSpec{Name: fmt.Sprintf("h%d", i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, err := lab.Up(ctx, spec)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Down(context.Background()); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return f
}

func labTarget(f *lab.Fleet, h lab.Host, user string) remote.Target {
	return remote.Target{Name: h.Name, Address: h.Addr.String(), User: user, Become: user != "root",
		IdentityFiles: []string{f.KeyPath}, IdentitiesOnly: true, KnownHostsFile: f.KnownHostsPath, ConfigFile: "none"}
}

func TestLab_PutBackupRestoreLockAndForward(t *testing.T) {
	f := upLab(t, "remote", 2)
	ctx := context.Background()
	h := f.Hosts[0]
	for _, user := range []string{"root", f.SudoUser} {
		t.Run(user, func(t *testing.T) {
			p := remote.NewPool(remote.Options{AgentSocket: "none"})
			defer p.Close()
			c, err := p.Connect(ctx, labTarget(f, h, user))
			if err != nil {
				t.Fatal(err)
			}
			path := "/etc/nats/remote-" + user + ".conf"
			if err := c.Put(ctx, path, []byte("v1\n"), 0o640, remote.StageOptions{Owner: "root:root"}); err != nil {
				t.Fatal(err)
			}
			if err := c.Put(ctx, path, []byte("v2\n"), 0o640, remote.StageOptions{}); err != nil {
				t.Fatal(err)
			}
			got, err := c.ReadFiles(ctx, []string{path, path + remote.BackupSuffix}, 1024)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[path].Content) != "v2\n" || string(got[path+remote.BackupSuffix].Content) != "v1\n" || got[path].Mode != 0o640 {
				t.Fatalf("after put: %+v", got)
			}
			if err := c.Restore(ctx, path); err != nil {
				t.Fatal(err)
			}
			res, err := c.Run(ctx, []string{"stat", "-c", "%U %a", path}, remote.RunOptions{})
			if err != nil || string(res.Stdout) != "root 640\n" {
				t.Fatalf("owner/mode after restore: %q %v (the file must be root's even for %s)", res.Stdout, err, user)
			}
			if got, _ := c.ReadFiles(ctx, []string{path}, 1024); string(got[path].Content) != "v1\n" {
				t.Fatalf("after restore: %q", got[path].Content)
			}
		})
	}

	// Lock contention between two controllers (two pools, two connections).
	a, b := remote.NewPool(remote.Options{AgentSocket: "none"}), remote.NewPool(remote.Options{AgentSocket: "none"})
	defer a.Close()
	defer b.Close()
	ca, err := a.Connect(ctx, labTarget(f, h, "root"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Connect(ctx, labTarget(f, h, f.SudoUser))
	if err != nil {
		t.Fatal(err)
	}
	la, err := ca.Lock(ctx, remote.LockInfo{User: "alice", Host: "ctl", PID: 1, Command: "apply"}, remote.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Lock(ctx, remote.LockInfo{User: "bob"}, remote.LockOptions{}); !errors.Is(err, remote.ErrLocked) {
		t.Fatalf("second controller: %v, want ErrLocked", err)
	}
	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Lock(ctx, remote.LockInfo{User: "bob"}, remote.LockOptions{}); err != nil {
		t.Fatalf("after unlock: %v", err)
	}

	// A NATS connection to a server listening only on the host's loopback.
	if _, err := ca.Run(ctx, remote.Script(`nohup /usr/local/bin/nats-server -a 127.0.0.1 -p 4222 >/dev/null 2>&1 &`), remote.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	var nc *nats.Conn
	for range 50 {
		if nc, err = nats.Connect("nats://127.0.0.1:4222", nats.SetCustomDialer(ca)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("NATS over the forward: %v", err)
	}
	defer nc.Close()
	if err := nc.Publish("x", nil); err != nil || nc.Flush() != nil || nc.ConnectedServerName() == "" {
		t.Fatalf("NATS round trip: %v", err)
	}
}

// BenchmarkLab_ConnectExecPut50 connects to 50 real hosts, runs one command and puts one
// 4 KiB file on each, all in parallel through one Pool (handshakes bounded at 8).
func BenchmarkLab_ConnectExecPut50(b *testing.B) {
	f := upLab(b, "rbench", 50)
	content := bytes.Repeat([]byte("x"), 4096)
	b.ResetTimer()
	for range b.N {
		p := remote.NewPool(remote.Options{AgentSocket: "none"})
		errs := make(chan error, len(f.Hosts))
		for _, h := range f.Hosts {
			go func() {
				c, err := p.Connect(context.Background(), labTarget(f, h, "root"))
				if err == nil {
					_, err = c.Run(context.Background(), []string{"true"}, remote.RunOptions{})
				}
				if err == nil {
					err = c.Put(context.Background(), "/etc/nats/bench.conf", content, 0o644, remote.StageOptions{})
				}
				errs <- err
			}()
		}
		for range f.Hosts {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		p.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/fleet")
}
