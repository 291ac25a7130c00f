package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/latticepush/latticepush/internal/testenv"
)

// upLab brings up a lab for t with n hosts named h1..hn, taken down when t ends. Under CI=true
// a lab that cannot start fails the test; elsewhere it is skipped with the reason.
func upLab(t *testing.T, name string, n int, mutate func(*Spec)) *Fleet {
	t.Helper()
	requireLab(t)
	spec := Spec{Name: fmt.Sprintf("t%d-%s", os.Getpid(), name), Binaries: map[string]string{"probe-true": "/bin/true"}}
	for i := 1; i <= n; i++ {
		spec.Hosts = append(spec.Hosts, HostSpec{Name: fmt.Sprintf("h%d", i)})
	}
	if mutate != nil {
		mutate(&spec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := Up(ctx, spec)
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

// requireLab ends the test unless a lab can start here (see testenv.Unavailable). `make unit`
// (-short) leaves lab tests out on purpose; `make test` and CI run them.
func requireLab(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("lab tests bring up network namespaces; not with -short")
	}
	testenv.RequireRoot(t)
	if err := CheckPrerequisites(); err != nil {
		testenv.Unavailable(t, err.Error())
	}
}

// run runs cmd over an SSH session and returns its trimmed stdout.
func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	out, err := tryRun(c, cmd)
	if err != nil {
		t.Fatalf("%s: %q: %v", c.RemoteAddr(), cmd, err)
	}
	return out
}

func tryRun(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if err := s.Run(cmd); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// put uploads data to dst the way a deployer must: a temporary name in the target directory,
// then an atomic rename over dst.
func put(t *testing.T, c *sftp.Client, dst string, data []byte) {
	t.Helper()
	tmp := path.Join(path.Dir(dst), ".tmp-"+path.Base(dst))
	w, err := c.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY)
	if err != nil {
		t.Fatalf("sftp create %s: %v", tmp, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("sftp write %s: %v", tmp, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("sftp close %s: %v", tmp, err)
	}
	if err := c.PosixRename(tmp, dst); err != nil {
		t.Fatalf("sftp rename %s: %v", dst, err)
	}
}

func TestFleet(t *testing.T) {
	f := upLab(t, "fleet", 6, nil)
	ctx := context.Background()
	if len(f.Hosts) != 6 || !f.Ready() {
		t.Fatalf("lab has %d hosts, ready=%v; want 6, ready", len(f.Hosts), f.Ready())
	}

	clients := map[string]*ssh.Client{}
	for _, h := range f.Hosts {
		c, err := f.Dial(ctx, h.Name, "root")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[h.Name] = c
		if got := run(t, c, "hostname"); got != h.Name {
			t.Errorf("%s: hostname %q", h.Name, got)
		}
		if got := run(t, c, "ip -4 -o addr show dev eth0 | awk '{print $4}'"); got != h.Addr.String()+"/24" {
			t.Errorf("%s: eth0 has %q, want %s/24", h.Name, got, h.Addr)
		}
		run(t, c, "test -x /usr/local/bin/probe-true && /usr/local/bin/probe-true")
	}

	t.Run("OwnFilesystemView", func(t *testing.T) {
		first := f.Hosts[0].Name
		sc, err := sftp.NewClient(clients[first])
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		// Overlay (/etc, /var), bind-mounted (/etc/nats, /var/lib/nats, /etc/wasmcloud, /root,
		// /etc/sv) and tmpfs (/tmp, /run) directories alike.
		// /usr/local/bin and /opt are the host's own too: binaries are installed there.
		paths := []string{"/etc/lab-probe", "/var/lab-probe", "/etc/nats/probe.conf", "/var/lib/nats/probe",
			"/etc/wasmcloud/probe.env", "/root/probe", "/etc/sv/probe", "/tmp/probe", "/run/probe",
			"/usr/local/bin/probe", "/opt/probe"}
		for _, p := range paths {
			put(t, sc, p, []byte("only on "+first+"\n"))
		}
		for _, p := range paths {
			if got := run(t, clients[first], "cat "+p); got != "only on "+first {
				t.Errorf("%s:%s holds %q", first, p, got)
			}
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s leaked onto the machine (stat: %v)", p, err)
			}
			for _, h := range f.Hosts[1:] {
				if out, err := tryRun(clients[h.Name], "test ! -e "+p); err != nil {
					t.Errorf("%s: %s exists on %s too (%s %v)", p, first, h.Name, out, err)
				}
			}
		}
	})

	t.Run("OwnBinaries", func(t *testing.T) {
		// A binary replaced by renaming a new file over it changes on that host only.
		first := f.Hosts[0].Name
		run(t, clients[first], "printf '#!/bin/sh\necho replaced\n' > /usr/local/bin/.p && chmod 755 /usr/local/bin/.p && mv /usr/local/bin/.p /usr/local/bin/probe-true")
		if got := run(t, clients[first], "/usr/local/bin/probe-true"); got != "replaced" {
			t.Errorf("%s: probe-true says %q after replacing it", first, got)
		}
		for _, h := range f.Hosts[1:] {
			if got := run(t, clients[h.Name], "/usr/local/bin/probe-true && echo original"); got != "original" {
				t.Errorf("%s: probe-true says %q, want the lab's", h.Name, got)
			}
		}
	})

	t.Run("StrictHostKeys", func(t *testing.T) {
		// Host 2's address with host 1's key on record must be refused.
		a, b := f.Hosts[0], f.Hosts[1]
		kh, err := os.ReadFile(f.KnownHostsPath)
		if err != nil {
			t.Fatal(err)
		}
		var swapped []string
		for _, line := range strings.Split(strings.TrimSpace(string(kh)), "\n") {
			if strings.HasPrefix(line, a.Addr.String()+" ") {
				swapped = append(swapped, b.Addr.String()+strings.TrimPrefix(line, a.Addr.String()))
			}
		}
		bad := *f
		bad.KnownHostsPath = t.TempDir() + "/known_hosts"
		if err := os.WriteFile(bad.KnownHostsPath, []byte(strings.Join(swapped, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if c, err := bad.Dial(ctx, b.Name, "root"); err == nil {
			c.Close()
			t.Fatalf("dialing %s with %s's host key on record succeeded", b.Name, a.Name)
		} else if !strings.Contains(err.Error(), "key mismatch") {
			t.Errorf("want a host key mismatch, got %v", err)
		}
	})

	t.Run("OpenSSHConfig", func(t *testing.T) {
		h := f.Hosts[2]
		out, err := exec.Command("ssh", "-F", f.SSHConfigPath, "-o", "BatchMode=yes", h.Name, "hostname").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != h.Name {
			t.Fatalf("ssh -F %s %s hostname: %v: %s", f.SSHConfigPath, h.Name, err, out)
		}
	})

	t.Run("RunitRestartOverSSH", func(t *testing.T) {
		h := f.Hosts[3].Name
		c := clients[h]
		sc, err := sftp.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		if err := sc.MkdirAll("/etc/sv/lab-sleeper"); err != nil {
			t.Fatal(err)
		}
		put(t, sc, "/etc/sv/lab-sleeper/run", []byte("#!/bin/sh\nexec sleep 600\n"))
		if err := sc.Chmod("/etc/sv/lab-sleeper/run", 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, c, "ln -s /etc/sv/lab-sleeper /etc/service/lab-sleeper")
		// runsvdir rescans /etc/service within about 5 s; `sv -w` then waits for the service.
		pid1 := waitPID(t, c, "lab-sleeper", "")
		run(t, c, "sv -w 5 restart lab-sleeper")
		// sv compares start times in whole seconds: on a service younger than a second,
		// `sv -w restart` may answer ok before runsv has replaced the process.
		pid2 := waitPID(t, c, "lab-sleeper", pid1)
		if out, err := tryRun(clients[f.Hosts[4].Name], "sv status lab-sleeper"); err == nil {
			t.Errorf("service exists on %s too: %s", f.Hosts[4].Name, out)
		}
		if out, err := f.Exec(ctx, h, "sv", "status", "lab-sleeper"); err != nil || !strings.Contains(string(out), "run: lab-sleeper: (pid "+pid2+")") {
			t.Errorf("Exec sv status: %v: %s", err, out)
		}
	})

	t.Run("LinkDownUp", func(t *testing.T) {
		h := f.Hosts[4].Name
		if err := f.LinkDown(h); err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", netip.AddrPortFrom(f.Hosts[4].Addr, 22).String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%s accepts connections with its link down", h)
		}
		if !f.Running(h) {
			t.Errorf("%s stopped running when its link went down", h)
		}
		if err := f.LinkUp(h); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for err := f.Probe(ctx, h); err != nil; err = f.Probe(ctx, h) {
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer after LinkUp: %v", h, err)
			}
		}
	})

	t.Run("SudoUser", func(t *testing.T) {
		h := f.Hosts[5].Name
		c, err := f.Dial(ctx, h, f.SudoUser)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := run(t, c, "id -un"); got != f.SudoUser {
			t.Errorf("logged in as %q, want %q", got, f.SudoUser)
		}
		run(t, c, "sudo -n true")
		if got := run(t, c, "sudo -n id -u"); got != "0" {
			t.Errorf("sudo -n id -u = %q", got)
		}
		if out, err := tryRun(c, "cat /etc/shadow"); err == nil {
			t.Errorf("%s reads /etc/shadow without sudo: %s", f.SudoUser, out)
		}
	})
}

// waitPID waits until runit reports svc running with a pid other than not, and returns it.
func waitPID(t *testing.T, c *ssh.Client, svc, not string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := tryRun(c, "sv status "+svc)
		if rest, ok := strings.CutPrefix(out, "run: "+svc+": (pid "); ok {
			if pid := rest[:strings.IndexByte(rest, ')')]; pid != not {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not running (with a pid other than %q) after 10 s: %q", svc, not, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
