package ansible

import (
	"os"
	"path/filepath"
	"testing"
)

// TestImport_Malformed: each malformed inventory is refused with the file and line and what
// to change.
func TestImport_Malformed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		path  string
		want  string
	}{
		{"unclosed range", map[string]string{"hosts.ini": "[edge]\nedge-[001:300 ansible_user=ops\n"}, "hosts.ini",
			`hosts.ini:2: host range in "edge-[001:300" is not closed: add the ']' after "[001:300"`},
		{"range widths", map[string]string{"hosts.ini": "# edges\n[edge]\nedge-[01:100]\n"}, "hosts.ini",
			`hosts.ini:3: host range [01:100] in "edge-[01:100]": begin "01" and end "100" differ in width: write both ends zero-padded to the same number of digits, e.g. [001:100]`},
		{"range without end", map[string]string{"hosts.ini": "[edge]\nedge-[1:]\n"}, "hosts.ini",
			`hosts.ini:2: host range [1:] in "edge-[1:]": the range has no end: write begin:end, e.g. [1:20]`},
		{"var line without =", map[string]string{"hosts.ini": "[edge]\nedge-1\n\n[edge:vars]\nansible_user=ops\nntp_server pool.ntp.org\n"}, "hosts.ini",
			`hosts.ini:6: [edge:vars]: "ntp_server pool.ntp.org" has no '=': write each variable as ntp_server=VALUE`},
		{"host var without =", map[string]string{"hosts.ini": "[edge]\nedge-1 ansible_user=ops become\n"}, "hosts.ini",
			`hosts.ini:2: host edge-1: "become" is not a variable: write host variables as key=value after the host name (quote values with spaces)`},
		{"unclosed quote", map[string]string{"hosts.ini": "[edge]\nedge-1 ansible_ssh_common_args='-o ProxyJump=j\n"}, "hosts.ini",
			`hosts.ini:2: a ' quote is not closed: add the closing '`},
		{"vars for no group", map[string]string{"hosts.ini": "[edge]\nedge-1\n[egde:vars]\nansible_user=ops\n"}, "hosts.ini",
			`hosts.ini:3: [egde:vars] is for a group the inventory never declares: add a [egde] or [egde:children] section, list it under another group's children, or fix the name`},
		{"port not a number", map[string]string{"hosts.ini": "[edge]\nedge-1 ansible_port=ssh\n"}, "hosts.ini",
			`hosts.ini:2: ansible_port must be a port number (1-65535), not "ssh": give the SSH port, e.g. 2222`},
		{"yaml hosts as a list", map[string]string{"inventory.yml": "all:\n  children:\n    edge:\n      hosts:\n        - edge-1\n"}, "inventory.yml",
			`inventory.yml:5: group "edge": hosts is a sequence: write hosts as a mapping of host names to their variables (edge-1: or edge-1: {ansible_host: 10.0.0.1}), without '- '`},
		{"yaml become type", map[string]string{"inventory.yml": "edge:\n  hosts:\n    edge-1:\n      ansible_become: [yes]\n"}, "inventory.yml",
			`inventory.yml:4: ansible_become must be true or false, not a list: true runs commands with sudo`},
		{"yaml syntax", map[string]string{"inventory.yml": "all:\n  hosts:\n    edge-1:\n      ansible_user: a: b\n"}, "inventory.yml",
			`inventory.yml:4: mapping values are not allowed in this context: fix the YAML syntax`},
		{"group_vars type", map[string]string{"hosts.ini": "[edge]\nedge-1\n", "group_vars/edge.yml": "---\nansible_port:\n  - 22\n"}, "hosts.ini",
			`group_vars/edge.yml:2: ansible_port must be a port number (1-65535), not a list: give the SSH port, e.g. 2222`},
		{"group_vars not a mapping", map[string]string{"hosts.ini": "[edge]\nedge-1\n", "group_vars/edge/main.yml": "- ansible_user: ops\n"}, "hosts.ini",
			`group_vars/edge/main.yml:1: this file is a sequence: a group_vars file is a mapping of variable names to values (ansible_user: deploy)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			_, err := Import(tc.path, Options{Roles: []RoleMap{{Roles: []string{"leaf"}, Group: "edge"}}})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
			if _, ok := err.(Errors); !ok {
				t.Errorf("error is a %T, want Errors", err)
			}
		})
	}
}

// TestImport_RoleFlags: a --role naming a missing group or role is refused with the choices.
func TestImport_RoleFlags(t *testing.T) {
	if _, err := ParseRole("leaf,wasmcould=edge"); err == nil || err.Error() != `--role "leaf,wasmcould=edge": unknown role "wasmcould": the roles are hub, relay, leaf and wasmcloud` {
		t.Errorf("ParseRole: %v", err)
	}
	_, err := Import("testdata/ini/hosts.ini", Options{Roles: []RoleMap{{Roles: []string{"hub"}, Group: "hubs"}}})
	want := `--role hub=hubs: the inventory has no group "hubs"; its groups: nats_hubs, ams, fra, edge, monitoring`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}
