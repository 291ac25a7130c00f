package ansible

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/latticepush/latticepush/inventory"
)

// spec is one host in latticepush terms.
type spec struct {
	address string // "" : the host name
	roles   []string
	ssh     sshSpec
	// serviceManager is the host's own service_manager, when it is not the defaults'.
	serviceManager string
}

type sshSpec struct {
	user, identity, knownHosts, strict, proxyJump string
	port                                          int
	become                                        *bool
}

func newSpec(roles []string, f map[string]any) *spec {
	sp := &spec{roles: roles}
	str := func(k string) string { s, _ := f[k].(string); return s }
	sp.address = str("address")
	sp.ssh.user, sp.ssh.identity = str("user"), str("identity")
	if p, ok := f["port"].(int); ok {
		sp.ssh.port = p
	}
	if b, ok := f["become"].(bool); ok {
		sp.ssh.become = &b
	}
	for _, k := range []string{"common_args", "extra_args"} { // extra after common: it wins
		if a, ok := f[k].(sshArgs); ok {
			if a.knownHosts != "" {
				sp.ssh.knownHosts = a.knownHosts
			}
			if a.strict != "" {
				sp.ssh.strict = a.strict
			}
			if a.proxyJump != "" {
				sp.ssh.proxyJump = a.proxyJump
			}
		}
	}
	return sp
}

// key identifies what a generated hosts block can share: everything but the name (and the
// address, when it is the name).
func (sp *spec) key() string {
	b := "nil"
	if sp.ssh.become != nil {
		b = fmt.Sprint(*sp.ssh.become)
	}
	return fmt.Sprintf("%q %q %q %q %q %q %q %d %s %q", sp.address, sp.roles, sp.ssh.user, sp.ssh.identity, sp.ssh.knownHosts, sp.ssh.strict, sp.ssh.proxyJump, sp.ssh.port, b, sp.serviceManager)
}

// writeServiceManager writes the host's own service_manager, if it has one.
func (sp *spec) writeServiceManager(b *strings.Builder) {
	if sp.serviceManager != "" {
		fmt.Fprintf(b, "service_manager = %s\n", quote(sp.serviceManager))
	}
}

// hoist moves every ssh setting all hosts share into the defaults block.
func hoist(specs map[string]*spec) sshSpec {
	var d sshSpec
	first := true
	same := map[string]bool{"user": true, "identity": true, "knownHosts": true, "strict": true, "proxyJump": true, "port": true, "become": true}
	for _, sp := range specs {
		if first {
			d, first = sp.ssh, false
			continue
		}
		s := sp.ssh
		same["user"] = same["user"] && s.user == d.user
		same["identity"] = same["identity"] && s.identity == d.identity
		same["knownHosts"] = same["knownHosts"] && s.knownHosts == d.knownHosts
		same["strict"] = same["strict"] && s.strict == d.strict
		same["proxyJump"] = same["proxyJump"] && s.proxyJump == d.proxyJump
		same["port"] = same["port"] && s.port == d.port
		same["become"] = same["become"] && (s.become == nil) == (d.become == nil) && (s.become == nil || *s.become == *d.become)
	}
	if !same["user"] {
		d.user = ""
	}
	if !same["identity"] {
		d.identity = ""
	}
	if !same["knownHosts"] {
		d.knownHosts = ""
	}
	if !same["strict"] {
		d.strict = ""
	}
	if !same["proxyJump"] {
		d.proxyJump = ""
	}
	if !same["port"] {
		d.port = 0
	}
	if !same["become"] {
		d.become = nil
	}
	for _, sp := range specs {
		s := &sp.ssh
		if d.user != "" {
			s.user = ""
		}
		if d.identity != "" {
			s.identity = ""
		}
		if d.knownHosts != "" {
			s.knownHosts = ""
		}
		if d.strict != "" {
			s.strict = ""
		}
		if d.proxyJump != "" {
			s.proxyJump = ""
		}
		if d.port != 0 {
			s.port = 0
		}
		if d.become != nil {
			s.become = nil
		}
	}
	return d
}

func (s sshSpec) empty() bool { return s == sshSpec{} }

func (s sshSpec) write(b *strings.Builder) {
	if s.empty() {
		return
	}
	b.WriteString("ssh {\n")
	if s.user != "" {
		fmt.Fprintf(b, "user = %s\n", quote(s.user))
	}
	if s.port != 0 {
		fmt.Fprintf(b, "port = %d\n", s.port)
	}
	if s.identity != "" {
		fmt.Fprintf(b, "identity_file = %s\n", quote(s.identity))
	}
	if s.knownHosts != "" {
		fmt.Fprintf(b, "known_hosts = %s\n", quote(s.knownHosts))
	}
	if s.strict != "" {
		fmt.Fprintf(b, "strict_host_key_checking = %s\n", quote(s.strict))
	}
	if s.proxyJump != "" {
		fmt.Fprintf(b, "proxy_jump = %s\n", quote(s.proxyJump))
	}
	if s.become != nil {
		fmt.Fprintf(b, "become = %t\n", *s.become)
	}
	b.WriteString("}\n")
}

// write renders the inventory: a header saying where it came from and what to complete, the
// lattice and defaults blocks, then hosts in the order the source lists them; a host range
// whose hosts share their settings becomes a hosts block.
func write(path string, s *source, specs map[string]*spec, opts Options, notes []Note, res *Result) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported by `latticepush import ansible` from the Ansible inventory %s.\n", path)
	b.WriteString(`#
# Before plan and apply:
#   - check the lattice name and js_domain below (--lattice, --js-domain);
#   - run ` + "`latticepush secrets`" + ` on this file: it writes the passwords, wasmCloud host seeds
#     and the fleet CA (every link is TLS) to secrets.json next to it (mode 0600; keep it out of
#     version control);
#   - size the hubs' JetStream limits in role "hub" (written as 10GB on disk, 1GB in memory);
#   - add role settings for NATS and wasmCloud as needed (binaries, labels, rollout)`)
	if opts.ServiceManager == "" && len(opts.ServiceManagers) == 0 {
		b.WriteString(`, and
#     service_manager in defaults if the hosts do not run systemd`)
	}
	b.WriteString(".\n")
	for _, sp := range specs {
		if contains(sp.roles, inventory.RoleRelay) {
			b.WriteString(`#   - point the leaves that link through the relays at them: upstream = "<relay host,
#     hosts block, or label=value of the relays' labels>" in role "leaf" or per host (validate
#     warns about a relay that nothing names as its upstream).
`)
			break
		}
	}
	if len(notes) > 0 {
		b.WriteString("#\n# Not carried over from the Ansible inventory:\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "#   - %s\n", strings.ReplaceAll(n.String(), "\n", " "))
		}
	}
	// A new inventory gets TLS on every link from the start, with latticepush as its CA.
	fmt.Fprintf(&b, "\nlattice %s {\njs_domain = %s\ntls {\nca = \"managed\"\n}\n}\n", quote(opts.Lattice), quote(opts.JSDomain))
	def := hoist(specs)
	if !def.empty() || opts.ServiceManager != "" {
		b.WriteString("\ndefaults {\n")
		def.write(&b)
		if opts.ServiceManager != "" {
			fmt.Fprintf(&b, "service_manager = %s\n", quote(opts.ServiceManager))
		}
		b.WriteString("}\n")
	}
	// A hub's JetStream limits must be explicit (a reload can raise them, never make a
	// dynamic one explicit): placeholders the header asks the user to size.
	b.WriteString(`
role "hub" {
  nats {
    max_file_store   = "10GB"
    max_memory_store = "1GB"
  }
}
`)

	labels := map[string]int{}
	for _, e := range s.entries {
		var members []string
		for _, n := range e.names {
			if s.hosts[n].entry == e && specs[n] != nil {
				members = append(members, n)
			}
		}
		if len(members) == 0 {
			continue
		}
		var block []string
		if e.pat.hasRange() && len(members) >= 2 {
			count := map[string]int{}
			for _, n := range members {
				count[specKey(specs[n], n)]++
			}
			best := ""
			for _, n := range members { // the most common settings; the first on a tie
				if k := specKey(specs[n], n); count[k] > count[best] {
					best = k
				}
			}
			if count[best] >= 2 {
				for _, n := range members {
					if specKey(specs[n], n) == best {
						block = append(block, n)
					}
				}
			}
		}
		if len(block) > 0 {
			in := map[string]bool{}
			for _, n := range block {
				in[n] = true
			}
			var except []string
			for _, n := range e.names {
				if !in[n] {
					except = append(except, n)
				}
			}
			label := e.group
			labels[label]++
			if labels[label] > 1 {
				label = fmt.Sprintf("%s-%d", label, labels[label])
			}
			sp := specs[block[0]]
			fmt.Fprintf(&b, "\nhosts %s {\n", quote(label))
			forEach := rangeExpr(e.pat)
			if len(except) > 0 {
				forEach = fmt.Sprintf("setsubtract(%s, %s)", forEach, list(except))
			}
			fmt.Fprintf(&b, "for_each = %s\n", forEach)
			if sp.address == "" || sp.address == block[0] {
				b.WriteString("address = each.key\n")
			} else {
				fmt.Fprintf(&b, "address = %s\n", quote(sp.address))
			}
			fmt.Fprintf(&b, "roles = %s\n", list(sp.roles))
			sp.writeServiceManager(&b)
			sp.ssh.write(&b)
			b.WriteString("}\n")
			res.Blocks++
			res.Generated += len(block)
			res.Hosts += len(block)
		}
		for _, n := range members {
			if contains(block, n) {
				continue
			}
			sp := specs[n]
			addr := sp.address
			if addr == "" {
				addr = n
			}
			fmt.Fprintf(&b, "\nhost %s {\naddress = %s\nroles = %s\n", quote(n), quote(addr), list(sp.roles))
			sp.writeServiceManager(&b)
			sp.ssh.write(&b)
			b.WriteString("}\n")
			res.Hosts++
		}
	}
	return hclwrite.Format([]byte(b.String()))
}

// specKey is a host's settings without its name; a host whose address is its name shares
// the key of the others whose address is theirs.
func specKey(sp *spec, name string) string {
	if sp.address == name {
		c := *sp
		c.address = ""
		return c.key()
	}
	return sp.key()
}

// rangeExpr is an HCL expression for the names a pattern expands to, e.g.
// [for i in range(1, 301) : format("edge-%03d", i)].
func rangeExpr(p pattern) string {
	var format strings.Builder
	var vars, heads []string
	names := "ijklmnpq"
	for _, pt := range p.parts {
		if pt.rng == nil {
			format.WriteString(strings.ReplaceAll(pt.lit, "%", "%%"))
			continue
		}
		r := pt.rng
		v := string(names[len(vars)%len(names)])
		if len(vars) >= len(names) {
			v += fmt.Sprint(len(vars))
		}
		vars = append(vars, v)
		var over string
		if r.alpha {
			format.WriteString("%s")
			over = list(r.values())
		} else {
			if r.width > 0 {
				fmt.Fprintf(&format, "%%0%dd", r.width)
			} else {
				format.WriteString("%d")
			}
			if r.step > 1 {
				over = fmt.Sprintf("range(%d, %d, %d)", r.begin, r.end+1, r.step)
			} else {
				over = fmt.Sprintf("range(%d, %d)", r.begin, r.end+1)
			}
		}
		heads = append(heads, fmt.Sprintf("for %s in %s :", v, over))
	}
	expr := fmt.Sprintf("format(%s, %s)", quote(format.String()), strings.Join(vars, ", "))
	for i := len(heads) - 1; i >= 0; i-- {
		expr = fmt.Sprintf("[%s %s]", heads[i], expr)
	}
	if len(heads) > 1 {
		expr = "flatten(" + expr + ")"
	}
	return expr
}

// quote writes s as an HCL string literal, template sequences escaped.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	out := strings.ReplaceAll(b.String(), "${", "$${")
	return strings.ReplaceAll(out, "%{", "%%{")
}

func list(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
