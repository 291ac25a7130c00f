package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Secret is a value that must never be printed: a password or an nkey seed.
//
// Its String, GoString, MarshalJSON and MarshalText methods all return a placeholder, so a
// Secret that ends up in a log line, a plan or a -json document shows as "(sensitive)".
// Code that needs the value (the renderer writing a host's file) calls Reveal.
type Secret struct {
	name  string // its key in the secrets file, e.g. "passwords.leaf", "host_seeds.edge-1"
	value string
	// Source says where the value came from, for diagnostics: "file secrets.json", "env LP_X".
	Source string
}

// Redacted is what a Secret prints as.
const Redacted = "(sensitive)"

// NewSecret returns a Secret named name holding value.
func NewSecret(name, value, source string) Secret {
	return Secret{name: name, value: value, Source: source}
}

// Name is the secret's name, safe to print.
func (s Secret) Name() string { return s.name }

// Reveal returns the secret value. Call it only where the value is written to its destination.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.value != "" }

// Hash is a sha256 of the value (hex), safe to store in a plan file.
func (s Secret) Hash() string {
	sum := sha256.Sum256([]byte(s.value))
	return hex.EncodeToString(sum[:])
}

// Placeholder is the text rendered in place of the value when secrets are not revealed.
func (s Secret) Placeholder() string { return "${secret:" + s.name + "}" }

func (s Secret) String() string               { return Redacted }
func (s Secret) GoString() string             { return Redacted }
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }
