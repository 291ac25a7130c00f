package ansible

import (
	"reflect"
	"testing"
)

func TestPattern_Expand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"db", []string{"db"}},
		{"edge-[08:11]", []string{"edge-08", "edge-09", "edge-10", "edge-11"}},
		{"web[1:10:4].example.com", []string{"web1.example.com", "web5.example.com", "web9.example.com"}},
		{"[:2]x", []string{"0x", "1x", "2x"}},
		{"r[1:2]-[y:B]", []string{"r1-y", "r1-z", "r1-A", "r1-B", "r2-y", "r2-z", "r2-A", "r2-B"}},
	} {
		p, err := parsePattern(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := p.expand(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s expands to %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitPort(t *testing.T) {
	for in, want := range map[string][2]string{
		"db:2222":           {"db", "2222"},
		"edge-[01:10]":      {"edge-[01:10]", ""},
		"edge-[01:10]:2200": {"edge-[01:10]", "2200"},
		"fe80::1":           {"fe80::1", ""},
	} {
		h, p, err := splitPort(in)
		if err != nil || h != want[0] || p != want[1] {
			t.Errorf("splitPort(%q) = %q, %q, %v; want %q", in, h, p, err, want)
		}
	}
}
