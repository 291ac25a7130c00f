package fleet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
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
	left := names(t, dir)
	want := []string{"ca-dd.pem", "hub-1-cc.key", "hub-1-cc.pem", "hub-1-notes.pem", "hub-10-ee.pem", "other.key"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// The CA sweep removes every other managed CA file (one CA's serial, or a rotation's two) and
// keeps the kept ones, certificates, and files of other names.
func TestRemoveCAsScript(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca-aa.pem", "ca-bb-aa.pem", "ca-bb.pem", "ca-0c.pem", "ca-.pem", "ca-old.pem", "ca-aa-bb-cc.pem",
		"ca-bb.key", "hub-1-bb.pem", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(f string) string { return filepath.Join(dir, f) }
	if out, err := exec.Command("sh", "-c", removeCAsScript, "latticepush", p("ca-"), p("ca-bb.pem")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	left := names(t, dir)
	want := []string{"ca-.pem", "ca-aa-bb-cc.pem", "ca-bb.key", "ca-bb.pem", "ca-old.pem", "ca.pem", "hub-1-bb.pem"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// RemoveOldCAs refuses a sweep outside a tls directory's ca- files, or keeping nothing of it.
func TestRemoveOldCAs_Refuses(t *testing.T) {
	h := &host{}
	for _, s := range []plan.CASweep{
		{Prefix: "/etc/nats/ca-", Keep: []string{"/etc/nats/ca-bb.pem"}},
		{Prefix: "/etc/nats/tls/", Keep: []string{"/etc/nats/tls/ca-bb.pem"}},
		{Prefix: "/etc/nats/tls/ca-", Keep: nil},
		{Prefix: "/etc/nats/tls/ca-", Keep: []string{"/etc/nats/ca-bb.pem"}},
		{Prefix: "etc/nats/tls/ca-", Keep: []string{"etc/nats/tls/ca-bb.pem"}},
		{Prefix: "/etc/nats/x/../tls/ca-", Keep: []string{"/etc/nats/x/../tls/ca-bb.pem"}},
	} {
		if err := h.RemoveOldCAs(context.Background(), s); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("%+v: %v, want refused", s, err)
		}
	}
}

// names lists dir's entries by name.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
