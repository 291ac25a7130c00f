package remote_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latticepush/latticepush/remote"
)

// TestLab_BecomeWithPassword runs Become against a real sudo that asks for a password: the
// password is asked once per Pool, fed on stdin, never shown; a wrong one fails clearly;
// SFTP under such a sudo fails with the promised error instead of hanging.
func TestLab_BecomeWithPassword(t *testing.T) {
	f := upLab(t, "become", 1)
	ctx := context.Background()
	h := f.Hosts[0]
	const user, pass = "pwuser", "S3cret-pw"
	for _, argv := range [][]string{
		{"useradd", "--create-home", "--shell", "/bin/bash", user},
		{"sh", "-c", "echo '" + user + ":" + pass + "' | chpasswd"},
		{"install", "-d", "-m", "700", "-o", user, "-g", user, "/home/" + user + "/.ssh"},
		{"install", "-m", "600", "-o", user, "-g", user, "/root/.ssh/authorized_keys", "/home/" + user + "/.ssh/authorized_keys"},
		{"sh", "-c", "echo '" + user + " ALL=(ALL) ALL' >/etc/sudoers.d/" + user + " && chmod 0440 /etc/sudoers.d/" + user},
	} {
		if _, err := f.Exec(ctx, h.Name, argv...); err != nil {
			t.Fatalf("set up %s: %v", user, err)
		}
	}
	target := labTarget(f, h, user)

	var asked atomic.Int32
	p := remote.NewPool(remote.Options{AgentSocket: "none", BecomePassword: func() ([]byte, error) {
		asked.Add(1)
		return []byte(pass), nil
	}})
	defer p.Close()
	c, err := p.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	// The host's sudo really needs a password (otherwise nothing below is tested).
	var exit *remote.ExitError
	if _, err := c.Run(ctx, []string{"sudo", "-n", "true"}, remote.RunOptions{}); !errors.As(err, &exit) {
		t.Fatalf("sudo -n true as %s: %v, want an exit error (password required)", user, err)
	}
	noSecret := func(what string, texts ...string) {
		t.Helper()
		for _, s := range texts {
			if strings.Contains(s, pass) {
				t.Errorf("%s shows the sudo password: %q", what, s)
			}
		}
	}
	become := remote.RunOptions{Become: true, Timeout: time.Minute}
	for i := range 2 {
		res, err := c.Run(ctx, []string{"id", "-u"}, become)
		if err != nil || string(res.Stdout) != "0\n" {
			t.Fatalf("id -u with become (run %d): %q %v", i+1, res.Stdout, err)
		}
		noSecret("id -u", string(res.Stdout), string(res.Stderr))
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("BecomePassword asked %d times, want 1", n)
	}
	// The command's own stdin follows the password, which sudo alone consumes.
	in := become
	in.Stdin = strings.NewReader("payload\n")
	if res, err := c.Run(ctx, []string{"cat"}, in); err != nil || string(res.Stdout) != "payload\n" {
		t.Fatalf("cat with become: %q %v, want exactly the caller's stdin", res.Stdout, err)
	}
	res, err := c.Run(ctx, []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, become)
	if !errors.As(err, &exit) || exit.Result.ExitCode != 3 || string(res.Stdout) != "out\n" {
		t.Fatalf("failing command with become: %q %v, want exit status 3", res.Stdout, err)
	}
	noSecret("a failing command", err.Error(), string(res.Stdout), string(res.Stderr))
	if string(res.Stderr) != "err\n" {
		t.Errorf("stderr with become: %q, want only the command's", res.Stderr)
	}

	// A wrong password: a clear error naming sudo's refusal, without the value.
	const wrong = "wr0ng-Pw-Zq"
	bad := remote.NewPool(remote.Options{AgentSocket: "none", BecomePassword: func() ([]byte, error) { return []byte(wrong), nil }})
	defer bad.Close()
	cb, err := bad.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	res, err = cb.Run(ctx, []string{"id", "-u"}, become)
	if err == nil {
		t.Fatalf("wrong password: id -u ran (%q)", res.Stdout)
	}
	t.Logf("wrong password: %v", err)
	if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "sudo") || !strings.Contains(msg, "password") {
		t.Errorf("wrong password error %q names neither sudo nor the password", err)
	}
	for _, s := range []string{err.Error(), string(res.Stdout), string(res.Stderr)} {
		if strings.Contains(s, wrong) {
			t.Errorf("wrong password shown: %q", s)
		}
	}

	// SFTP under a password-only sudo: the promised error, not a hang.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = c.Put(sctx, "/tmp/become-test.conf", []byte("x\n"), 0o644, remote.StageOptions{})
	if err == nil || sctx.Err() != nil || !strings.Contains(err.Error(), "needs passwordless sudo") {
		t.Fatalf("put with become and a password-only sudo: %v, want the passwordless-sudo error", err)
	}
	t.Logf("sftp with password sudo: %v", err)
	noSecret("the sftp error", err.Error())
	if n := asked.Load(); n != 1 {
		t.Errorf("BecomePassword asked %d times in all, want 1", n)
	}
}
