package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/latticepush/latticepush/internal/labtest"
	"github.com/latticepush/latticepush/unit"
)

// TestSecurity_CLI runs the real latticepush binary against a lab with the managed fleet CA
// and checks that no secret value of the lab (passwords, host seeds, the CA key, every hub's
// private key) appears in any output, saved plan, rendered file or latticepush's records on
// hosts; that files holding secrets are 0600 on hosts; and that an edited plan, a plan whose
// inventory changed, and a changed host key are refused before anything changes.
func TestSecurity_CLI(t *testing.T) {
	env := labtest.Up(t, labtest.Spec{Edit: managedTLS})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := buildCLI(t)
	secrets := secretValues(t, filepath.Join(env.Dir, "secrets.json"))
	delete(secrets, "ca.cert") // the CA certificate is public: every host holds it
	// Each hub's private key, as apply writes it: its first line of base64.
	linv := env.Inventory(t)
	for _, h := range linv.Hubs() {
		_, key, _, err := unit.IssueHostCert(linv.Lattice.TLS, h)
		if err != nil {
			t.Fatal(err)
		}
		secrets["tls_keys."+h.Name] = strings.Split(string(key), "\n")[1]
	}
	inv := env.Path
	dir := t.TempDir()
	scanned, bytesScanned := 0, 0
	scan := func(what string, data []byte) {
		t.Helper()
		scanned++
		bytesScanned += len(data)
		for name, v := range secrets {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%s holds the secret %s", what, name)
			}
		}
	}
	run := func(wantCode int, args ...string) (stdout, stderr string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NO_COLOR=1"}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		scan("stdout of "+strings.Join(args, " "), o.Bytes())
		scan("stderr of "+strings.Join(args, " "), e.Bytes())
		if code != wantCode {
			t.Fatalf("latticepush %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, o.String(), e.String())
		}
		return o.String(), e.String()
	}
	scanFile := func(path string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		scan(path, b)
	}

	run(0, "validate", inv)
	run(0, "validate", "--json", inv)
	rendered := filepath.Join(dir, "rendered")
	run(0, "render", inv, "-o", rendered)
	filepath.WalkDir(rendered, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			scanFile(p)
		}
		return nil
	})
	run(0, "plan", inv)
	run(0, "plan", "--json", inv)
	first := filepath.Join(dir, "first.plan")
	run(0, "plan", "--out", first, inv)
	scanFile(first)
	if st, err := os.Stat(first); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file mode: %v %v, want 0600", st.Mode(), err)
	}
	run(0, "apply", first)
	run(0, "verify", inv)
	run(0, "verify", "--json", inv)

	t.Run("files holding secrets are 0600 on hosts", func(t *testing.T) {
		checked := 0
		for _, h := range env.Lab.Hosts {
			for _, p := range []string{natsConf, wasmEnv} {
				out, err := env.Lab.Exec(ctx, h.Name, "stat", "-c", "%a %U", p)
				if err != nil {
					continue // not on this host
				}
				checked++
				if got := strings.TrimSpace(string(out)); got != "600 root" {
					t.Errorf("%s:%s: mode and owner %s, want 600 root", h.Name, p, got)
				}
			}
			if out, err := env.Lab.Exec(ctx, h.Name, "sh", "-c", "stat -c '%a %U %n' /etc/nats/tls/*"); err == nil {
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					checked++
					if !strings.HasPrefix(l, "600 root ") {
						t.Errorf("%s: %s, want 600 root", h.Name, l)
					}
				}
			}
			for _, p := range []string{"/var/lib/latticepush/audit.log", "/var/log/nats-server/current"} {
				if b, err := env.Lab.Exec(ctx, h.Name, "cat", p); err == nil {
					scan(h.Name+":"+p, b)
				}
			}
		}
		t.Logf("%d files holding secrets checked on hosts: all 0600 root", checked)
	})

	// A pending change for the refusals below: a reload on every leaf.
	revision(t, env, 1)
	before := hashesOn(t, ctx, env, natsConf, wasmEnv)
	unchanged := func(what string) {
		t.Helper()
		if after := hashesOn(t, ctx, env, natsConf, wasmEnv); !equalStrings(before, after) {
			t.Fatalf("%s changed files on hosts", what)
		}
	}

	t.Run("edited plan file refused", func(t *testing.T) {
		p := filepath.Join(dir, "edited.plan")
		run(0, "plan", "--out", p, inv)
		b, _ := os.ReadFile(p)
		edited := bytes.Replace(b, []byte(`\"reload\"`), []byte(`\"restart\"`), 1)
		if bytes.Equal(edited, b) {
			edited = bytes.Replace(b, []byte(`reload`), []byte(`restart`), 1)
		}
		if bytes.Equal(edited, b) {
			t.Fatalf("the plan has no reload to edit:\n%s", b)
		}
		os.WriteFile(p, edited, 0o600)
		_, stderr := run(1, "apply", p)
		if !strings.Contains(stderr, "checksum") {
			t.Errorf("stderr %q does not say the checksum failed", stderr)
		}
		unchanged("an edited plan")
	})

	t.Run("plan refused after its inventory changed", func(t *testing.T) {
		p := filepath.Join(dir, "stale.plan")
		run(0, "plan", "--out", p, inv)
		revision(t, env, 2)
		_, stderr := run(1, "apply", p)
		if !strings.Contains(stderr, "inventory changed") {
			t.Errorf("stderr %q does not say the inventory changed", stderr)
		}
		unchanged("a plan of an older inventory")
	})

	t.Run("changed host key stops everything", func(t *testing.T) {
		kh, err := os.ReadFile(env.Lab.KnownHostsPath)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(env.Lab.KnownHostsPath, kh, 0o644)
		h, _ := env.Lab.Host("edge-2")
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		other, _ := ssh.NewPublicKey(pub)
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(string(kh), "\n"), "\n") {
			if strings.HasPrefix(l, h.Addr.String()+" ") {
				l = knownhosts.Line([]string{h.Addr.String()}, other)
			}
			lines = append(lines, l)
		}
		os.WriteFile(env.Lab.KnownHostsPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		stdout, stderr := run(1, "apply", "--auto-approve", inv)
		if !strings.Contains(stdout+stderr, "edge-2") || !strings.Contains(strings.ToLower(stdout+stderr), "host key") {
			t.Errorf("apply with edge-2's key changed does not name edge-2 and its host key:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
		unchanged("an apply with a changed host key")
		t.Logf("changed host key: apply refused with exit 1, no file changed on any host; it said: %s", firstLineOf(strings.TrimSpace(stderr)))
	})

	// With the key restored the pending change applies; -json output is scanned too.
	run(0, "apply", "--json", "--auto-approve", inv)
	run(0, "verify", "--json", inv)
	t.Logf("secret scan: %d outputs and files (%d bytes) scanned for %d secret values: none found", scanned, bytesScanned, len(secrets))
}

// buildCLI builds bin/latticepush into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "latticepush")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/latticepush")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build latticepush: %v\n%s", err, out)
	}
	return bin
}

// secretValues returns every string value in the secrets file, by its JSON path.
func secretValues(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(prefix+"."+k, x)
			}
		case string:
			if len(v) >= 8 {
				out[strings.TrimPrefix(prefix, ".")] = v
			}
		}
	}
	walk("", doc)
	if len(out) == 0 {
		t.Fatalf("no secrets in %s", path)
	}
	return out
}
