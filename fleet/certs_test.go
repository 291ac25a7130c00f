package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// The removal script removes the previous files and every other <host>-<serial> certificate
// and key, and keeps the new ones, the CA and files of other names.
func TestRemoveCertsScript(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hub-1-aa.pem", "hub-1-aa.key", "hub-1-0b.pem", "hub-1-0b.key", "hub-1-cc.pem", "hub-1-cc.key",
		"ca-dd.pem", "hub-1-notes.pem", "hub-10-ee.pem", "other.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(f string) string { return filepath.Join(dir, f) }
	args := []string{"-c", removeCertsScript, "latticepush", p("hub-1-"), "2", p("hub-1-cc.pem"), p("hub-1-cc.key"), p("hub-1-aa.pem"), p("hub-1-aa.key")}
	if out, err := exec.Command("sh", args...).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	want := []string{"ca-dd.pem", "hub-1-cc.key", "hub-1-cc.pem", "hub-1-notes.pem", "hub-10-ee.pem", "other.key"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}
