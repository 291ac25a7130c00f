package inventory

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestRotatePassword_FileAndLoad(t *testing.T) {
	path := copyExample(t, "minimal")
	inv, diags := Load(path, Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, err := GenerateSecrets(inv, Options{}); err != nil {
		t.Fatal(err)
	}
	before, diags := Load(path, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if before.Auth.LeafUserName() != "leaf" || before.Auth.RetiringUser("leaf").IsSet() {
		t.Fatalf("before rotation: user %s, retiring %v", before.Auth.LeafUserName(), before.Auth.RetiringUser("leaf").IsSet())
	}
	old := before.Auth.LeafPassword.Reveal()

	// Refused while the environment supplies the password: the file's value is not used.
	envInv := *inv
	envInv.Auth.SecretsEnv = map[string]string{SecretLeafPassword: "LP_LEAF"}
	env := Options{LookupEnv: func(string) (string, bool) { return "from-env", true }}
	if _, err := RotatePassword(&envInv, SecretLeafPassword, env); err == nil || !strings.Contains(err.Error(), "LP_LEAF") {
		t.Errorf("rotation of an environment password: %v, want a refusal naming LP_LEAF", err)
	}

	r, err := RotatePassword(inv, SecretLeafPassword, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OldUser != "leaf" || r.NewUser != "leaf-a" {
		t.Errorf("rotation %+v, want leaf -> leaf-a", r)
	}
	st, _ := os.Stat(inv.Auth.SecretsFile)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode %04o after rotation, want 0600", st.Mode().Perm())
	}
	after, diags := Load(path, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	a := after.Auth
	if a.LeafUserName() != "leaf-a" || a.RetiringUser("leaf").User != "leaf" || a.RetiringUser("leaf").Password.Reveal() != old ||
		a.LeafPassword.Reveal() == old || len(a.LeafPassword.Reveal()) < 40 {
		t.Errorf("after rotation: user %s, retiring %s, old kept %v, new differs %v",
			a.LeafUserName(), a.RetiringUser("leaf").User, a.RetiringUser("leaf").Password.Reveal() == old, a.LeafPassword.Reveal() != old)
	}
	if a.RetiringUser("leaf").Password.String() != Redacted || a.RetiringUser("leaf").Password.Name() != "retiring.leaf" {
		t.Errorf("retiring password prints as %q, named %q", a.RetiringUser("leaf").Password.String(), a.RetiringUser("leaf").Password.Name())
	}

	// A hand-edited user name outside the pair is refused with where it is.
	raw, _ := os.ReadFile(inv.Auth.SecretsFile)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["users"] = map[string]string{"leaf": "leaf-c"}
	raw, _ = json.Marshal(doc)
	if err := os.WriteFile(inv.Auth.SecretsFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags = Load(path, Options{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "leaf-c") || strings.Contains(diags.Error(), old) {
		t.Errorf("users.leaf = leaf-c: %v, want an error naming it (and no password)", diags)
	}
}

// RotateCA keeps the current CA as retiring_ca and writes a new one whose subject differs; a
// second rotation is refused until FinishCARotation; a retiring CA whose certificate is not its
// key's is a load error; an inventory without the managed CA has nothing to rotate.
func TestRotateCA_FileAndLoad(t *testing.T) {
	path := copyExample(t, "minimal")
	inv, diags := Load(path, Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, _, err := RotateCA(inv); err == nil || !strings.Contains(err.Error(), "no managed CA") {
		t.Fatalf("rotation without tls: %v", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i := strings.Index(s, "lattice \"")
	j := strings.Index(s[i:], "{") + i + 1
	s = s[:j] + "\n  tls {\n    ca = \"managed\"\n  }\n" + s[j:]
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if inv, diags = Load(path, Options{SkipSecrets: true}); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, err := GenerateSecrets(inv, Options{}); err != nil {
		t.Fatal(err)
	}
	before, diags := Load(path, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	oldSerial, newSerial, err := RotateCA(inv)
	if err != nil {
		t.Fatal(err)
	}
	after, diags := Load(path, Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ta, tb := after.Lattice.TLS, before.Lattice.TLS
	oc, _ := ParseCACert(ta.RetiringCACert)
	nc, _ := ParseCACert(ta.CACert)
	if string(ta.RetiringCACert) != string(tb.CACert) || ta.RetiringCAKey.Reveal() != tb.CAKey.Reveal() || CASerial(oc) != oldSerial || CASerial(nc) != newSerial {
		t.Fatalf("after rotation: the retiring CA is not the one before (serials %s, %s)", oldSerial, newSerial)
	}
	if nc.Subject.String() == oc.Subject.String() || ta.RetiringCAKey.String() != Redacted || ta.RetiringCAKey.Name() != RetiringCAKeyName {
		t.Errorf("new CA subject %q (old %q); retiring key prints as %q, named %q", nc.Subject, oc.Subject, ta.RetiringCAKey.String(), ta.RetiringCAKey.Name())
	}
	if _, _, err := RotateCA(after); err == nil || !strings.Contains(err.Error(), "--finish-rotation ca.key") {
		t.Errorf("second rotation: %v", err)
	}

	// A retiring certificate that is not the retiring key's.
	raw, _ := os.ReadFile(after.Auth.SecretsFile)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["retiring_ca"].(map[string]any)["cert"] = doc["ca"].(map[string]any)["cert"]
	bad, _ := json.Marshal(doc)
	if err := os.WriteFile(after.Auth.SecretsFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, diags := Load(path, Options{}); !diags.HasErrors() || !strings.Contains(diags.Error(), "retiring_ca.cert is not the certificate of retiring_ca.key") {
		t.Errorf("mismatched retiring CA: %v", diags)
	}
	if err := os.WriteFile(after.Auth.SecretsFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	if old, err := FinishCARotation(after); err != nil || old != oldSerial {
		t.Fatalf("finish: %q %v", old, err)
	}
	if done, diags := Load(path, Options{}); diags.HasErrors() || len(done.Lattice.TLS.RetiringCACert) != 0 {
		t.Fatalf("after finishing: %v, retiring CA still loaded: %v", diags, len(done.Lattice.TLS.RetiringCACert) != 0)
	}
}
