package lab

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/internal/testenv"
)

// baseScript is the script `make deps` runs to build the systemd hosts' base tree.
const baseScript = "../tools/systemd-base.sh"

// runBaseScript runs the base tree script for cache, with the given Debian archive (or the
// machine's apt source when mirror is empty), and returns its output and exit code.
func runBaseScript(t *testing.T, cache, mirror string) (string, int) {
	t.Helper()
	script, err := filepath.Abs(baseScript)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, cache)
	cmd.Env = os.Environ()
	if mirror != "" {
		cmd.Env = append(cmd.Env, "LATTICEPUSH_DEBIAN_MIRROR="+mirror)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return string(out), code
}

// stampedTree makes cache/systemd-base-bookworm holding only the script's stamp file, saying
// recipe, and returns the tree's directory.
func stampedTree(t *testing.T, cache, recipe string) string {
	t.Helper()
	dest := filepath.Join(cache, "systemd-base-bookworm")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, systemdBaseStamp), []byte("recipe "+recipe+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dest
}

// TestSystemdBaseScript runs the script behind `make deps` that builds the Debian tree the
// lab's systemd hosts boot: with the tree already built it does nothing; with an archive it
// cannot reach it fails with an error that names the archive and what to do, leaves no partial
// tree in the cache, and keeps a tree of an older recipe where it was.
func TestSystemdBaseScript(t *testing.T) {
	src, err := os.ReadFile(baseScript)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RECIPE=(\d+)$`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s: no RECIPE=<n> line", baseScript)
	}
	recipe := string(m[1])

	t.Run("AlreadyBuilt", func(t *testing.T) {
		cache := t.TempDir()
		dest := stampedTree(t, cache, recipe)
		out, code := runBaseScript(t, cache, "http://127.0.0.1:1/unused")
		if code != 0 || out != "" {
			t.Fatalf("exit %d, output %q; want exit 0 and nothing done for a tree with the current stamp", code, out)
		}
		if entries, _ := os.ReadDir(dest); len(entries) != 1 {
			t.Errorf("the tree holds %d entries after the run, want only its stamp", len(entries))
		}
	})

	t.Run("ArchiveUnreachable", func(t *testing.T) {
		testenv.RequireRoot(t)
		testenv.RequireCommand(t, "debootstrap")
		// A loopback port nothing listens on: every request is refused at once.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		mirror := "http://" + ln.Addr().String() + "/debian"
		ln.Close()

		cache := t.TempDir()
		out, code := runBaseScript(t, cache, mirror)
		if code == 0 || !strings.Contains(out, "cannot reach the Debian archive at "+mirror) ||
			!strings.Contains(out, "LATTICEPUSH_DEBIAN_MIRROR") || !strings.Contains(out, "apt-get update") {
			t.Fatalf("exit %d, output:\n%s\nwant a failure naming the archive %s, how to check the network and the override", code, out, mirror)
		}
		if entries, _ := os.ReadDir(cache); len(entries) != 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("the failed build left %v in the cache", names)
		}

		// A tree of another recipe is rebuilt; when that fails, the old tree stays usable.
		cache = t.TempDir()
		dest := stampedTree(t, cache, "0")
		if out, code = runBaseScript(t, cache, mirror); code == 0 || !strings.Contains(out, "cannot reach the Debian archive") {
			t.Fatalf("rebuild of an old recipe's tree: exit %d, output:\n%s", code, out)
		}
		if b, err := os.ReadFile(filepath.Join(dest, systemdBaseStamp)); err != nil || string(b) != "recipe 0\n" {
			t.Errorf("the old tree's stamp after the failed rebuild: %q %v, want it kept", b, err)
		}
		if entries, _ := os.ReadDir(cache); len(entries) != 1 {
			t.Errorf("the cache holds %d entries after the failed rebuild, want only the old tree", len(entries))
		}
	})
}
