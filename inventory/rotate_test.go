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
