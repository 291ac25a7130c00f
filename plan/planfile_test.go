package plan_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/plan/plantest"
)

func TestPlanFile_RoundTripAndTamper(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	p, err := plan.Build(inv, d, plantest.Empty(inv, d), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := plan.Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	got, err := plan.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Decisions(got) != plan.Decisions(p) || !reflect.DeepEqual(got.Fingerprints, p.Fingerprints) {
		t.Fatal("plan changed in a write/read round trip")
	}
	if why := plan.StaleReasons(got, p); len(why) != 0 {
		t.Fatalf("a plan read back is stale against itself: %v", why)
	}

	// An edited action is refused by the checksum.
	edited := bytes.Replace(buf.Bytes(), []byte(`"action": "start"`), []byte(`"action": "noop"`), 1)
	if bytes.Equal(edited, buf.Bytes()) {
		t.Fatal("no start action to edit in the plan file")
	}
	if _, err := plan.Read(bytes.NewReader(edited)); !errors.Is(err, plan.ErrPlanFile) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("edited plan: err %v, want a checksum refusal", err)
	}
	for _, bad := range []string{"", "{}", `{"kind":"latticepush-plan","format_version":"2.0"}`, "\x00\xff", `{"kind":"latticepush-plan","format_version":"1.0","plan":{}}`} {
		if _, err := plan.Read(strings.NewReader(bad)); !errors.Is(err, plan.ErrPlanFile) {
			t.Errorf("Read(%q): err %v, want ErrPlanFile", bad, err)
		}
	}
}

func TestStaleReasons_InventoryAndDecisions(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	saved, _ := plan.Build(inv, d, facts, plan.Options{})
	fresh, _ := plan.Build(inv, d, facts, plan.Options{})
	fresh.InventoryDigest = "changed"
	if why := plan.StaleReasons(saved, fresh); len(why) != 1 || !strings.Contains(why[0], "inventory changed") {
		t.Errorf("why %v", why)
	}
	// Same facts, different rendered content (a rotated secret): decisions differ.
	d2 := plantest.FakeDesired(inv, true)
	d2["edge-1"][0].Content = append([]byte("# rotated\n"), d2["edge-1"][0].Content...)
	fresh, _ = plan.Build(inv, d2, facts, plan.Options{})
	if why := plan.StaleReasons(saved, fresh); len(why) != 1 || !strings.Contains(why[0], "planned actions differ") {
		t.Errorf("why %v", why)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"kind":"latticepush-plan","format_version":"1.0","checksum":"sha256:00","plan":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := plan.Read(bytes.NewReader(data))
		if err == nil && p == nil {
			t.Fatal("nil plan without error")
		}
	})
}

// TestStaleReasons_Variables: a plan records the inventory's variable values' digest; apply
// refuses it with other values, and a plan without the field (an inventory without variables,
// or a plan file from before variables) reads and holds for an inventory without variables.
func TestStaleReasons_Variables(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	facts := plantest.Converged(inv, d)
	saved, _ := plan.Build(inv, d, facts, plan.Options{})
	if saved.VariablesDigest != "" {
		t.Fatalf("lab inventory has no variables, digest %q", saved.VariablesDigest)
	}
	var buf bytes.Buffer
	if err := plan.Write(&buf, saved); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("variables_digest")) {
		t.Error("a plan without variables writes variables_digest")
	}
	old, err := plan.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := plan.Build(inv, d, facts, plan.Options{})
	if why := plan.StaleReasons(old, fresh); len(why) != 0 {
		t.Errorf("plan without variables_digest is stale: %v", why)
	}

	saved.VariablesDigest = "aaaa"
	buf.Reset()
	if err := plan.Write(&buf, saved); err != nil {
		t.Fatal(err)
	}
	got, err := plan.Read(bytes.NewReader(buf.Bytes()))
	if err != nil || got.VariablesDigest != "aaaa" {
		t.Fatalf("read back variables_digest %q, %v", got.VariablesDigest, err)
	}
	fresh.VariablesDigest = "bbbb"
	why := plan.StaleReasons(got, fresh)
	if len(why) != 1 || !strings.Contains(why[0], "other inventory variable values") {
		t.Errorf("why %v", why)
	}
	if err := plan.CheckVariables(got, "aaaa"); err != nil {
		t.Errorf("same values refused: %v", err)
	}
	if err := plan.CheckVariables(got, ""); err == nil {
		t.Error("a plan made with variables accepted without them")
	}
}

// TestPlanFile_ReadsFormat10 reads a plan file written in format 1.0 (before the start and
// adopt actions, and the upgrade): a minor version only adds.
func TestPlanFile_ReadsFormat10(t *testing.T) {
	inv := plantest.LoadExample(t, "lab", nil)
	d := plantest.FakeDesired(inv, true)
	p, err := plan.Build(inv, d, plantest.Converged(inv, d), plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.FormatVersion = "1.0"
	var buf bytes.Buffer
	if err := plan.Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	old := bytes.Replace(buf.Bytes(), []byte(`"format_version": "`+plan.FormatVersion+`"`), []byte(`"format_version": "1.0"`), 1)
	if bytes.Equal(old, buf.Bytes()) || !strings.HasPrefix(plan.FormatVersion, "1.") {
		t.Fatalf("format version %s: no envelope version to rewrite", plan.FormatVersion)
	}
	got, err := plan.Read(bytes.NewReader(old))
	if err != nil {
		t.Fatalf("reading a 1.0 plan: %v", err)
	}
	if got.FormatVersion != "1.0" || plan.Decisions(got) != plan.Decisions(p) {
		t.Errorf("1.0 plan read as %s, decisions differ: %v", got.FormatVersion, plan.Decisions(got) != plan.Decisions(p))
	}
}
