package ansible

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// sectionRE is an INI section header: [group], [group:vars] or [group:children], with an
// optional comment after it.
var sectionRE = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$`)

// parseINI reads Ansible's INI inventory dialect: host lines (a host or range pattern, then
// key=value variables), [group] sections of host lines, [group:vars] sections of key=value
// lines and [group:children] sections of group names; '#' and ';' start comment lines.
// Hosts before the first section are in "ungrouped".
func parseINI(s *source, file string, src []byte) {
	section, kind := "ungrouped", "hosts"
	varsOnly := map[string]pos{} // [g:vars] for groups not (yet) declared
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		p := pos{file, n}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			m := sectionRE.FindStringSubmatch(line)
			if m == nil {
				s.fail(p, "%q is not a section header: write [group], [group:vars] or [group:children]", line)
				section, kind = "", "skip"
				continue
			}
			section, kind = m[1], m[2]
			switch kind {
			case "":
				kind = "hosts"
				s.group(section, p).declared = true
			case "vars":
				if g := s.groups[section]; g == nil || !g.declared {
					if _, ok := varsOnly[section]; !ok {
						varsOnly[section] = p
					}
				}
				s.group(section, p)
			case "children":
				s.group(section, p).declared = true
			default:
				s.fail(p, "[%s:%s]: unknown section type %q: write [%s], [%s:vars] or [%s:children]", section, kind, kind, section, section, section)
				kind = "skip"
			}
			continue
		}
		switch kind {
		case "skip":
		case "hosts":
			toks, err := shellSplit(line)
			if err != nil {
				s.fail(p, "%v", err)
				continue
			}
			if len(toks) == 0 {
				continue
			}
			var vars []varDef
			ok := true
			for _, t := range toks[1:] {
				k, v, found := strings.Cut(t, "=")
				if !found || k == "" {
					s.fail(p, "host %s: %q is not a variable: write host variables as key=value after the host name (quote values with spaces)", toks[0], t)
					ok = false
					break
				}
				vars = append(vars, varDef{name: k, val: v, pos: p, where: "host line " + toks[0]})
			}
			if ok {
				s.addHosts(section, toks[0], vars, p)
			}
		case "vars":
			k, v, found := strings.Cut(line, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !found || k == "" {
				name := k
				if name == "" {
					name = "NAME"
				}
				s.fail(p, "[%s:vars]: %q has no '=': write each variable as %s=VALUE", section, line, strings.Fields(name)[0])
				continue
			}
			s.groups[section].vars = append(s.groups[section].vars, varDef{name: k, val: unquote(v), pos: p, where: "[" + section + ":vars]"})
		case "children":
			toks, err := shellSplit(line)
			if err != nil {
				s.fail(p, "%v", err)
				continue
			}
			if len(toks) != 1 {
				s.fail(p, "[%s:children]: %q: list one group name per line", section, line)
				continue
			}
			s.addChild(section, toks[0], p)
		}
	}
	for _, g := range s.groupOrder {
		if p, ok := varsOnly[g]; ok && !s.groups[g].declared {
			s.fail(p, "[%s:vars] is for a group the inventory never declares: add a [%s] or [%s:children] section, list it under another group's children, or fix the name", g, g, g)
		}
	}
}

// unquote strips one pair of matching quotes around a [group:vars] value.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// shellSplit splits a host line as a POSIX shell would: words separated by blanks, '...' and
// "..." quoting, backslash escapes, and '#' at the start of a word beginning a comment.
func shellSplit(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return out, nil
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != c; j++ {
				if c == '"' && line[j] == '\\' && j+1 < len(line) && (line[j+1] == '"' || line[j+1] == '\\') {
					j++
				}
				cur.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, fmt.Errorf("a %c quote is not closed: add the closing %c", c, c)
			}
			i = j
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
