package ansible

import (
	"fmt"
	"sort"
	"strings"
)

// Error is a problem in the Ansible inventory that stops the import: where it is and what to
// change.
type Error struct {
	File string
	Line int // 0: the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Errors are every problem found, in the order read.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// pos is where something is written.
type pos struct {
	file string
	line int
}

func (p pos) String() string {
	if p.line == 0 {
		return p.file
	}
	return fmt.Sprintf("%s:%d", p.file, p.line)
}

// varDef is one variable as written: in a host line, a [group:vars] section, a YAML vars
// mapping, or a group_vars/host_vars file. val is a string (INI), or what YAML decoded.
type varDef struct {
	name  string
	val   any
	pos   pos
	where string // e.g. `[edge:vars]`, `host edge-1`, `group_vars/edge.yml`
}

type group struct {
	name     string
	pos      pos
	declared bool // a section, YAML group or child entry made it (not only [g:vars])
	vars     []varDef
	fileVars []varDef // group_vars/<name>
	children []string
	parents  []string
	hosts    []string
}

type host struct {
	name     string
	pos      pos
	vars     []varDef // inline, in the order written
	fileVars []varDef // host_vars/<name>
	groups   []string // groups listing it directly
	entry    *entry   // the line that first listed it
}

// entry is one host line (INI) or host key (YAML): a pattern under a group.
type entry struct {
	pat   pattern
	group string
	pos   pos
	names []string
}

// source is a parsed inventory: groups and hosts in the order they first appear.
type source struct {
	groups     map[string]*group
	groupOrder []string
	hosts      map[string]*host
	hostOrder  []string
	entries    []*entry
	errs       Errors
}

func newSource() *source {
	s := &source{groups: map[string]*group{}, hosts: map[string]*host{}}
	s.group("all", pos{}).declared = true
	return s
}

func (s *source) fail(p pos, format string, args ...any) {
	s.errs = append(s.errs, &Error{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)})
}

func (s *source) group(name string, p pos) *group {
	g := s.groups[name]
	if g == nil {
		g = &group{name: name, pos: p}
		s.groups[name] = g
		s.groupOrder = append(s.groupOrder, name)
	}
	return g
}

func (s *source) addChild(parent, child string, p pos) {
	pg := s.group(parent, p)
	cg := s.group(child, p)
	cg.declared = true
	for _, c := range pg.children {
		if c == child {
			return
		}
	}
	pg.children = append(pg.children, child)
	cg.parents = append(cg.parents, parent)
}

// addHosts records a host line or key: its pattern expanded, each host put in group with the
// line's variables. It returns false when the pattern is malformed (reported).
func (s *source) addHosts(groupName, text string, vars []varDef, p pos) bool {
	name, port, err := splitPort(text)
	if err != nil {
		s.fail(p, "%v", err)
		return false
	}
	pat, err := parsePattern(name)
	if err != nil {
		s.fail(p, "%v", err)
		return false
	}
	if port != "" {
		vars = append([]varDef{{name: "ansible_port", val: port, pos: p, where: "host " + text}}, vars...)
	}
	g := s.group(groupName, p)
	g.declared = true
	e := &entry{pat: pat, group: groupName, pos: p, names: pat.expand()}
	s.entries = append(s.entries, e)
	for _, n := range e.names {
		h := s.hosts[n]
		if h == nil {
			h = &host{name: n, pos: p, entry: e}
			s.hosts[n] = h
			s.hostOrder = append(s.hostOrder, n)
		}
		h.vars = append(h.vars, vars...)
		if !contains(h.groups, groupName) {
			h.groups = append(h.groups, groupName)
			g.hosts = append(g.hosts, n)
		}
	}
	return true
}

// splitPort splits "name:port" (a port after the last ']', so ranges keep their ':').
func splitPort(s string) (string, string, error) {
	tail := s
	if strings.LastIndexByte(s, '[') > strings.LastIndexByte(s, ']') {
		return s, "", nil // an unclosed range: parsePattern says so
	}
	if i := strings.LastIndexByte(s, ']'); i >= 0 {
		tail = s[i+1:]
	}
	c := strings.LastIndexByte(tail, ':')
	if c < 0 {
		return s, "", nil
	}
	if strings.Count(tail, ":") > 1 { // an IPv6 address
		return s, "", nil
	}
	cut := len(s) - len(tail) + c
	port := s[cut+1:]
	for _, r := range port {
		if r < '0' || r > '9' {
			return "", "", fmt.Errorf("host %q: the port after ':' must be a number, e.g. %s:2222", s, s[:cut])
		}
	}
	if port == "" {
		return "", "", fmt.Errorf("host %q ends in ':' without a port: remove the ':' or add the port", s)
	}
	return s[:cut], port, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ancestors returns every group a host belongs to (directly or through children), "all"
// included, ordered as Ansible merges their variables: by depth, then
// ansible_group_priority, then name.
func (s *source) ancestors(h *host, depth map[string]int, prio map[string]int) []string {
	seen := map[string]bool{"all": true}
	var walk func(string)
	walk = func(g string) {
		if seen[g] {
			return
		}
		seen[g] = true
		for _, p := range s.groups[g].parents {
			walk(p)
		}
	}
	for _, g := range h.groups {
		walk(g)
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if depth[a] != depth[b] {
			return depth[a] < depth[b]
		}
		if prio[a] != prio[b] {
			return prio[a] < prio[b]
		}
		return a < b
	})
	return out
}

// depths gives each group its depth below "all" (the longest path: a group listed as a child
// sits below its parent). Cycles are reported.
func (s *source) depths() map[string]int {
	depth := map[string]int{}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) int
	visit = func(g string) int {
		switch state[g] {
		case 1:
			s.fail(s.groups[g].pos, "group %q is its own ancestor through children: remove it from one children list", g)
			return 0
		case 2:
			return depth[g]
		}
		state[g] = 1
		d := 0
		if g != "all" {
			d = 1
		}
		for _, p := range s.groups[g].parents {
			if p == "all" {
				continue
			}
			d = max(d, visit(p)+1)
		}
		state[g], depth[g] = 2, d
		return d
	}
	for _, g := range s.groupOrder {
		visit(g)
	}
	return depth
}
