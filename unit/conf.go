package unit

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// confWriter writes NATS conf text with two-space indentation. Values are passed already
// formatted (see quote, size); keys are written as given.
type confWriter struct {
	b     bytes.Buffer
	depth int
}

func (w *confWriter) line(s string) {
	if s == "" {
		w.b.WriteByte('\n')
		return
	}
	w.b.WriteString(strings.Repeat("  ", w.depth))
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *confWriter) kv(key, val string) { w.line(key + ": " + val) }

// open starts a block: `key {` (or `key: [` with bracket '[').
func (w *confWriter) open(head string) {
	w.line(head)
	w.depth++
}

func (w *confWriter) close(tail string) {
	w.depth--
	w.line(tail)
}

// quote renders s as a NATS conf double-quoted string. Inside double quotes the NATS lexer
// expands no variables and accepts exactly the escapes \" \\ \t \n \r and \xXX; every control
// byte, DEL and every non-ASCII byte is written as \xXX, so any byte string survives.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// sizeRE is a NATS size literal: digits and an optional unit the NATS parser knows. Any other
// suffix is silently dropped by nats-server (the key keeps its default), so refuse it here.
var sizeRE = regexp.MustCompile(`^[0-9]+(?i:[kmgtpe](?:b|i|ib)?)?$`)

// size renders a store limit such as "20GB" as the unquoted literal NATS converts to bytes
// (a quoted size is parsed differently: "20GB" would be an error, "20G" binary GiB).
func size(setting, v string) (string, error) {
	if !sizeRE.MatchString(v) {
		return "", fmt.Errorf("%s = %q: want a size such as 512MB, 20GB or 1TB", setting, v)
	}
	return v, nil
}

// duration checks a lame-duck setting and returns it quoted.
func duration(setting, v string) (string, time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return "", 0, fmt.Errorf("%s = %q: want a duration such as 30s or 2m", setting, v)
	}
	return quote(v), d, nil
}

// hostPort joins host and port for a listen address or URL, bracketing IPv6 literals.
func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// bcryptRE is what nats-server treats as a bcrypt hash in a password field.
var bcryptRE = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

// checkPassword refuses values nats-server would misread.
func checkPassword(name, v string) error {
	if bcryptRE.MatchString(v) {
		return fmt.Errorf("secret %s looks like a bcrypt hash, which nats-server would compare "+
			"as a hash: choose another password", name)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("secret %s is not valid UTF-8: choose another password", name)
	}
	return nil
}
