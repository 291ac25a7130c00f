package remote

import (
	"strings"
)

// Quote returns s quoted for a POSIX shell so that the shell passes it on as exactly one
// word, byte for byte. Every value is single-quoted (a ' inside becomes '\”), so no $, `,
// \, glob, newline or other metacharacter is interpreted. The empty string becomes ”.
//
// A NUL byte cannot be part of a command-line argument on any Unix; Command rejects it
// rather than letting the remote truncate the argument.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, needsQuote) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// needsQuote reports whether r is anything but the small set of characters that are never
// special to a POSIX shell in any position.
func needsQuote(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("-_./:,+@%=", r)
}

// Command joins argv into one shell command line with every element quoted by Quote. It
// fails when argv is empty or an element holds a NUL byte.
func Command(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errEmptyCommand
	}
	var b strings.Builder
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return "", &NULError{Index: i}
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(a))
	}
	return b.String(), nil
}

// Script returns argv that runs a fixed shell script with args as its positional
// parameters ($1, $2, ...): `sh -c <script> latticepush <args...>`. The script is the
// caller's constant text; the args are data and are quoted like any other argument, so
// the script must refer to them only as "$1", "$@" and so on.
func Script(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "latticepush"}, args...)
}
