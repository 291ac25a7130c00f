package ansible

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var yamlErrRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parseYAMLDoc parses src and returns its top node, nil for an empty document.
func parseYAMLDoc(file string, src []byte) (*yaml.Node, *Error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		e := &Error{File: file, Msg: err.Error() + ": fix the YAML syntax"}
		if m := yamlErrRE.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2] + ": fix the YAML syntax"
		}
		return nil, e
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return resolve(doc.Content[0]), nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names a node's type for an error: "a sequence", "a string".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "empty"
	}
	return "a string"
}

// parseYAML reads Ansible's YAML inventory: a mapping of group names to groups, each a
// mapping with hosts (host name or pattern: variables), vars and children (more groups).
func parseYAML(s *source, file string, src []byte) {
	root, e := parseYAMLDoc(file, src)
	if e != nil {
		s.errs = append(s.errs, e)
		return
	}
	if root == nil {
		s.fail(pos{file, 0}, "the inventory is empty: start it with all: and its hosts and children")
		return
	}
	if root.Kind != yaml.MappingNode {
		s.fail(pos{file, root.Line}, "the inventory is %s: it must be a mapping of group names (all:, hubs:, ...) to groups", describe(root))
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		s.group(k.Value, pos{file, k.Line}).declared = true
		yamlGroup(s, file, k.Value, v)
	}
}

func yamlGroup(s *source, file, name string, n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		s.fail(pos{file, n.Line}, "group %q is %s: a group is a mapping with hosts:, vars: and children:", name, describe(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		p := pos{file, k.Line}
		switch k.Value {
		case "hosts":
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.MappingNode {
				s.fail(pos{file, v.Line}, "group %q: hosts is %s: write hosts as a mapping of host names to their variables (edge-1: or edge-1: {ansible_host: 10.0.0.1}), without '- '", name, describe(v))
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				hk, hv := v.Content[j], resolve(v.Content[j+1])
				hp := pos{file, hk.Line}
				vars, ok := yamlVars(s, file, hv, "host "+hk.Value, fmt.Sprintf("host %q", hk.Value))
				if ok {
					s.addHosts(name, hk.Value, vars, hp)
				}
			}
		case "vars":
			vars, _ := yamlVars(s, file, v, "group "+name+" vars", fmt.Sprintf("group %q: vars", name))
			g := s.groups[name]
			g.vars = append(g.vars, vars...)
		case "children":
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.MappingNode {
				s.fail(pos{file, v.Line}, "group %q: children is %s: write children as a mapping of group names (edge: or edge: {hosts: ...}), without '- '", name, describe(v))
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ck, cv := v.Content[j], resolve(v.Content[j+1])
				s.addChild(name, ck.Value, pos{file, ck.Line})
				yamlGroup(s, file, ck.Value, cv)
			}
		default:
			s.fail(p, "group %q: unknown key %q: a group holds hosts:, vars: and children: (variables go under vars:)", name, k.Value)
		}
	}
}

// yamlVars reads a mapping of variable names to values; what names the mapping in errors.
func yamlVars(s *source, file string, n *yaml.Node, where, what string) ([]varDef, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		s.fail(pos{file, n.Line}, "%s is %s: variables are a mapping of names to values (ansible_host: 10.0.0.1)", what, describe(n))
		return nil, false
	}
	var out []varDef
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		var val any
		if err := v.Decode(&val); err != nil {
			s.fail(pos{file, v.Line}, "%s: %s: %v", what, k.Value, err)
			continue
		}
		out = append(out, varDef{name: k.Value, val: val, pos: pos{file, k.Line}, where: where})
	}
	return out, true
}

// varFiles reads group_vars or host_vars next to the inventory: for each name, name.yml,
// name.yaml, name.json or name (YAML), or a directory name/ of such files, read in name
// order. It returns the variables by name, the names in order, and notes for files it does
// not read.
func varFiles(s *source, dir, kind string, known func(string) bool, notes *[]Note) (map[string][]varDef, []string, map[string]string) {
	base := filepath.Join(dir, kind)
	ents, err := os.ReadDir(base)
	if err != nil {
		if !os.IsNotExist(err) {
			s.fail(pos{base, 0}, "%v: fix the permissions or remove it", err)
		}
		return nil, nil, nil
	}
	out := map[string][]varDef{}
	paths := map[string]string{}
	var order []string
	add := func(name, path string) {
		src, err := os.ReadFile(path)
		if err != nil {
			s.fail(pos{path, 0}, "%v: fix the permissions or remove it", err)
			return
		}
		root, e := parseYAMLDoc(path, src)
		if e != nil {
			s.errs = append(s.errs, e)
			return
		}
		if root == nil {
			return
		}
		if root.Kind != yaml.MappingNode {
			s.fail(pos{path, root.Line}, "this file is %s: a %s file is a mapping of variable names to values (ansible_user: deploy)", describe(root), kind)
			return
		}
		rel := kind + "/" + strings.TrimPrefix(filepath.ToSlash(path), filepath.ToSlash(base)+"/")
		vars, ok := yamlVars(s, path, root, "", rel)
		if !ok {
			return
		}
		if _, seen := out[name]; !seen {
			order = append(order, name)
			paths[name] = path
		}
		out[name] = append(out[name], vars...)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(base, e.Name())
		if e.IsDir() {
			var files []string
			_ = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
				if err != nil {
					s.fail(pos{p, 0}, "%v: fix the permissions or remove it", err)
					return nil
				}
				if strings.HasPrefix(d.Name(), ".") && p != path {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if !d.IsDir() {
					if varFileName(d.Name()) {
						files = append(files, p)
					} else {
						*notes = append(*notes, Note{Pos: p, Msg: "not read: Ansible reads only .yml, .yaml, .json and extension-less files here"})
					}
				}
				return nil
			})
			sort.Strings(files)
			for _, f := range files {
				add(e.Name(), f)
			}
			continue
		}
		if known(e.Name()) { // a host named 10.0.0.5 has host_vars/10.0.0.5
			add(e.Name(), path)
			continue
		}
		if !varFileName(e.Name()) {
			*notes = append(*notes, Note{Pos: path, Msg: "not read: Ansible reads only .yml, .yaml, .json and extension-less files here"})
			continue
		}
		name := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		add(name, path)
	}
	return out, order, paths
}

func varFileName(n string) bool {
	switch filepath.Ext(n) {
	case ".yml", ".yaml", ".json", "":
		return !strings.HasSuffix(n, "~")
	}
	return false
}
