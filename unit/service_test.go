package unit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
)

// TestSystemdUnitsVerify runs `systemd-analyze verify` on every rendered unit of every
// systemd example, in a --root holding the machine's system units (for targets such as
// network-online.target), stub executables at the rendered binary paths and the host's
// rendered files. verify exits 0 on warnings too, so any output fails the test.
func TestSystemdUnitsVerify(t *testing.T) {
	sa := testenv.RequireCommand(t, "systemd-analyze")
	n := 0
	for _, name := range examples(t) {
		for _, users := range []bool{false, true} {
			inv := loadExample(t, name)
			for _, h := range inv.Hosts {
				h.ServiceManager = inventory.ServiceManagerSystemd // the runit examples' units too
				if users {                                         // every service as its own user (nats { user }, wasmcloud { user })
					if n := h.NATS(); n != nil {
						n.User = "nats"
					}
					if h.Wasmcloud != nil {
						h.Wasmcloud.User = "wasmcloud"
					}
				}
				files, err := Host(inv, h, Options{RevealSecrets: true})
				if err != nil {
					t.Fatal(err)
				}
				root := systemdRoot(t)
				var units []string
				for _, f := range files {
					writeUnder(t, root, f.Path, f.Content, f.Mode)
					if f.Kind == FileUnit {
						units = append(units, f.Path)
					}
				}
				for _, bin := range []string{binaryOf(h.NATS()), wasmcloudBinary(h), "/bin/mkdir", "/usr/bin/touch", "/bin/chown"} {
					if bin != "" {
						writeUnder(t, root, bin, []byte("#!/bin/sh\n"), 0o755)
					}
				}
				args := append([]string{"verify", "--root=" + root, "--man=no"}, units...)
				out, err := exec.Command(sa, args...).CombinedOutput()
				if err != nil || len(strings.TrimSpace(string(out))) > 0 {
					t.Errorf("%s/%s: systemd-analyze verify %v: %v\n%s", name, h.Name, units, err, out)
				}
				n += len(units)
			}
		}
	}
	t.Logf("%d rendered units verified", n)
}

// TestSystemdVerifyCatchesErrors shows the check above can fail: a broken directive is reported.
func TestSystemdVerifyCatchesErrors(t *testing.T) {
	sa := testenv.RequireCommand(t, "systemd-analyze")
	root := systemdRoot(t)
	writeUnder(t, root, "/usr/local/bin/x", []byte("#!/bin/sh\n"), 0o755)
	writeUnder(t, root, "/etc/systemd/system/x.service", []byte("[Service]\nExecStart=/usr/local/bin/x\nRestart=sometimes\n"), 0o644)
	out, _ := exec.Command(sa, "verify", "--root="+root, "--man=no", "/etc/systemd/system/x.service").CombinedOutput()
	if !strings.Contains(string(out), "sometimes") {
		t.Fatalf("systemd-analyze verify did not report a bad Restart=: %q", out)
	}
}

// systemdRoot makes a --root for systemd-analyze with a copy of the machine's system units.
func systemdRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	src := "/usr/lib/systemd/system"
	entries, err := os.ReadDir(src)
	if err != nil {
		testenv.Unavailable(t, "no systemd unit directory "+src+": "+err.Error())
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeUnder(t, root, filepath.Join(src, e.Name()), b, 0o644)
	}
	return root
}

func writeUnder(t *testing.T, root, path string, b []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
}

func binaryOf(n *inventory.NATS) string {
	if n == nil {
		return ""
	}
	return n.Binary
}

func wasmcloudBinary(h *inventory.Host) string {
	if h.Wasmcloud == nil {
		return ""
	}
	return h.Wasmcloud.Binary
}

// TestEnvFileShell sources a rendered environment file, holding label values no naive quoting
// survives, with the same `set -a; . file` the runit run script uses, and reads every value
// back unchanged.
func TestEnvFileShell(t *testing.T) {
	sh := testenv.RequireCommand(t, "sh")
	inv := loadExample(t, "minimal")
	h := inv.Host("edge-1")
	want := map[string]string{
		"dollar":    "$HOME ${PATH} $(id) `id`",
		"quotes":    `it's "quoted" \ back\slash \"`,
		"spaces":    "  lead and trail  ",
		"shellmeta": "a;b|c&d>e<f*?[x]#~!",
		"unicode":   "zone été",
	}
	h.Wasmcloud.Labels = want
	files, err := Host(inv, h, Options{RevealSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	env := fileAt(t, files, h.Wasmcloud.EnvFile)
	path := filepath.Join(t.TempDir(), "wasmcloud.env")
	if err := os.WriteFile(path, env.Content, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		got, err := exec.Command(sh, "-c", `set -a; . "$1"; set +a; eval 'printf %s "$WASMCLOUD_LABEL_'"$2"'"'`, "sh", path, k).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != v {
			t.Errorf("label %s: sh read %q, want %q", k, got, v)
		}
	}
	if env.Mode != 0o600 || !env.Secret {
		t.Errorf("env file mode %04o secret=%t: it holds the host seed", env.Mode, env.Secret)
	}

	h.Wasmcloud.Labels = map[string]string{"bad": "line\nbreak"}
	if _, err := Host(inv, h, Options{RevealSecrets: true}); err == nil {
		t.Error("a newline in a label value was rendered")
	}
	h.Wasmcloud.Labels = map[string]string{"host.os": "x"}
	if _, err := Host(inv, h, Options{RevealSecrets: true}); err == nil {
		t.Error("a label key that is no variable name was rendered")
	}
}
