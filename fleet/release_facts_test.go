package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallFactsScript runs the facts script of a pinned release under sh against a
// temporary install root: the machine, each release directory with its artifact's sha256,
// and the binary's version from its --version, then from the cache by its identity.
func TestInstallFactsScript(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, v := range []string{"2.14.10", "2.15.3"} {
		d := filepath.Join(root, v)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\necho \"nats-server: v" + v + "\"\n"
		if err := os.WriteFile(filepath.Join(d, "nats-server"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "2.15.3", ".artifact-sha256"), []byte("abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "nats-server")
	if err := os.Symlink(filepath.Join(root, "2.14.10", "nats-server"), link); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "versions")
	run := func() map[string]string {
		out, err := exec.Command("sh", "-c", installFactsScript, "latticepush", link, cache, root, "nats-server").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		kv := map[string]string{}
		for _, l := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				kv[k] = v
			}
		}
		return kv
	}
	kv := run()
	if kv["machine"] == "" || kv["release.2.15.3"] != "abc" || kv["release.2.14.10"] != "" || versionOf(kv["installed"]) != "2.14.10" {
		t.Fatalf("facts %v", kv)
	}
	if _, ok := kv["release.2.14.10"]; !ok {
		t.Fatal("release 2.14.10 not listed")
	}
	// The cache answers for the binary's identity without starting it.
	st, err := exec.Command("stat", "-L", "-c", "%d.%i|%s|%Y", link).Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cache, []byte(strings.TrimSpace(string(st))+" nats-server: v9.9.9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := versionOf(run()["installed"]); got != "9.9.9" {
		t.Errorf("installed from the cache: %q, want 9.9.9", got)
	}
}
