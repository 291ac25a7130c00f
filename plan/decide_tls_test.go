package plan

import "testing"

// A desired config that nats-server -t refuses only because the TLS files this apply creates
// are not on the host yet is checked later (apply's pre-check); any other problem is refused.
func TestMissingInPlace(t *testing.T) {
	u := &Unit{Files: []FileChange{{Path: "/etc/nats/tls/hub-1-6b5e.pem", Op: "create", InPlace: true},
		{Path: "/etc/nats/tls/ca-ec9f.pem", Op: "create", InPlace: true}}}
	missing := "nats-server: /dev/stdin:46:3: error parsing X509 certificate/key pair: open /etc/nats/tls/hub-1-6b5e.pem: no such file or directory " +
		"/dev/stdin:18:7: open /etc/nats/tls/ca-ec9f.pem: no such file or directory"
	for _, c := range []struct {
		err  string
		want bool
	}{
		{missing, true},
		{missing + " /dev/stdin:3:1: unknown field \"bogus\"", false},
		{"nats-server: /dev/stdin:18:7: open /etc/nats/tls/other.pem: no such file or directory", false},
		{"nats-server: /dev/stdin:2:1: unknown field \"x\"", false},
	} {
		if got := missingInPlace(c.err, u); got != c.want {
			t.Errorf("missingInPlace(%q) = %v, want %v", c.err, got, c.want)
		}
	}
}
