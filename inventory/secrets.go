package inventory

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/nats-io/nkeys"

	"github.com/latticepush/latticepush/internal/atomicfile"
)

// secretsDoc is the secrets file: JSON, mode 0600, written by GenerateSecrets.
//
//	{"passwords": {"system": "…", "leaf": "…", "check": "…", "route": "…"}, "host_seeds": {"edge-1": "SN…"}}
type secretsDoc struct {
	Passwords map[string]string `json:"passwords"`
	HostSeeds map[string]string `json:"host_seeds"`
	// CA is the managed fleet CA (tls { ca = "managed" }): its certificate and key, PEM.
	CA *caSecret `json:"ca,omitempty"`
	// RetiringCA is the CA a rotation replaced (`secrets --rotate ca.key`), trusted beside
	// CA until every server serves a certificate of CA.
	RetiringCA *caSecret `json:"retiring_ca,omitempty"`
	// Users names the user a password belongs to when a rotation renamed it
	// ({"leaf": "leaf-b"}); absent, the leaf user is "leaf".
	Users map[string]string `json:"users,omitempty"`
	// Retiring is the user and password a rotation replaced, kept until every server that
	// logs in with it has switched: {"leaf": {"user": "leaf-a", "password": "…"}}.
	Retiring map[string]retiringDoc `json:"retiring,omitempty"`
}

type retiringDoc struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// RetiringSecretName is the name of the retiring password of key ("retiring.leaf"), safe to print.
func RetiringSecretName(key string) string { return "retiring." + key }

// passwords lists the account passwords by their key in the file's "passwords" object. A
// secret's name is where it sits in the file: "passwords.leaf", "host_seeds.edge-1". Messages,
// placeholders and `secrets { env = {...} }` all use that one name.
var passwords = []string{"system", "leaf", "check", "route"}

func passwordName(key string) string { return "passwords." + key }

func passwordNames() []string {
	var out []string
	for _, k := range passwords {
		out = append(out, passwordName(k))
	}
	return out
}

// oldPasswordNames are the names `secrets { env = {...} }` took before it used the file's
// keys; still read, with a warning.
var oldPasswordNames = map[string]string{
	"system_password": "passwords.system",
	"leaf_password":   "passwords.leaf",
	"check_password":  "passwords.check",
}

// Well-known secret names, for placeholders of an inventory loaded without secrets.
const (
	SecretSystemPassword = "passwords.system"
	SecretLeafPassword   = "passwords.leaf"
	SecretCheckPassword  = "passwords.check"
	SecretRoutePassword  = "passwords.route"
)

// HostSeedName is the name of host's wasmCloud host seed.
func HostSeedName(host string) string { return "host_seeds." + host }

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
		// json errors quote the offending input at most as a character or a key, never a value.
		offset := dec.InputOffset()
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			offset = syn.Offset
		case errors.As(err, &typ):
			offset = typ.Offset
		case errors.Is(err, io.EOF):
			offset = int64(len(raw)) + 1
		}
		// The offset is just past the byte that failed: point at that byte.
		pos := offsetPos(raw, offset-1)
		if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
			// Reported once the whole document is read: find the key itself.
			if r, ok := jsonKeyRange(path, raw, m[1]); ok {
				pos = r.Start
			}
		}
		return nil, 0, &secretsFileError{Path: path, Pos: pos, Err: err}
	}
	return doc, st.Mode().Perm(), nil
}

var unknownFieldRE = regexp.MustCompile(`^json: unknown field "([^"]*)"$`)

// secretsFileError is a secrets file that is not valid: where, and what is wrong.
type secretsFileError struct {
	Path string
	Pos  hcl.Pos
	Err  error
}

func (e *secretsFileError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "json: ")
	if errors.Is(e.Err, io.EOF) {
		msg = "the file is empty"
	}
	return fmt.Sprintf("%s:%d:%d: not a valid secrets file: %s", e.Path, e.Pos.Line, e.Pos.Column, msg)
}

func (e *secretsFileError) Unwrap() error { return e.Err }

// Range is where the problem is, for a diagnostic's subject.
func (e *secretsFileError) Range() hcl.Range {
	end := e.Pos
	end.Byte++
	end.Column++
	return hcl.Range{Filename: e.Path, Start: e.Pos, End: end}
}

// offsetPos is the line and column (1-based, in characters) of byte offset off in src.
func offsetPos(src []byte, off int64) hcl.Pos {
	if off < 0 {
		off = 0
	}
	if off > int64(len(src)) {
		off = int64(len(src))
	}
	p := hcl.Pos{Line: 1, Column: 1, Byte: int(off)}
	for _, r := range string(src[:off]) {
		if r == '\n' {
			p.Line++
			p.Column = 1
			continue
		}
		p.Column++
	}
	return p
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
		var bad *secretsFileError
		if errors.As(err, &bad) {
			at := bad.Range()
			subject = &at
		}
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
	for _, key := range passwords {
		name := passwordName(key)
		var s Secret
		if env := inv.Auth.SecretsEnv[name]; env != "" {
			if v, ok := opts.lookupEnv(env); ok && v != "" {
				s = NewSecret(name, v, "env "+env)
				if problem := passwordProblem(v); problem != "" {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Unusable password",
						Detail:   fmt.Sprintf("The environment variable %s (for %s) %s. Set another value.", env, name, problem),
						Subject:  envSubject(d),
					})
				}
			}
		}
		if !s.IsSet() && doc.Passwords[key] != "" {
			s = NewSecret(name, doc.Passwords[key], fileSource)
			if problem := passwordProblem(doc.Passwords[key]); problem != "" {
				at := secretsKeyRange(inv.Auth.SecretsFile, "passwords", key)
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unusable password",
					Detail: fmt.Sprintf("%s in %s %s. Remove the entry and run `latticepush secrets %s` to generate a new one, or write another.",
						name, inv.Auth.SecretsFile, problem, inv.Filename),
					Subject: &at,
				})
			}
		}
		if !s.IsSet() && (key != "route" || inv.Lattice.RouteAuth) {
			missing = append(missing, name)
		}
		switch key {
		case "system":
			inv.Auth.SystemPassword = s
		case "leaf":
			inv.Auth.LeafPassword = s
		case "check":
			inv.Auth.CheckPassword = s
		case "route":
			inv.Auth.RoutePassword = s
		}
	}

	for _, key := range RotatableKeys {
		def := defaultUsers[key]
		if u := doc.Users[key]; u != "" {
			if u != def+"-a" && u != def+"-b" {
				at := secretsKeyRange(inv.Auth.SecretsFile, "users", key)
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown user name",
					Detail: fmt.Sprintf("users.%s in %s is %q; `latticepush secrets --rotate %s` writes only %q or %q. Restore the value it wrote.",
						key, inv.Auth.SecretsFile, u, passwordName(key), def+"-a", def+"-b"),
					Subject: &at,
				})
			}
			if inv.Auth.Users == nil {
				inv.Auth.Users = map[string]string{}
			}
			inv.Auth.Users[key] = u
		}
		r, ok := doc.Retiring[key]
		if !ok {
			continue
		}
		if r.User == "" || r.Password == "" || r.User == inv.Auth.UserName(key) {
			at := secretsKeyRange(inv.Auth.SecretsFile, "retiring", key)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unusable retiring user",
				Detail: fmt.Sprintf("retiring.%s in %s needs a user other than the current one (%s) and a password. Restore what `latticepush secrets --rotate` wrote.",
					key, inv.Auth.SecretsFile, inv.Auth.UserName(key)),
				Subject: &at,
			})
			continue
		}
		if inv.Auth.Retiring == nil {
			inv.Auth.Retiring = map[string]RetiringUser{}
		}
		inv.Auth.Retiring[key] = RetiringUser{User: r.User, Password: NewSecret(RetiringSecretName(key), r.Password, fileSource)}
	}
	for key := range doc.Users {
		if defaultUsers[key] == "" {
			at := secretsKeyRange(inv.Auth.SecretsFile, "users", key)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown user entry",
				Detail:  fmt.Sprintf("users.%s in %s: only %s rotate. Remove the entry.", key, inv.Auth.SecretsFile, strings.Join(RotatableKeys, ", ")),
				Subject: &at})
		}
	}
	for key := range doc.Retiring {
		if defaultUsers[key] == "" {
			at := secretsKeyRange(inv.Auth.SecretsFile, "retiring", key)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown retiring entry",
				Detail:  fmt.Sprintf("retiring.%s in %s: only %s rotate. Remove the entry.", key, inv.Auth.SecretsFile, strings.Join(RotatableKeys, ", ")),
				Subject: &at})
		}
	}

	caMissing, caDiags := loadCA(inv, doc.CA, doc.RetiringCA, fileSource)
	missing = append(missing, caMissing...)
	diags = append(diags, caDiags...)

	for _, h := range inv.Hosts {
		if h.Wasmcloud == nil {
			continue
		}
		seed, ok := doc.HostSeeds[h.Name]
		if !ok || seed == "" {
			missing = append(missing, HostSeedName(h.Name))
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
		h.Wasmcloud.HostSeed = NewSecret(HostSeedName(h.Name), seed, fileSource)
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
	for _, key := range passwords {
		name := passwordName(key)
		if doc.Passwords[key] != "" {
			continue
		}
		if env := inv.Auth.SecretsEnv[name]; env != "" {
			if v, ok := opts.lookupEnv(env); ok && v != "" {
				continue // supplied by the environment; not stored
			}
		}
		pw, err := randomPassword()
		if err != nil {
			return nil, err
		}
		doc.Passwords[key] = pw
		added = append(added, name)
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
		added = append(added, HostSeedName(h.Name))
	}
	if t := inv.Lattice.TLS; t != nil && t.Managed && doc.CA == nil {
		ca, err := newCA(inv.Lattice.Name, opts.now())
		if err != nil {
			return nil, err
		}
		doc.CA = ca
		added = append(added, SecretCAKey)
	}
	if len(added) == 0 {
		return nil, nil
	}
	sort.Strings(added)

	if err := writeSecretsDoc(path, doc); err != nil {
		return nil, err
	}
	return added, nil
}

// Rotation is what RotatePassword or FinishRotation changed: names only, never values.
type Rotation struct {
	Secret  string // "passwords.leaf"
	OldUser string // the user the hubs keep accepting until every leaf has switched
	NewUser string // the user the new password belongs to
}

// RotatePassword writes a new random value for the password name ("passwords.leaf",
// "passwords.system", "passwords.check", "passwords.route") under the other user name of its
// pair (leaf → leaf-a, leaf-a → leaf-b, leaf-b → leaf-a; sys-a/sys-b;
// latticepush-a/latticepush-b; route-a/route-b) and records the current user and password as
// retiring. NATS refuses two users with one name, so the hubs (and relays) can accept the old
// and the new password side by side only under two names. The route password rotates only
// where routes authenticate (route_auth). A rotation already recorded is refused until
// FinishRotation: rotating twice before everything switched would lock out what still logs
// in with the first password.
func RotatePassword(inv *Inventory, name string, opts Options) (Rotation, error) {
	path := inv.Auth.SecretsFile
	key, ok := rotatableKey(name)
	if !ok {
		return Rotation{}, fmt.Errorf("%s cannot be rotated: only %s rotate (README, Secrets)", name, strings.Join(rotatableNames(), ", "))
	}
	if env := inv.Auth.SecretsEnv[name]; env != "" {
		if v, ok := opts.lookupEnv(env); ok && v != "" {
			return Rotation{}, fmt.Errorf("%s comes from the environment variable %s, not from %s: rotate it there, or unset it to rotate the file's value", name, env, path)
		}
	}
	if key == "route" && !inv.Lattice.RouteAuth {
		return Rotation{}, fmt.Errorf("%s cannot be rotated: routes do not authenticate (route_auth = false in the lattice block). Nothing was changed", name)
	}
	doc, _, err := readSecretsDoc(path)
	if err != nil {
		return Rotation{}, fmt.Errorf("%w; nothing was changed", err)
	}
	cur := doc.Passwords[key]
	if cur == "" {
		return Rotation{}, fmt.Errorf("%s has no %s to rotate: run `latticepush secrets %s` first", path, name, inv.Filename)
	}
	if r, ok := doc.Retiring[key]; ok {
		return Rotation{}, fmt.Errorf("%s already records a rotation of %s (user %s retiring): plan and apply until plan shows it complete, "+
			"then run `latticepush secrets --finish-rotation %s %s` before rotating again. Nothing was changed", path, name, r.User, name, inv.Filename)
	}
	def := defaultUsers[key]
	oldUser := doc.Users[key]
	if oldUser == "" {
		oldUser = def
	}
	newUser := def + "-a"
	if oldUser == newUser {
		newUser = def + "-b"
	}
	pw, err := randomPassword()
	if err != nil {
		return Rotation{}, err
	}
	if doc.Users == nil {
		doc.Users = map[string]string{}
	}
	if doc.Retiring == nil {
		doc.Retiring = map[string]retiringDoc{}
	}
	doc.Retiring[key] = retiringDoc{User: oldUser, Password: cur}
	doc.Users[key] = newUser
	doc.Passwords[key] = pw
	if err := writeSecretsDoc(path, doc); err != nil {
		return Rotation{}, err
	}
	return Rotation{Secret: name, OldUser: oldUser, NewUser: newUser}, nil
}

// FinishRotation drops the retiring user of name from the secrets file. Plan refuses
// afterwards while a leaf still logs in with it, or while a cluster member still accepts only
// the old route login, so finishing early changes nothing on the fleet.
func FinishRotation(inv *Inventory, name string) (Rotation, error) {
	path := inv.Auth.SecretsFile
	key, ok := rotatableKey(name)
	if !ok {
		return Rotation{}, fmt.Errorf("%s does not rotate: only %s do", name, strings.Join(rotatableNames(), ", "))
	}
	doc, _, err := readSecretsDoc(path)
	if err != nil {
		return Rotation{}, fmt.Errorf("%w; nothing was changed", err)
	}
	r, ok := doc.Retiring[key]
	if !ok {
		return Rotation{}, fmt.Errorf("%s records no rotation of %s; nothing was changed", path, name)
	}
	delete(doc.Retiring, key)
	if err := writeSecretsDoc(path, doc); err != nil {
		return Rotation{}, err
	}
	return Rotation{Secret: name, OldUser: r.User, NewUser: doc.Users[key]}, nil
}

func rotatableKey(name string) (string, bool) {
	for _, k := range RotatableKeys {
		if name == passwordName(k) {
			return k, true
		}
	}
	return "", false
}

func rotatableNames() []string {
	var out []string
	for _, k := range RotatableKeys {
		out = append(out, passwordName(k))
	}
	return out
}

func writeSecretsDoc(path string, doc *secretsDoc) error {
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("write secrets file: %w", err)
	}
	return nil
}

func randomPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// bcryptRE is what nats-server takes for a bcrypt hash in a password field.
var bcryptRE = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

// passwordProblem says why nats-server cannot use v as a plain password, or "".
func passwordProblem(v string) string {
	switch {
	case bcryptRE.MatchString(v):
		return "looks like a bcrypt hash ($2a$…), which nats-server would compare as a hash, not as the password"
	case !utf8.ValidString(v):
		return "is not valid UTF-8, which a nats-server config cannot hold"
	}
	return ""
}

// envSubject is the range of `env = {...}` in the secrets block, else where secrets
// diagnostics point.
func envSubject(d *decoded) *hcl.Range {
	if s := d.fs.Secrets; s != nil && s.EnvRange != (hcl.Range{}) {
		r := s.EnvRange
		return &r
	}
	return secretsSubject(d)
}

// secretsKeyRange is where the key obj.key is in the secrets file at path (its first line
// when it is not found). It looks at keys only, never at values.
func secretsKeyRange(path, obj, key string) hcl.Range {
	raw, err := os.ReadFile(path)
	if err == nil {
		if r, ok := jsonKeyRange(path, raw, obj, key); ok {
			return r
		}
	}
	return hcl.Range{Filename: path, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 2, Byte: 1}}
}

// jsonKeyRange finds the object key at keys (one per level of nesting) in the JSON text raw.
func jsonKeyRange(filename string, raw []byte, keys ...string) (hcl.Range, bool) {
	type frame struct {
		obj, wantKey bool
		key          string
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return hcl.Range{}, false
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, frame{obj: d == '{', wantKey: d == '{'})
			default:
				stack = stack[:len(stack)-1]
				if n := len(stack); n > 0 && stack[n-1].obj {
					stack[n-1].wantKey = true
				}
			}
			continue
		}
		n := len(stack)
		if n == 0 || !stack[n-1].obj {
			continue
		}
		top := &stack[n-1]
		if !top.wantKey {
			top.wantKey = true // a scalar value
			continue
		}
		top.key, top.wantKey = tok.(string), false
		if n != len(keys) {
			continue
		}
		match := true
		for i := range keys {
			match = match && stack[i].key == keys[i]
		}
		if match {
			start := int(before) + bytes.IndexByte(raw[before:], '"')
			end := start + bytes.IndexByte(raw[start+1:], '"') + 2
			return hcl.Range{Filename: filename, Start: offsetPos(raw, int64(start)), End: offsetPos(raw, int64(end))}, true
		}
	}
}
