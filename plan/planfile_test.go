package plan

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestPlanFile_RoundTripAndTamper(t *testing.T) {
	inv := loadExample(t, "lab", nil)
	d := fakeDesired(inv, true)
	p, err := Build(inv, d, empty(inv, d), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if decisions(got) != decisions(p) || !reflect.DeepEqual(got.Fingerprints, p.Fingerprints) {
		t.Fatal("plan changed in a write/read round trip")
	}
	if why := StaleReasons(got, p); len(why) != 0 {
		t.Fatalf("a plan read back is stale against itself: %v", why)
	}

	// An edited action is refused by the checksum.
	edited := bytes.Replace(buf.Bytes(), []byte(`\"action\": \"restart\"`), []byte(`\"action\": \"noop\"`), 1)
	edited = bytes.Replace(edited, []byte(`"action":"restart"`), []byte(`"action":"noop\"`), 1)
	if bytes.Equal(edited, buf.Bytes()) {
		edited = bytes.Replace(buf.Bytes(), []byte("restart"), []byte("noop"), 1)
	}
	if _, err := Read(bytes.NewReader(edited)); !errors.Is(err, ErrPlanFile) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("edited plan: err %v, want a checksum refusal", err)
	}
	for _, bad := range []string{"", "{}", `{"kind":"latticepush-plan","format_version":"2.0"}`, "\x00\xff", `{"kind":"latticepush-plan","format_version":"1.0","plan":{}}`} {
		if _, err := Read(strings.NewReader(bad)); !errors.Is(err, ErrPlanFile) {
			t.Errorf("Read(%q): err %v, want ErrPlanFile", bad, err)
		}
	}
}

func TestStaleReasons_InventoryAndDecisions(t *testing.T) {
	inv := loadExample(t, "lab", nil)
	d := fakeDesired(inv, true)
	facts := converged(inv, d)
	saved, _ := Build(inv, d, facts, Options{})
	fresh, _ := Build(inv, d, facts, Options{})
	fresh.InventoryDigest = "changed"
	if why := StaleReasons(saved, fresh); len(why) != 1 || !strings.Contains(why[0], "inventory changed") {
		t.Errorf("why %v", why)
	}
	// Same facts, different rendered content (a rotated secret): decisions differ.
	d2 := fakeDesired(inv, true)
	d2["edge-1"][0].Content = append([]byte("# rotated\n"), d2["edge-1"][0].Content...)
	fresh, _ = Build(inv, d2, facts, Options{})
	if why := StaleReasons(saved, fresh); len(why) != 1 || !strings.Contains(why[0], "planned actions differ") {
		t.Errorf("why %v", why)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"kind":"latticepush-plan","format_version":"1.0","checksum":"sha256:00","plan":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Read(bytes.NewReader(data))
		if err == nil && p == nil {
			t.Fatal("nil plan without error")
		}
	})
}
