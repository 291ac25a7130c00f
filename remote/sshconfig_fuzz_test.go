package remote

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzResolveSSHConfig feeds an arbitrary ssh_config file to Resolve, for an arbitrary host
// alias: no panic; either an error naming the host, or an endpoint with a host and a port
// number, and a jump chain no deeper than the bound; resolving again gives the same answer.
// Include lines are left out: they read other files of this machine, which the fuzzer does
// not control.
func FuzzResolveSSHConfig(f *testing.F) {
	f.Add(`Host hub-? !hub-9
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
`, "hub-1")
	f.Add("Host *.edge\n  User edgeuser\n  ProxyCommand nc %h %p\n", "edge-1.edge")
	f.Add("Host loop\n  ProxyJump loop\n", "loop")
	f.Add("Host hub-1\n  Port 70000\n", "hub-1")
	f.Add("Host lab-*\n\tHostName 10.99.0.%n\n\tUser root\n\tConnectTimeout 5\n\tServerAliveInterval 15\n\tServerAliveCountMax 3\n", "lab-hub-1")
	f.Add("Match host x\n  User y\n", "x")
	f.Fuzz(func(t *testing.T, config, alias string) {
		if strings.Contains(strings.ToLower(config), "include") {
			t.Skip("Include reads this machine's files")
		}
		path := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		tgt := Target{Name: "fuzz-host", Address: alias, ConfigFile: path}
		r := NewResolver()
		res, err := r.Resolve(tgt)
		if err != nil {
			var he *HostError
			if !errors.As(err, &he) || he.Host != "fuzz-host" {
				t.Fatalf("error not naming the host: %v", err)
			}
		} else {
			for i, e := range append([]Endpoint{res.Endpoint}, res.Jumps...) {
				if e.Host == "" || e.Port < 1 || e.Port > 65535 {
					t.Fatalf("endpoint %d: host %q port %d", i, e.Host, e.Port)
				}
			}
			if len(res.Jumps) > maxJumpDepth+1 {
				t.Fatalf("%d jumps", len(res.Jumps))
			}
		}
		again, err2 := NewResolver().Resolve(tgt)
		if (err == nil) != (err2 == nil) || (err == nil && !reflect.DeepEqual(res, again)) {
			t.Fatalf("second resolve differs: %+v %v / %+v %v", res, err, again, err2)
		}
	})
}
