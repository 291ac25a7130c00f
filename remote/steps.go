package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// A Step is one script of several that RunSteps runs in a single exec: each round trip to a
// host costs an SSH session and a shell, so work that ends an apply on a host (its record,
// the lock's release) goes together.
type Step struct {
	// Name says what the step does, in errors.
	Name string
	// Script is the caller's constant text, with Args as its positional parameters, as in
	// Script: it refers to them only as "$1", "$@" and so on.
	Script string
	Args   []string
	// Stdin has the step read the exec's standard input (RunOptions.Stdin); at most one step
	// may. The others read nothing.
	Stdin bool
	// AfterOK runs the step only when every step before it exited 0; a step that did not run
	// has Code -1 (and reads its standard input to the end, unread).
	AfterOK bool
}

// StepResult is what one step printed (standard output and error together) and its exit
// status.
type StepResult struct {
	Output string
	Code   int
}

// failure says why a step failed: its last output, or its exit status.
func (r StepResult) failure() string {
	if out := strings.TrimSpace(r.Output); out != "" {
		return out
	}
	return fmt.Sprintf("exit status %d", r.Code)
}

// RunSteps runs steps in order in one exec, each in its own subshell (its exit ends only it),
// and returns each one's result. The error is for the exec itself: a step that fails is a
// result with a non-zero Code.
func (c *Client) RunSteps(ctx context.Context, steps []Step, opts RunOptions) ([]StepResult, error) {
	var b [8]byte
	rand.Read(b[:])
	end := "latticepush-step-end-" + hex.EncodeToString(b[:])
	script, args := stepsScript(steps, end)
	res, err := c.Run(ctx, Script(script, args...), opts)
	if err != nil {
		return nil, err
	}
	out, err := parseSteps(string(res.Stdout), end, len(steps))
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	return out, nil
}

// stepsScript defines each step as a function whose body is a subshell and calls it with its
// arguments, which are the combined script's positional parameters from $2 on ($1 is the end
// marker). Only the parameters' numbers are written into the script, never their values.
func stepsScript(steps []Step, end string) (string, []string) {
	var s strings.Builder
	args := []string{end}
	for i, st := range steps {
		fmt.Fprintf(&s, "step%d() (\n%s\n)\n", i, st.Script)
	}
	s.WriteString("ok=1\n")
	for i, st := range steps {
		call := fmt.Sprintf("step%d", i)
		for range st.Args {
			args = append(args, "")
			call += fmt.Sprintf(` "${%d}"`, len(args))
		}
		if !st.Stdin {
			call += " </dev/null"
		}
		call += " 2>&1; rc=$?"
		if st.AfterOK {
			skip := "rc=-1"
			if st.Stdin {
				skip += "; while read -r _; do :; done"
			}
			call = fmt.Sprintf("if [ \"$ok\" = 1 ]; then %s; else %s; fi", call, skip)
		}
		// The marker starts a line of its own, even after output without a final newline.
		fmt.Fprintf(&s, "%s\n[ \"$rc\" = 0 ] || ok=0; printf '\\n%%s %%s\\n' \"$1\" \"$rc\"\n", call)
	}
	n := 1
	for _, st := range steps {
		for _, a := range st.Args {
			args[n] = a
			n++
		}
	}
	return s.String(), args
}

// parseSteps splits the combined output at the end markers.
func parseSteps(out, end string, n int) ([]StepResult, error) {
	res := make([]StepResult, 0, n)
	for len(res) < n {
		i := strings.Index(out, "\n"+end+" ")
		if i < 0 {
			return res, fmt.Errorf("the host's shell stopped after %d of %d steps", len(res), n)
		}
		text := out[:i]
		rest := out[i+len(end)+2:]
		line, after, _ := strings.Cut(rest, "\n")
		code, err := strconv.Atoi(line)
		if err != nil {
			return res, fmt.Errorf("unreadable step status %q", line)
		}
		res = append(res, StepResult{Output: text, Code: code})
		out = after
	}
	return res, nil
}
