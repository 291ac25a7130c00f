package inventory

import "testing"

func TestLocalAddr(t *testing.T) {
	for _, tc := range []struct {
		listen string
		want   string
	}{
		{"", "127.0.0.1:8222"},
		{"0.0.0.0", "127.0.0.1:8222"},
		{"::", "[::1]:8222"},
		{"[::]", "[::1]:8222"},
		{"0:0:0:0:0:0:0:0", "[::1]:8222"},
		{"127.0.0.1", "127.0.0.1:8222"},
		{"198.18.0.11", "198.18.0.11:8222"},
		{"::1", "[::1]:8222"},
		{"[fd00::1]", "[fd00::1]:8222"},
		{"nats.example", "nats.example:8222"},
	} {
		if got := LocalAddr(tc.listen, 8222); got != tc.want {
			t.Errorf("LocalAddr(%q, 8222) = %q, want %q", tc.listen, got, tc.want)
		}
	}
	n := &NATS{ClientHost: "0.0.0.0", ClientPort: 4222, HTTPHost: "::", HTTPPort: 8222}
	if got := n.LocalClientAddr(); got != "127.0.0.1:4222" {
		t.Errorf("LocalClientAddr = %q", got)
	}
	if got := n.LocalMonitorAddr(); got != "[::1]:8222" {
		t.Errorf("LocalMonitorAddr = %q", got)
	}
}
