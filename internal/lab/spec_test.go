package lab

import (
	"net/netip"
	"strings"
	"testing"
)

func TestSpecCheck(t *testing.T) {
	host := func(name, addr string) HostSpec {
		h := HostSpec{Name: name}
		if addr != "" {
			h.Addr = netip.MustParseAddr(addr)
		}
		return h
	}
	tests := []struct {
		name    string
		spec    Spec
		wantErr string // "" means valid
	}{
		{"valid", Spec{Name: "demo", Hosts: []HostSpec{host("a", "198.18.0.11"), host("b", "")}}, ""},
		{"bad name", Spec{Name: "Demo_1", Hosts: []HostSpec{host("a", "")}}, "lab name"},
		{"no hosts", Spec{Name: "x"}, "0 hosts"},
		{"duplicate host", Spec{Name: "x", Hosts: []HostSpec{host("a", ""), host("a", "")}}, "listed twice"},
		{"duplicate address", Spec{Name: "x", Hosts: []HostSpec{host("a", "198.18.3.5"), host("b", "198.18.3.5")}}, "both have address"},
		{"outside range", Spec{Name: "x", Hosts: []HostSpec{host("a", "10.0.0.5")}}, "outside 198.18.0.0/15"},
		{"gateway address", Spec{Name: "x", Hosts: []HostSpec{host("a", "198.18.0.1")}}, "reserved"},
		{"two subnets", Spec{Name: "x", Hosts: []HostSpec{host("a", "198.18.0.11"), host("b", "198.18.1.11")}}, "outside the lab's subnet"},
		{"subnet not /24", Spec{Name: "x", Subnet: netip.MustParsePrefix("198.18.0.0/16"), Hosts: []HostSpec{host("a", "")}}, "want a /24"},
		{"binary path relative", Spec{Name: "x", Hosts: []HostSpec{host("a", "")}, Binaries: map[string]string{"nats-server": "bin/nats-server"}}, "not absolute"},
		{"binary name with slash", Spec{Name: "x", Hosts: []HostSpec{host("a", "")}, Binaries: map[string]string{"a/b": "/bin/true"}}, "not a plain file name"},
		{"ssh from unknown host", Spec{Name: "x", Hosts: []HostSpec{{Name: "a", SSHFrom: []string{"b"}}}}, `SSHFrom names "b"`},
		{"state dir /", Spec{Name: "x", StateDir: "/", Hosts: []HostSpec{host("a", "")}}, "state directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.check()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("check = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSpecDefaultsAndAddresses(t *testing.T) {
	s := Spec{Name: "demo", Hosts: []HostSpec{{Name: "a"}, {Name: "b", Addr: netip.MustParseAddr("198.18.0.12")}, {Name: "c"}}}
	if err := s.check(); err != nil {
		t.Fatal(err)
	}
	if s.StateDir != BaseDir+"/demo" || s.Subnet != netip.MustParsePrefix("198.18.0.0/24") {
		t.Fatalf("defaults: state %q, subnet %s", s.StateDir, s.Subnet)
	}
	got, err := s.assign()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"198.18.0.11", "198.18.0.12", "198.18.0.13"} // .12 is taken, so c gets .13
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("host %s: %s, want %s", s.Hosts[i].Name, got[i], want[i])
		}
	}
	full := Spec{Name: "full", Subnet: netip.MustParsePrefix("198.18.7.0/24")}
	for i := 0; i < MaxHosts+1; i++ {
		full.Hosts = append(full.Hosts, HostSpec{Name: "h" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)})
	}
	if err := full.check(); err == nil || !strings.Contains(err.Error(), "245 hosts") {
		t.Errorf("check with %d hosts = %v", len(full.Hosts), err)
	}
}

func TestAllocate(t *testing.T) {
	p := netip.MustParsePrefix
	used := map[netip.Prefix]string{
		p("198.18.1.0/24"): "lab a",
		p("198.18.2.0/23"): "interface eth9",
		p("10.0.0.0/8"):    "interface eth0",
	}
	got, err := allocate(netip.Prefix{}, used)
	if err != nil || got != p("198.18.4.0/24") {
		t.Errorf("allocate = %s, %v; want 198.18.4.0/24 (0 is reserved, 1-3 used)", got, err)
	}
	if _, err := allocate(p("198.18.3.0/24"), used); err == nil || !strings.Contains(err.Error(), "interface eth9") {
		t.Errorf("allocating a used subnet = %v, want an error naming its user", err)
	}
	if got, err := allocate(p("198.18.0.0/24"), used); err != nil || got != p("198.18.0.0/24") {
		t.Errorf("allocate(198.18.0.0/24) = %s, %v", got, err)
	}
	all := map[netip.Prefix]string{p("198.18.0.0/15"): "interface x"}
	if _, err := allocate(netip.Prefix{}, all); err == nil {
		t.Error("allocate with the whole range used succeeded")
	}
	// The last /24 of the range is reachable.
	almost := map[netip.Prefix]string{p("198.18.0.0/16"): "x", p("198.19.0.0/17"): "y", p("198.19.128.0/18"): "z",
		p("198.19.192.0/19"): "z", p("198.19.224.0/20"): "z", p("198.19.240.0/21"): "z", p("198.19.248.0/22"): "z",
		p("198.19.252.0/23"): "z", p("198.19.254.0/24"): "z"}
	if got, err := allocate(netip.Prefix{}, almost); err != nil || got != p("198.19.255.0/24") {
		t.Errorf("allocate = %s, %v; want 198.19.255.0/24", got, err)
	}
}

func TestSSHDConfigFrom(t *testing.T) {
	if got := sshdConfigFrom(netip.MustParseAddr("198.18.4.12"), nil); got != sshdConfig {
		t.Errorf("no allow-list changed sshd_config:\n%s", got)
	}
	got := sshdConfigFrom(netip.MustParseAddr("198.18.4.12"), []netip.Addr{netip.MustParseAddr("198.18.4.11")})
	if want := sshdConfig + "\n# Logins only from these lab hosts (and this one); every other source is refused.\nMatch Address *,!198.18.4.12,!198.18.4.11\n  DenyUsers *\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
