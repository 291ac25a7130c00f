package unit

import (
	"strings"
	"testing"
)

// TestHost_ServiceUser: with nats { user } the server's config and TLS files are root's in
// the user's group, 0640, and its pid file is under /run/nats; the wasmCloud host's
// environment file (its seed) stays root's 0600, since the supervisor reads it as root.
func TestHost_ServiceUser(t *testing.T) {
	for _, name := range examples(t) {
		inv := loadExample(t, name)
		for _, h := range inv.Hosts {
			if n := h.NATS(); n != nil {
				n.User = "nats"
			}
			if h.Wasmcloud != nil {
				h.Wasmcloud.User = "wasmcloud"
			}
			files, err := Host(inv, h, Options{RevealSecrets: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				switch {
				case f.Kind == FileNATSConfig || f.Kind == FileTLS:
					if f.Group != "nats" || f.Mode != 0o640 {
						t.Errorf("%s/%s %s: group %q mode %o, want nats 0640", name, h.Name, f.Path, f.Group, f.Mode)
					}
					if f.Kind == FileNATSConfig && !strings.Contains(string(f.Content), `pid_file: "/run/nats/nats-server.pid"`) {
						t.Errorf("%s/%s %s: pid file not under /run/nats:\n%s", name, h.Name, f.Path, f.Content)
					}
				case f.Group != "":
					t.Errorf("%s/%s %s (%s): group %q, want root's", name, h.Name, f.Path, f.Kind, f.Group)
				case f.Secret && f.Mode != 0o600:
					t.Errorf("%s/%s %s: secret file mode %o", name, h.Name, f.Path, f.Mode)
				}
			}
		}
	}
}
