package inventory

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// secretMarker in a secrets file template is where the fuzzed secret value goes.
const secretMarker = "@S@"

// FuzzSecretsFile feeds arbitrary secrets files to Load, with a secret value (JSON-quoted)
// placed wherever the template holds @S@: no panic; no message, for a file that reads or one
// that does not, quotes the value; an error points inside the file; a file that reads writes
// back and reads as the same.
func FuzzSecretsFile(f *testing.F) {
	kp, err := nkeys.CreateServer()
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := kp.Seed()
	pw := `"system": "x8Jb2vQeLk0c3TRuV9hN4sWdYpA7mZoE1gKfHtIqCwU", "leaf": "@S@", "check": "Qm1dZ0pY3fV8sT4uK7wN2rB6hL9xJcAeGiOvEyHnMqP", "route": "r"`
	for _, tmpl := range []string{
		`{"passwords": {` + pw + `}, "host_seeds": {"edge-1": "` + string(seed) + `"}}`,
		`{"passwords": {"system": @S@, "leaf": "l", "check": "c"}, "host_seeds": {"edge-1": "` + string(seed) + `"}}`,
		`{"passwords": {"system": "s", "leaf": "l", "check": "c", "route": "r"}, "host_seeds": {"edge-1": @S@}}`,
		`{"passwords": {` + pw + `}, "host_seeds": {"edge-1": "` + string(seed) + `"}, "users": {"leaf": "leaf-b"}, "retiring": {"leaf": {"user": "leaf-a", "password": @S@}}}`,
		`{"passwords": {"system": "s", "leaf": "l", "check": "c", "route": @S@ "x"}}`,
		`{"passwords": {"system": @S@}, "ca": {"cert": "", "key": @S@}}`,
		`{"passwords": [@S@]}`,
		`{"passwords": {"system": @S@`,
	} {
		f.Add(tmpl, "hunter2-correct-horse")
	}
	f.Add(`{"passwords": {"leaf": @S@}}`, "$2a$10$abcdefghijklmnopqrstuv")
	f.Add(`{"passwords": {"leaf": @S@}}`, "\xff\xfe not utf-8")
	inv, err := os.ReadFile(filepath.Join("testdata", "valid-small.hcl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tmpl, secret string) {
		if len(secret) < 8 || strings.Contains(tmpl, secret) {
			secret = "" // too short to tell from other text
		}
		q, _ := json.Marshal(secret)
		raw := strings.ReplaceAll(tmpl, secretMarker, string(q))
		dir := t.TempDir()
		path := filepath.Join(dir, "inventory.hcl")
		secrets := filepath.Join(dir, "secrets.json")
		if err := os.WriteFile(path, inv, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(secrets, []byte(raw), 0o600); err != nil {
			t.Fatal(err)
		}
		doc, _, err := readSecretsDoc(secrets)
		if err != nil {
			var bad *secretsFileError
			if !errors.As(err, &bad) {
				t.Fatalf("error %v is not a secrets file error", err)
			}
			if bad.Pos.Line < 1 || bad.Pos.Column < 1 || bad.Pos.Byte > len(raw) {
				t.Fatalf("error at %+v, outside the %d bytes of the file", bad.Pos, len(raw))
			}
			if secret != "" && strings.Contains(err.Error(), secret) && onlyAsValue(tmpl) {
				t.Fatalf("the error quotes the secret value: %v", err)
			}
		} else {
			// What reads writes back and reads as the same.
			back := filepath.Join(dir, "back.json")
			if err := writeSecretsDoc(back, doc); err != nil {
				t.Fatal(err)
			}
			again, _, err := readSecretsDoc(back)
			if err != nil {
				t.Fatalf("a file written from what was read does not read: %v", err)
			}
			a, _ := json.Marshal(doc)
			b, _ := json.Marshal(again)
			if string(a) != string(b) {
				t.Fatalf("round trip: %s, then %s", a, b)
			}
			if inUsers(doc, secret) {
				secret = "" // a user name, printed on purpose
			}
		}
		_, diags := Load(path, Options{LookupEnv: func(string) (string, bool) { return "", false }})
		if secret == "" || !onlyAsValue(tmpl) {
			return
		}
		for _, d := range diags {
			if strings.Contains(d.Summary+d.Detail, secret) {
				t.Fatalf("a diagnostic quotes the secret value: %s", d.Error())
			}
		}
	})
}

// onlyAsValue says whether every @S@ in tmpl follows a ':' or a '[', where JSON holds values.
func onlyAsValue(tmpl string) bool {
	for rest := tmpl; ; {
		i := strings.Index(rest, secretMarker)
		if i < 0 {
			return true
		}
		before := strings.TrimRight(rest[:i], " \t\r\n")
		if before == "" || !strings.ContainsAny(before[len(before)-1:], ":[") {
			return false
		}
		rest = rest[i+len(secretMarker):]
	}
}

func inUsers(doc *secretsDoc, secret string) bool {
	for k, u := range doc.Users {
		if strings.Contains(u, secret) || strings.Contains(k, secret) {
			return true
		}
	}
	for k, r := range doc.Retiring {
		if strings.Contains(r.User, secret) || strings.Contains(k, secret) {
			return true
		}
	}
	for _, m := range []map[string]string{doc.Passwords, doc.HostSeeds} {
		for k := range m {
			if strings.Contains(k, secret) {
				return true
			}
		}
	}
	return false
}
