package inventory

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/nats-io/nkeys"

	"github.com/latticepush/latticepush/internal/atomicfile"
)

// secretsDoc is the secrets file: JSON, mode 0600, written by GenerateSecrets.
//
//	{"passwords": {"system": "…", "leaf": "…", "check": "…"}, "host_seeds": {"edge-1": "SN…"}}
type secretsDoc struct {
	Passwords map[string]string `json:"passwords"`
	HostSeeds map[string]string `json:"host_seeds"`
}

// passwords lists the account passwords: key in the file's "passwords" object, and the
// secret's name (also its key in `secrets { env = {...} }`).
var passwords = []struct{ key, name string }{
	{"system", "system_password"},
	{"leaf", "leaf_password"},
	{"check", "check_password"},
}

func passwordNames() []string {
	var out []string
	for _, p := range passwords {
		out = append(out, p.name)
	}
	return out
}

func hostSeedName(host string) string { return "host_seed." + host }

// readSecretsDoc reads the secrets file. A missing file yields fs.ErrNotExist.
func readSecretsDoc(path string) (*secretsDoc, fs.FileMode, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	doc := &secretsDoc{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(doc); err != nil {
		// json errors quote the offending input at most as a type name, never a value.
		return nil, 0, fmt.Errorf("%s is not a valid secrets file: %w", path, err)
	}
	return doc, st.Mode().Perm(), nil
}

// loadSecrets fills inv.Auth and every wasmCloud host's seed from the environment and the
// secrets file.
func loadSecrets(inv *Inventory, d *decoded, opts Options) hcl.Diagnostics {
	var diags hcl.Diagnostics
	subject := secretsSubject(d)
	rerun := fmt.Sprintf("Run `latticepush secrets %s` to generate what is missing (it never changes existing values).", inv.Filename)
	if inv.VariablesDigest != "" {
		rerun = fmt.Sprintf("Run `latticepush secrets %s` with the same -var and -var-file to generate what is missing (it never changes existing values).", inv.Filename)
	}
	// Validate needs no secrets: it warns about missing ones; plan and apply refuse.
	missingSev := hcl.DiagError
	if opts.SecretsOptional {
		missingSev = hcl.DiagWarning
	}

	doc, mode, err := readSecretsDoc(inv.Auth.SecretsFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return hcl.Diagnostics{{
			Severity: missingSev,
			Summary:  "Secrets file missing",
			Detail:   fmt.Sprintf("The secrets file %s does not exist. %s", inv.Auth.SecretsFile, rerun),
			Subject:  subject,
		}}
	case err != nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read secrets file",
			Detail:   fmt.Sprintf("%v. Fix or remove the file, then run `latticepush secrets %s`.", err, inv.Filename),
			Subject:  subject,
		}}
	}
	if mode&0o077 != 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Secrets file readable by others",
			Detail: fmt.Sprintf("%s has mode %04o; it holds passwords and host seeds. Run `chmod 600 %s`.",
				inv.Auth.SecretsFile, mode, inv.Auth.SecretsFile),
			Subject: subject,
		})
	}

	var missing []string
	fileSource := "file " + filepath.Base(inv.Auth.SecretsFile)
	for _, p := range passwords {
		var s Secret
		if env := inv.Auth.SecretsEnv[p.name]; env != "" {
			if v, ok := opts.lookupEnv(env); ok && v != "" {
				s = NewSecret(p.name, v, "env "+env)
			}
		}
		if !s.IsSet() && doc.Passwords[p.key] != "" {
			s = NewSecret(p.name, doc.Passwords[p.key], fileSource)
		}
		if !s.IsSet() {
			missing = append(missing, p.name)
		}
		switch p.key {
		case "system":
			inv.Auth.SystemPassword = s
		case "leaf":
			inv.Auth.LeafPassword = s
		case "check":
			inv.Auth.CheckPassword = s
		}
	}

	for _, h := range inv.Hosts {
		if h.Wasmcloud == nil {
			continue
		}
		seed, ok := doc.HostSeeds[h.Name]
		if !ok || seed == "" {
			missing = append(missing, hostSeedName(h.Name))
			continue
		}
		id, err := serverSeedID(seed)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid host seed",
				Detail: fmt.Sprintf("host_seeds[%q] in %s is not an nkeys server seed (SN…): %v. "+
					"Remove the entry and run `latticepush secrets %s` to generate a new one "+
					"(the wasmCloud host then gets a new ID).",
					h.Name, inv.Auth.SecretsFile, err, inv.Filename),
				Subject: d.hosts[h].NameRange.Ptr(),
			})
			continue
		}
		h.Wasmcloud.HostSeed = NewSecret(hostSeedName(h.Name), seed, fileSource)
		h.Wasmcloud.HostID = id
	}

	if len(missing) > 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: missingSev,
			Summary:  "Missing secrets",
			Detail: fmt.Sprintf("%s has no value for %s. %s",
				inv.Auth.SecretsFile, strings.Join(missing, ", "), rerun),
			Subject: subject,
		})
	}
	return diags
}

// serverSeedID checks that seed is an nkeys server seed and returns its public key.
func serverSeedID(seed string) (string, error) {
	prefix, _, err := nkeys.DecodeSeed([]byte(seed))
	if err != nil {
		return "", errors.New("not a valid seed")
	}
	if prefix != nkeys.PrefixByteServer {
		return "", fmt.Errorf("a %s seed, not a server seed", prefix)
	}
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		return "", errors.New("not a valid seed")
	}
	return kp.PublicKey()
}

// secretsSubject is the range diagnostics about secrets point at: the file attribute, else
// the secrets block, else the lattice block; nil when the file has none of them.
func secretsSubject(d *decoded) *hcl.Range {
	r := d.fs.Lattice.DeclRange
	if s := d.fs.Secrets; s != nil {
		r = s.DeclRange
		if s.File != nil {
			r = s.FileRange
		}
	}
	if r == (hcl.Range{}) {
		return nil
	}
	return &r
}

// GenerateSecrets creates or completes inv's secrets file (Auth.SecretsFile): a 32-byte random
// password for each account password neither in the file nor in its environment variable, and
// an nkeys server seed for each wasmCloud host without one. Existing values are never changed,
// entries for hosts no longer in the inventory are kept. The file is replaced atomically with
// mode 0600, and only when something was added. It returns the names of the secrets it added
// (never their values). inv is typically loaded with Options{SkipSecrets: true}.
func GenerateSecrets(inv *Inventory, opts Options) ([]string, error) {
	path := inv.Auth.SecretsFile
	doc, _, err := readSecretsDoc(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		doc = &secretsDoc{}
	case err != nil:
		return nil, fmt.Errorf("%w; fix or move it away, nothing was changed", err)
	}
	if doc.Passwords == nil {
		doc.Passwords = map[string]string{}
	}
	if doc.HostSeeds == nil {
		doc.HostSeeds = map[string]string{}
	}

	var added []string
	for _, p := range passwords {
		if doc.Passwords[p.key] != "" {
			continue
		}
		if env := inv.Auth.SecretsEnv[p.name]; env != "" {
			if v, ok := opts.lookupEnv(env); ok && v != "" {
				continue // supplied by the environment; not stored
			}
		}
		pw, err := randomPassword()
		if err != nil {
			return nil, err
		}
		doc.Passwords[p.key] = pw
		added = append(added, p.name)
	}
	for _, h := range inv.Hosts {
		if h.Wasmcloud == nil || doc.HostSeeds[h.Name] != "" {
			continue
		}
		kp, err := nkeys.CreateServer()
		if err != nil {
			return nil, fmt.Errorf("generate host seed for %s: %w", h.Name, err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("generate host seed for %s: %w", h.Name, err)
		}
		doc.HostSeeds[h.Name] = string(seed)
		added = append(added, hostSeedName(h.Name))
	}
	if len(added) == 0 {
		return nil, nil
	}
	sort.Strings(added)

	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, append(raw, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write secrets file: %w", err)
	}
	return added, nil
}

func randomPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
