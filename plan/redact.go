package plan

import (
	"bytes"
	"regexp"
	"sort"

	"github.com/latticepush/latticepush/inventory"
)

// redactor hides secrets in content shown to people: diffs of a host's current files.
//
// Known secrets (the inventory's current values) become their placeholders, exactly as the
// display rendering shows them, so an unchanged secret makes no diff line. A secret the
// inventory no longer holds (one that was rotated) is unknown here; the patterns below catch
// it where latticepush renders secrets, and it shows as "(sensitive)".
type redactor struct {
	pairs [][2][]byte // value, placeholder; longest value first
}

func newRedactor(inv *inventory.Inventory) *redactor {
	r := &redactor{}
	add := func(s inventory.Secret) {
		if s.IsSet() {
			r.pairs = append(r.pairs, [2][]byte{[]byte(s.Reveal()), []byte(s.Placeholder())})
		}
	}
	add(inv.Auth.SystemPassword)
	add(inv.Auth.LeafPassword)
	add(inv.Auth.CheckPassword)
	add(inv.Auth.RoutePassword)
	for _, key := range inventory.RotatableKeys {
		add(inv.Auth.RetiringUser(key).Password)
	}
	for _, h := range inv.Hosts {
		if h.Wasmcloud != nil {
			add(h.Wasmcloud.HostSeed)
		}
	}
	if t := inv.Lattice.TLS; t != nil {
		add(t.CAKey)
		for _, hc := range t.Hosts {
			add(hc.Key)
		}
	}
	sort.SliceStable(r.pairs, func(i, j int) bool { return len(r.pairs[i][0]) > len(r.pairs[j][0]) })
	return r
}

// unknownSecret matches secrets in the places latticepush renders them, whatever the value:
// NATS passwords, userinfo in leaf URLs, nkey seeds, and the host seed variable.
var unknownSecret = []*regexp.Regexp{
	regexp.MustCompile(`(password\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}]+)`),
	regexp.MustCompile(`(://[^:/@\s"]+:)([^@\s"]+)(@)`),
	regexp.MustCompile(`(WASMCLOUD_[A-Z_]*SEED=)(\S+)`),
	regexp.MustCompile(`()(S[A-Z][A-Z2-7]{56})()`),
	regexp.MustCompile(`(-----BEGIN [A-Z ]*PRIVATE KEY-----)([^-]+)(-----END [A-Z ]*PRIVATE KEY-----)`),
}

func (r *redactor) redact(b []byte) []byte {
	if b == nil {
		return nil
	}
	out := b
	for _, p := range r.pairs {
		out = bytes.ReplaceAll(out, p[0], p[1])
	}
	for _, re := range unknownSecret {
		out = re.ReplaceAllFunc(out, func(m []byte) []byte {
			sub := re.FindSubmatch(m)
			if bytes.Contains(sub[2], []byte("${secret:")) {
				return m
			}
			tail := []byte(nil)
			if len(sub) > 3 {
				tail = sub[3]
			}
			res := append(append([]byte{}, sub[1]...), []byte(inventory.Redacted)...)
			return append(res, tail...)
		})
	}
	return out
}

// RedactSecrets hides inv's secrets in text shown to people that latticepush did not render
// itself, such as a service's log lines quoted in an error: known values become their
// placeholders, and secrets in the shapes latticepush renders them become "(sensitive)".
func RedactSecrets(inv *inventory.Inventory, text []byte) []byte {
	return newRedactor(inv).redact(text)
}
