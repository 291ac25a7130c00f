package unit

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/inventory"
)

// commandKeys are the unit directives whose values systemd runs as command lines, the only
// place it substitutes environment variables ($MAINPID, $NAME from Environment=).
var commandKeys = map[string]bool{
	"ExecCondition": true, "ExecStartPre": true, "ExecStart": true, "ExecStartPost": true,
	"ExecReload": true, "ExecStop": true, "ExecStopPost": true,
}

// varRefRE finds a variable reference: $$ (a literal dollar), ${NAME} or $NAME.
var varRefRE = regexp.MustCompile(`\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)

// unexpanded returns, for one unit line, every variable reference systemd would leave as
// literal text. systemd's rule for command lines: ${NAME} is substituted anywhere, $NAME only
// when it is a whole word (whitespace-separated, after quotes are taken into account); $$ is a
// literal dollar. Outside command lines nothing is substituted.
func unexpanded(line string) []string {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
		return nil
	}
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		return nil
	}
	key = strings.TrimSpace(key)
	var bad []string
	if !commandKeys[key] {
		for _, ref := range varRefRE.FindAllString(value, -1) {
			if ref != "$$" {
				bad = append(bad, fmt.Sprintf("%s in %s= (systemd substitutes variables only in Exec*= command lines)", ref, key))
			}
		}
		return bad
	}
	for _, word := range commandWords(value) {
		for _, loc := range varRefRE.FindAllStringIndex(word, -1) {
			ref := word[loc[0]:loc[1]]
			if ref == "$$" || strings.HasPrefix(ref, "${") || ref == word {
				continue
			}
			bad = append(bad, fmt.Sprintf("%s inside the word %q of %s= is not substituted: write ${%s} (or $$%s for a literal dollar)", ref, word, key, ref[1:], ref[1:]))
		}
	}
	return bad
}

// commandWords splits a command line into words the way systemd does: at unquoted
// whitespace, with "…" and '…' holding one word (the quotes removed).
func commandWords(s string) []string {
	var words []string
	var cur strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// TestSystemdExpansionRule pins the rule the check below applies, on the reload line as it
// was first rendered (its $MAINPID reached nats-server literally: "invalid pid: $MAINPID")
// and as it is rendered now.
func TestSystemdExpansionRule(t *testing.T) {
	for _, c := range []struct {
		line string
		bad  bool
	}{
		{"ExecReload=/usr/local/bin/nats-server --signal reload=$MAINPID", true},
		{"ExecReload=/usr/local/bin/nats-server --signal reload=${MAINPID}", false},
		{"ExecReload=/bin/kill -HUP $MAINPID", false},
		{`ExecStart=/bin/sh -c "echo $HOME"`, true},
		{"ExecStart=/bin/echo $$MAINPID", false},
		{"ExecStart=/bin/echo x$${HOME}", false},
		{"Description=pid $MAINPID", true},
		{"# ExecReload=/x reload=$MAINPID", false},
	} {
		if got := unexpanded(c.line); (len(got) > 0) != c.bad {
			t.Errorf("%s: problems %q, want bad=%v", c.line, got, c.bad)
		}
	}
}

// TestSystemdUnitsExpandVariables checks every line of every unit rendered for every example
// (the runit examples rendered for systemd too) against systemd's substitution rule, so a
// variable written where systemd leaves it as literal text cannot be rendered again.
// `systemd-analyze verify` does not check this.
func TestSystemdUnitsExpandVariables(t *testing.T) {
	lines, refs := 0, 0
	for _, name := range examples(t) {
		inv := loadExample(t, name)
		for _, h := range inv.Hosts {
			h.ServiceManager = inventory.ServiceManagerSystemd
			files, err := Host(inv, h, Options{RevealSecrets: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if f.Kind != FileUnit {
					continue
				}
				for i, line := range strings.Split(string(f.Content), "\n") {
					lines++
					if commandKeys[strings.TrimSpace(strings.SplitN(line, "=", 2)[0])] {
						refs += len(varRefRE.FindAllString(line, -1))
					}
					for _, p := range unexpanded(line) {
						t.Errorf("%s/%s %s:%d: %s", name, h.Name, f.Path, i+1, p)
					}
				}
			}
		}
	}
	if refs == 0 {
		t.Fatal("no rendered command line uses a variable: the check above checked nothing")
	}
	t.Logf("%d unit lines checked, %d variable references in command lines", lines, refs)
}
