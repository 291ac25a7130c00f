package remote

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestResolve_SSHConfig(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "included")
	os.WriteFile(inc, []byte("Host *.edge\n  User edgeuser\n  ProxyCommand nc %h %p\n"), 0o600)
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte(`Include `+inc+`
Host hub-? !hub-9
  HostName 10.%h.example
  Port 2222
  User ops
  IdentityFile ~/.ssh/hub_key
  IdentitiesOnly yes
  ProxyJump admin@bastion:2200,inner
  UserKnownHostsFile /etc/lp/known_hosts /etc/lp/other
  StrictHostKeyChecking accept-new
Host bastion
  HostName 192.0.2.1
  ProxyJump outer
Host loop
  ProxyJump loop
Host *
  StrictHostKeyChecking no
`), 0o600)
	r := NewResolver()

	got, err := r.Resolve(Target{Address: "hub-1", ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	e := got.Endpoint
	if e.Host != "10.hub-1.example" || e.Port != 2222 || e.User != "ops" || !e.IdentitiesOnly || e.StrictHostKey != "accept-new" ||
		!slices.Equal(e.KnownHosts, []string{"/etc/lp/known_hosts", "/etc/lp/other"}) ||
		len(e.IdentityFiles) != 1 || !strings.HasSuffix(e.IdentityFiles[0], "/.ssh/hub_key") || strings.HasPrefix(e.IdentityFiles[0], "~") {
		t.Errorf("hub-1: %+v", e)
	}
	var hops []string
	for _, j := range got.Jumps {
		hops = append(hops, j.User+"@"+j.Addr())
	}
	if want := []string{localUser() + "@outer:22", "admin@192.0.2.1:2200", localUser() + "@inner:22"}; !slices.Equal(hops, want) {
		t.Errorf("jumps %v, want %v (bastion's own ProxyJump first)", hops, want)
	}

	// Inventory values win; ProxyJump none disables the config's jump.
	got, _ = r.Resolve(Target{Address: "hub-1", ConfigFile: cfg, User: "root", Port: 22, ProxyJump: "none", KnownHostsFile: "/k"})
	if got.User != "root" || got.Port != 22 || len(got.Jumps) != 0 || !slices.Equal(got.KnownHosts, []string{"/k"}) {
		t.Errorf("overrides: %+v jumps %v", got.Endpoint, got.Jumps)
	}

	// Negated pattern, Include, unsupported directive and StrictHostKeyChecking no reported.
	got, _ = r.Resolve(Target{Address: "hub-9.edge", ConfigFile: cfg})
	if got.Host != "hub-9.edge" || got.User != "edgeuser" || got.StrictHostKey != "yes" {
		t.Errorf("hub-9.edge: %+v", got.Endpoint)
	}
	w := strings.Join(got.Warnings, "\n")
	if !strings.Contains(w, "ProxyCommand") || !strings.Contains(w, "StrictHostKeyChecking no") {
		t.Errorf("warnings %q should name ProxyCommand and StrictHostKeyChecking no", w)
	}

	if got, _ := r.Resolve(Target{Address: "hub-9", ConfigFile: cfg}); got.Port != 22 || got.Host != "hub-9" {
		t.Errorf("hub-9 is excluded by !hub-9: %+v", got.Endpoint)
	}
	if _, err := r.Resolve(Target{Address: "loop", ConfigFile: cfg}); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("ProxyJump loop: got %v", err)
	}
	if _, err := r.Resolve(Target{Address: "x", ConfigFile: cfg, StrictHostKeyChecking: "no"}); err == nil {
		t.Error("strict_host_key_checking = no accepted")
	}
}
