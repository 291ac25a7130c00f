package fleet

import "testing"

// TestConfigMonitorAddr: where the monitoring listener of a config on the host is reached,
// in each way a nats-server config can set it.
func TestConfigMonitorAddr(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{"listen: \"127.0.0.1:4222\"\nhttp: \"10.9.9.9:8222\"\n", "10.9.9.9:8222"},
		{"http: \"0.0.0.0:8222\"\n", "127.0.0.1:8222"},
		{"http: \"[::]:8222\"\n", "[::1]:8222"},
		{"http: 8333\n", "127.0.0.1:8333"},
		{"listen: \"10.0.0.5:4222\"\nhttp_port: 8222\n", "10.0.0.5:8222"},
		{"host: 10.0.0.6\nmonitor_port: 8222\n", "10.0.0.6:8222"},
		{"http_host: 10.0.0.7\nhttp_port: 8222\n", "10.0.0.7:8222"},
		{"HTTP: \"10.0.0.8:8222\"\n", "10.0.0.8:8222"},
		{"listen: \"127.0.0.1:4222\"\n", ""},
		{"http: {\n", ""},
		{"", ""},
	} {
		if got := configMonitorAddr([]byte(tc.config)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.config, got, tc.want)
		}
	}
}
