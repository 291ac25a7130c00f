package plan

import (
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// A private key in text latticepush shows (a log line, a diff of a file it did not render) is
// hidden whatever its value: the fleet CA's key and every host's key are PEM blocks.
func TestRedactSecrets_PrivateKeys(t *testing.T) {
	key := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oT0FiKjz6vSkoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n"
	out := string(RedactSecrets(&inventory.Inventory{}, []byte("before\n"+key+"after")))
	if strings.Contains(out, "MHcCAQEEIBkg4LVWM9") || !strings.Contains(out, inventory.Redacted) {
		t.Errorf("private key not redacted:\n%s", out)
	}
}
