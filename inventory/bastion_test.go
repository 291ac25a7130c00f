package inventory

import (
	"path/filepath"
	"testing"
)

func TestLoad_Bastions(t *testing.T) {
	inv, diags := Load(filepath.Join("testdata", "bastion.hcl"), Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(dumpDiags(diags))
	}
	if got := inv.Host("hub-1").SSH.ProxyJump; got != "ops@10.0.0.5:2222" {
		t.Errorf("proxy_jump = bastion.east is %q, want ops@10.0.0.5:2222", got)
	}
	if got := inv.Host("edge-1").SSH.ProxyJump; got != "10.9.0.5,root@10.0.0.11" {
		t.Errorf("a chain through bastion.west is %q", got)
	}
	if len(inv.Bastions) != 2 {
		t.Fatalf("bastions %+v", inv.Bastions)
	}
	east, west := inv.Bastions[0].SSH, inv.Bastions[1].SSH
	if east.User != "ops" || east.Port != 2222 || east.IdentityFile != "/keys/bastion" || east.KnownHosts != "/keys/known_hosts" || east.ProxyJump != "" {
		t.Errorf("east: its own settings over the defaults', without their proxy_jump: %+v", east)
	}
	if west.User != "root" || west.IdentityFile != "/keys/fleet" || west.StrictHostKeyChecking != "yes" || west.ProxyJump != "" {
		t.Errorf("west: the defaults' settings, without their proxy_jump: %+v", west)
	}
}

func TestLoad_BastionRules(t *testing.T) {
	tests := []struct {
		file string
		want []wantDiag
	}{
		{"bastion-unknown", []wantDiag{errorAt(11, "Unknown bastion", `There is no bastion "west". Did you mean "east"? Declared bastions: east.`)}},
		{"bastion-duplicate", []wantDiag{errorAt(9, "Duplicate bastion", "bastion-duplicate.hcl:5:1.")}},
		{"bastion-as-string", []wantDiag{
			errorAt(6, "Invalid address", "without spaces, a user or a scheme"),
			errorAt(13, "Bastion named as a string", "proxy_jump = bastion.east"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.file+".hcl")
			inv, diags := Load(path, Options{SkipSecrets: true})
			checkDiags(t, path, diags, tt.want...)
			if inv != nil {
				t.Error("Load returned an inventory along with errors")
			}
		})
	}
}
