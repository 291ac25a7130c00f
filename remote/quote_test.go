package remote

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/latticepush/latticepush/remote/sshtest"
)

// hostile are strings a shell would love to interpret.
var hostile = []string{
	"", " ", "'", `"`, `'\''`, "$(touch pwned)", "`touch pwned`", "; touch pwned", "a\nb", "\n",
	"$HOME", "${IFS}", "*", "~", "-n", "--", "\\", "'$(id)'", "\"$(id)\"", "!", "&&", "|", ">x", "<x",
	"\t", "\r\n", "héllo wörld ✓ 日本", "\x01\x7f", "#", "a b c", "%s%n", "-e \\x41",
}

// randomHostile builds strings from shell-significant pieces with a fixed seed.
func randomHostile(n int) []string {
	pieces := []string{"'", `"`, "$", "(", ")", "`", "\\", "\n", " ", ";", "|", "&", "*", "?", "[", "]", "{", "}",
		"~", "#", "!", "<", ">", "%", "é", "✓", "a", "-", "\t", "'\\''", "$(", "${"}
	r := rand.New(rand.NewPCG(6, 1))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range r.IntN(12) + 1 {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		out[i] = b.String()
	}
	return out
}

func TestQuote_HostileStringsRoundTrip(t *testing.T) {
	srv := sshtest.New(t)
	f := newFixture(t, srv)
	c := connect(t, newPool(t, Options{}), f.target(srv))
	for _, s := range append(hostile, randomHostile(200)...) {
		res, err := c.Run(context.Background(), []string{"printf", "%s", s}, RunOptions{})
		if err != nil || string(res.Stdout) != s {
			t.Fatalf("printf %%s %q came back as %q (%v)", s, res.Stdout, err)
		}
	}
	// Script arguments are data too: "$1" must be exactly the hostile string.
	for _, s := range hostile {
		res, err := c.Run(context.Background(), Script(`printf '%s|%s' "$1" "$#"`, s), RunOptions{})
		if want := s + "|1"; err != nil || string(res.Stdout) != want {
			t.Fatalf("script arg %q: got %q want %q (%v)", s, res.Stdout, want, err)
		}
	}
	if out := run(t, c, "sh", "-c", "ls pwned 2>/dev/null || echo clean"); out != "clean\n" {
		t.Fatalf("a hostile string ran a command: %q", out)
	}
}

func TestQuote_NULIsRejected(t *testing.T) {
	_, err := Command([]string{"echo", "a\x00b"})
	var ne *NULError
	if !errors.As(err, &ne) || ne.Index != 1 {
		t.Fatalf("got %v, want NULError at 1", err)
	}
	if _, err := Command(nil); err == nil {
		t.Fatal("empty argv accepted")
	}
}

func TestQuote_PlainWordsStayReadable(t *testing.T) {
	got, _ := Command([]string{"systemctl", "restart", "nats-server.service", "--now", "a b"})
	if want := `systemctl restart nats-server.service --now 'a b'`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}
