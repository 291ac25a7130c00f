// Package ansible imports an Ansible inventory (INI or YAML, with group_vars/ and host_vars/
// next to it) as a latticepush inventory: groups map to roles, host ranges become generated
// hosts blocks, connection variables become address and ssh settings. It reads files and
// returns the HCL and what it could not carry over; it writes nothing.
package ansible

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// Options say how groups become roles and what the lattice is called.
type Options struct {
	// Roles map groups to latticepush roles; a host gets the roles of every group it is in,
	// directly or through children.
	Roles []RoleMap
	// Lattice and JSDomain fill the lattice block; defaults "default" and "hub".
	Lattice, JSDomain string
	// ServiceManager, when set, is written to the defaults block (latticepush's default is
	// systemd).
	ServiceManager string
	// ServiceManagers give the hosts of a group their own service_manager (a host in several
	// mapped groups gets the one of its most specific group, as Ansible merges group
	// variables).
	ServiceManagers []ManagerMap
}

// ManagerMap gives the hosts of Group the service manager Manager.
type ManagerMap struct {
	Manager, Group string
}

// ParseServiceManager reads a --service-manager flag: MANAGER for every host, or
// MANAGER=GROUP for a group's hosts. ok is false for the first form.
func ParseServiceManager(s string) (m ManagerMap, ok bool, err error) {
	manager, group, ok := strings.Cut(s, "=")
	if manager != "systemd" && manager != "runit" {
		return ManagerMap{}, false, fmt.Errorf("--service-manager %q: the service managers are systemd and runit (MANAGER, or MANAGER=GROUP for a group's hosts)", s)
	}
	if ok && group == "" {
		return ManagerMap{}, false, fmt.Errorf("--service-manager %q: name the group after '=', e.g. --service-manager runit=edge", s)
	}
	return ManagerMap{Manager: manager, Group: group}, ok, nil
}

// RoleMap gives the hosts of Group the Roles.
type RoleMap struct {
	Roles []string
	Group string
}

// ParseRole reads a --role flag: ROLE[,ROLE...]=GROUP, e.g. leaf,wasmcloud=edge.
func ParseRole(s string) (RoleMap, error) {
	roles, group, ok := strings.Cut(s, "=")
	if !ok || roles == "" || group == "" {
		return RoleMap{}, fmt.Errorf("--role %q: write ROLE=GROUP, e.g. --role hub=nats_hubs or --role leaf,wasmcloud=edge", s)
	}
	var m RoleMap
	m.Group = group
	for _, r := range strings.Split(roles, ",") {
		r = strings.TrimSpace(r)
		switch r {
		case inventory.RoleHub, inventory.RoleRelay, inventory.RoleLeaf, inventory.RoleWasmcloud:
			m.Roles = append(m.Roles, r)
		default:
			return RoleMap{}, fmt.Errorf("--role %q: unknown role %q: the roles are hub, relay, leaf and wasmcloud", s, r)
		}
	}
	return m, nil
}

// Note is something in the Ansible inventory that the import did not carry over.
type Note struct {
	Pos string // file:line, or the file
	Msg string
}

func (n Note) String() string { return n.Pos + ": " + n.Msg }

// Result is the imported inventory.
type Result struct {
	// HCL is the inventory, formatted as `latticepush fmt` formats it.
	HCL []byte
	// Hosts is the number of hosts imported; Generated of them are in hosts blocks, of
	// which there are Blocks.
	Hosts, Generated, Blocks int
	// Notes list what was not carried over, by file and line.
	Notes []Note
}

// Import reads the Ansible inventory at path (a .yml, .yaml or .json file is YAML, anything
// else INI) with the group_vars/ and host_vars/ directories next to it. Malformed input
// returns Errors, each with the file and line and what to fix.
func Import(path string, opts Options) (*Result, error) {
	if opts.Lattice == "" {
		opts.Lattice = "default"
	}
	if opts.JSDomain == "" {
		opts.JSDomain = "hub"
	}
	if len(opts.Roles) == 0 {
		return nil, fmt.Errorf("no group is mapped to a role: give --role hub=GROUP and --role leaf,wasmcloud=GROUP for the inventory's groups")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%v: pass the path of an Ansible inventory file", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory: pass the inventory file in it (group_vars/ and host_vars/ next to it are read too)", path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := newSource()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yml", ".yaml", ".json":
		parseYAML(s, path, src)
	default:
		parseINI(s, path, src)
	}
	var notes []Note
	dir := filepath.Dir(path)
	gv, gorder, gpaths := varFiles(s, dir, "group_vars", func(n string) bool { return s.groups[n] != nil }, &notes)
	hv, horder, hpaths := varFiles(s, dir, "host_vars", func(n string) bool { return s.hosts[n] != nil }, &notes)
	for _, n := range gorder {
		if g := s.groups[n]; g != nil {
			g.fileVars = gv[n]
		} else {
			notes = append(notes, Note{gpaths[n], fmt.Sprintf("no group %q in the inventory: not read", n)})
		}
	}
	for _, n := range horder {
		if h := s.hosts[n]; h != nil {
			h.fileVars = hv[n]
		} else {
			notes = append(notes, Note{hpaths[n], fmt.Sprintf("no host %q in the inventory: not read", n)})
		}
	}
	if len(s.errs) > 0 {
		return nil, s.errs
	}
	// Every variable definition, once: what it sets, or why it is not carried over.
	settings := map[*varDef]setting{}
	seen := map[string]setting{}
	classifyAll := func(defs []varDef, isGroup bool) {
		for i := range defs {
			d := &defs[i]
			key := d.pos.String() + "\x00" + d.name
			if st, ok := seen[key]; ok {
				settings[d] = st
				continue
			}
			st, note, err := classify(d, isGroup)
			if err != "" {
				s.fail(d.pos, "%s", err)
			}
			if note != "" {
				what := d.name
				if d.where != "" {
					what = d.where + ": " + d.name
				}
				notes = append(notes, Note{d.pos.String(), what + ": " + note})
			}
			seen[key], settings[d] = st, st
		}
	}
	for _, n := range s.groupOrder {
		classifyAll(s.groups[n].vars, true)
		classifyAll(s.groups[n].fileVars, true)
	}
	for _, n := range s.hostOrder {
		classifyAll(s.hosts[n].vars, false)
		classifyAll(s.hosts[n].fileVars, false)
	}
	depth := s.depths()
	if len(s.errs) > 0 {
		return nil, s.errs
	}
	for _, m := range opts.Roles {
		if s.groups[m.Group] == nil {
			return nil, fmt.Errorf("--role %s=%s: the inventory has no group %q; its groups: %s",
				strings.Join(m.Roles, ","), m.Group, m.Group, strings.Join(groupNames(s), ", "))
		}
	}
	managerOf := map[string]string{}
	for _, m := range opts.ServiceManagers {
		if s.groups[m.Group] == nil {
			return nil, fmt.Errorf("--service-manager %s=%s: the inventory has no group %q; its groups: %s",
				m.Manager, m.Group, m.Group, strings.Join(groupNames(s), ", "))
		}
		managerOf[m.Group] = m.Manager
	}

	prio := map[string]int{}
	for _, n := range s.groupOrder {
		prio[n] = 1
		g := s.groups[n]
		for _, defs := range [][]varDef{g.vars, g.fileVars} {
			for i := range defs {
				if st := settings[&defs[i]]; st.field == "priority" {
					prio[n] = st.val.(int)
				}
			}
		}
	}

	// Each host's settings, merged as Ansible merges variables: inventory group vars by group
	// depth, priority and name; group_vars/all, then group_vars/<group> in the same order;
	// host line vars; host_vars/<host>.
	roleOf := map[string][]string{}
	for _, m := range opts.Roles {
		roleOf[m.Group] = append(roleOf[m.Group], m.Roles...)
	}
	specs := map[string]*spec{}
	members := map[string][]string{} // group: every host in it, directly or through children
	unroled := map[*entry][]string{}
	for _, n := range s.hostOrder {
		h := s.hosts[n]
		groups := s.ancestors(h, depth, prio)
		for _, g := range groups {
			members[g] = append(members[g], n)
		}
		fields := map[string]any{}
		apply := func(defs []varDef) {
			for i := range defs {
				if st := settings[&defs[i]]; st.field != "" && st.field != "priority" {
					fields[st.field] = st.val
				}
			}
		}
		for _, g := range groups {
			apply(s.groups[g].vars)
		}
		for _, g := range groups {
			apply(s.groups[g].fileVars)
		}
		apply(h.vars)
		apply(h.fileVars)
		var roles []string
		for _, g := range groups {
			roles = append(roles, roleOf[g]...)
		}
		roles = canonicalRoles(roles)
		if len(roles) == 0 {
			unroled[h.entry] = append(unroled[h.entry], n)
			continue
		}
		specs[n] = newSpec(roles, fields)
		for _, g := range groups { // the most specific group last, as its variables win
			if m, ok := managerOf[g]; ok && m != cmp.Or(opts.ServiceManager, "systemd") {
				specs[n].serviceManager = m
			} else if ok {
				specs[n].serviceManager = ""
			}
		}
	}
	for _, e := range s.entries {
		if hs := unroled[e]; len(hs) > 0 {
			what := fmt.Sprintf("host %s", hs[0])
			if len(hs) > 1 {
				what = fmt.Sprintf("%d hosts of %s", len(hs), e.pat.text)
			}
			notes = append(notes, Note{e.pos.String(), fmt.Sprintf("%s: in no group mapped to a role: not imported (add --role ROLE=GROUP for one of its groups)", what)})
		}
	}
	for _, n := range s.groupOrder {
		if n == "all" || n == "ungrouped" || len(roleOf[n]) > 0 {
			continue
		}
		without := 0
		for _, h := range members[n] {
			if specs[h] == nil {
				without++
			}
		}
		msg := fmt.Sprintf("group %q is mapped to no role, and latticepush has no groups", n)
		if without > 0 {
			msg += fmt.Sprintf(": %s of it not imported, for want of a role (--role ROLE=%s maps the group)", countHosts(without), n)
		} else if len(members[n]) > 0 {
			msg += ": its hosts have roles through other groups"
		}
		notes = append(notes, Note{s.groups[n].pos.String(), msg})
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no host is in a group mapped to a role: check the --role groups (the inventory's groups: %s)", strings.Join(groupNames(s), ", "))
	}
	sort.SliceStable(notes, func(i, j int) bool { return notePos(notes[i]).less(notePos(notes[j])) })
	res := &Result{Notes: notes}
	res.HCL = write(path, s, specs, opts, notes, res)
	return res, nil
}

func countHosts(n int) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}

func groupNames(s *source) []string {
	var out []string
	for _, n := range s.groupOrder {
		if n != "all" {
			out = append(out, n)
		}
	}
	return out
}

func canonicalRoles(roles []string) []string {
	var out []string
	for _, r := range []string{inventory.RoleHub, inventory.RoleRelay, inventory.RoleLeaf, inventory.RoleWasmcloud} {
		if contains(roles, r) {
			out = append(out, r)
		}
	}
	return out
}

// notePos orders notes by file, then line.
func notePos(n Note) pos {
	p := pos{file: n.Pos}
	if i := strings.LastIndexByte(n.Pos, ':'); i > 0 {
		if l, err := strconv.Atoi(n.Pos[i+1:]); err == nil {
			p = pos{n.Pos[:i], l}
		}
	}
	return p
}

func (a pos) less(b pos) bool {
	if a.file != b.file {
		return a.file < b.file
	}
	return a.line < b.line
}
