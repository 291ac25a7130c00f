package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestFunctions_CIDRAndFile: cidrhost and cidrsubnet give Terraform's answers, file() reads
// relative to the inventory's directory, and each refuses bad input with an error.
func TestFunctions_CIDRAndFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fns := functions(dir)
	n := func(i int64) cty.Value { return cty.NumberIntVal(i) }
	s := cty.StringVal
	for _, tt := range []struct {
		fn   string
		args []cty.Value
		want string
		err  string
	}{
		{"cidrhost", []cty.Value{s("10.1.0.0/22"), n(266)}, "10.1.1.10", ""},
		{"cidrhost", []cty.Value{s("10.1.0.0/24"), n(-2)}, "10.1.0.254", ""},
		{"cidrhost", []cty.Value{s("fd00::/64"), n(17)}, "fd00::11", ""},
		{"cidrhost", []cty.Value{s("10.2.0.0/30"), n(10)}, "", "does not accommodate a host numbered 10"},
		{"cidrhost", []cty.Value{s("10.2.0.0"), n(1)}, "", "invalid CIDR expression"},
		{"cidrsubnet", []cty.Value{s("10.0.0.0/8"), n(8), n(42)}, "10.42.0.0/16", ""},
		{"cidrsubnet", []cty.Value{s("10.0.0.0/8"), n(4), n(16)}, "", "does not accommodate a subnet numbered 16"},
		{"cidrsubnet", []cty.Value{s("10.0.0.0/8"), n(40), n(1)}, "", "may not extend the prefix by 40 bits"},
		{"file", []cty.Value{s("motd.txt")}, "hello\n", ""},
		{"file", []cty.Value{s("nope.txt")}, "", "cannot read " + filepath.Join(dir, "nope.txt") + ": no such file or directory"},
	} {
		got, err := fns[tt.fn].Call(tt.args)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s%v: err %v, want %q", tt.fn, tt.args, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s%v: %v", tt.fn, tt.args, err)
		case tt.err == "" && got.AsString() != tt.want:
			t.Errorf("%s%v = %q, want %q", tt.fn, tt.args, got.AsString(), tt.want)
		}
	}
}
