package fleet

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// releaseArchive is a release-style archive whose nats-server answers --version with ver.
func releaseArchive(t *testing.T, ver string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := []byte("#!/bin/sh\necho \"nats-server: v" + ver + "\"\n")
	for _, f := range []struct {
		name string
		body []byte
	}{{"nats-server-v" + ver + "-linux-amd64/README.md", []byte("readme")}, {"nats-server-v" + ver + "-linux-amd64/nats-server", body}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func runSh(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("sh", append([]string{"-c", script, "latticepush"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestUnpackAndSwitchScripts runs the install scripts under sh: an archive is unpacked into
// its release directory (with the artifact's sha256 and the version cache), a binary the
// operator put at the binary path is kept aside, the path becomes a symlink; an archive
// whose binary is another version is refused and leaves nothing behind.
func TestUnpackAndSwitchScripts(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "opt")
	link := filepath.Join(dir, "bin", "nats-server")
	os.MkdirAll(filepath.Dir(link), 0o755)
	os.WriteFile(link, []byte("#!/bin/sh\necho 'nats-server: v2.14.10'\n"), 0o755)
	cache := filepath.Join(dir, "lib", "nats-versions")
	upload := filepath.Join(dir, "upload.tar.gz")
	os.WriteFile(upload, releaseArchive(t, "2.15.3"), 0o600)
	rel := filepath.Join(root, "2.15.3")
	kept := filepath.Join(root, "2.14.10", "nats-server")
	if out, err := runSh(t, unpackScript, upload, rel, "abc", "2.15.3", cache, link, kept, "nats-server"); err != nil {
		t.Fatalf("unpack: %v: %s", err, out)
	}
	if out, _ := exec.Command(filepath.Join(rel, "nats-server"), "--version").Output(); !strings.Contains(string(out), "v2.15.3") {
		t.Errorf("unpacked binary says %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(rel, ".artifact-sha256")); string(b) != "abc\n" {
		t.Errorf(".artifact-sha256 = %q", b)
	}
	if out, _ := exec.Command(kept, "--version").Output(); !strings.Contains(string(out), "v2.14.10") {
		t.Errorf("kept binary says %q", out)
	}
	if b, _ := os.ReadFile(cache); !strings.Contains(string(b), " nats-server: v2.15.3") || !strings.Contains(string(b), " nats-server: v2.14.10") {
		t.Errorf("version cache %q", b)
	}
	if _, err := os.Stat(upload); !os.IsNotExist(err) {
		t.Error("the upload was not removed")
	}
	if out, err := runSh(t, switchScript, link, filepath.Join(rel, "nats-server")); err != nil {
		t.Fatalf("switch: %v: %s", err, out)
	}
	if target, _ := os.Readlink(link); target != filepath.Join(rel, "nats-server") {
		t.Errorf("link -> %q", target)
	}
	if out, err := runSh(t, switchScript, link, filepath.Join(root, "9.9.9", "nats-server")); err == nil || !strings.Contains(out, "is not installed") {
		t.Errorf("switch to a missing release: %v %s", err, out)
	}

	// A release file whose binary is not the pinned version.
	os.WriteFile(upload, releaseArchive(t, "2.15.2"), 0o600)
	out, err := runSh(t, unpackScript, upload, filepath.Join(root, "2.15.4"), "abc", "2.15.4", cache, "", "", "nats-server")
	if err == nil || !strings.Contains(out, "the unpacked nats-server says 'nats-server: v2.15.2', not version 2.15.4") {
		t.Fatalf("wrong version: %v %s", err, out)
	}
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "2.14.10,2.15.3" {
		t.Errorf("install root holds %v after a refused unpack", names)
	}
	// A mismatched upload is removed on the host.
	os.WriteFile(upload, []byte("x"), 0o600)
	if out, err := runSh(t, checkUploadScript, upload, strings.Repeat("0", 64)); err == nil || !strings.Contains(out, "sha256 of the upload is") {
		t.Errorf("check: %v %s", err, out)
	}
	if _, err := os.Stat(upload); !os.IsNotExist(err) {
		t.Error("a mismatched upload was kept")
	}
}

// TestReleaseFilesReadOnceAndChecked: a release file is read once for every host, and one
// that no longer matches its planned sha256 is refused.
func TestReleaseFilesReadOnceAndChecked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.tar.gz")
	os.WriteFile(p, []byte("release"), 0o644)
	sum := "4f6ac0ebed0e2b8a0ba2e4e0e1bd9ad4c44b8e0bbc7b6f3b7e4a4a9d6f5dc0b6"
	var r releaseFiles
	if _, err := r.read(p, sum); err == nil || !strings.Contains(err.Error(), "changed since it was planned") {
		t.Fatalf("a file with another sha256: %v", err)
	}
	good := hashFile(p).SHA256
	a, err := r.read(p, good)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("changed"), 0o644)
	b, err := r.read(p, good)
	if err != nil || &a[0] != &b[0] {
		t.Errorf("second read: %v, same bytes %v", err, err == nil && &a[0] == &b[0])
	}
}

// TestWasmcloudReleaseScripts: the same scripts install a wasmCloud host release (its binary
// named wasmcloud, answering "wasmcloud <version>"), and the facts script reads it back.
func TestWasmcloudReleaseScripts(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "wasmcloud")
	link := filepath.Join(dir, "bin", "wasmcloud")
	os.MkdirAll(filepath.Dir(link), 0o755)
	os.WriteFile(link, []byte("#!/bin/sh\necho 'wasmcloud 1.9.2'\n"), 0o755)
	cache := filepath.Join(dir, "lib", "wasmcloud-versions")
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := []byte("#!/bin/sh\necho 'wasmcloud 1.9.3'\n")
	tw.WriteHeader(&tar.Header{Name: "wasmcloud", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	gz.Close()
	upload := filepath.Join(dir, "upload.tar.gz")
	os.WriteFile(upload, buf.Bytes(), 0o600)
	rel := filepath.Join(root, "1.9.3")
	kept := filepath.Join(root, "1.9.2", "wasmcloud")
	if out, err := runSh(t, unpackScript, upload, rel, "abc", "1.9.3", cache, link, kept, "wasmcloud"); err != nil {
		t.Fatalf("unpack: %v: %s", err, out)
	}
	if out, err := runSh(t, switchScript, link, filepath.Join(rel, "wasmcloud")); err != nil {
		t.Fatalf("switch: %v: %s", err, out)
	}
	out, err := exec.Command("sh", "-c", installFactsScript, "latticepush", link, cache, root, "wasmcloud").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	kv := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	rf := releaseFacts(kv)
	if rf.Installed != "1.9.3" || rf.BinaryPath != filepath.Join(rel, "wasmcloud") || rf.Releases["1.9.3"] != "abc" {
		t.Errorf("facts %+v", rf)
	}
	if _, ok := rf.Releases["1.9.2"]; !ok {
		t.Errorf("the kept 1.9.2 is not listed: %+v", rf)
	}
	if b, _ := os.ReadFile(cache); !strings.Contains(string(b), " wasmcloud 1.9.3") || !strings.Contains(string(b), " wasmcloud 1.9.2") {
		t.Errorf("version cache %q", b)
	}
	if got := versionOf("wasmcloud 1.9.2"); got != "1.9.2" {
		t.Errorf("versionOf = %q", got)
	}
}
