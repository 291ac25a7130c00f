package remote

import (
	"errors"
	"fmt"
	"strings"
)

var errEmptyCommand = errors.New("remote: empty command")

// NULError reports an argument holding a NUL byte, which no remote command line can carry.
type NULError struct{ Index int }

func (e *NULError) Error() string {
	return fmt.Sprintf("remote: argument %d contains a NUL byte, which cannot be passed to a remote command", e.Index)
}

// ExitError is returned by Client.Run when the command ran and exited non-zero (or was
// killed by a signal). The Result is also returned alongside it.
type ExitError struct {
	Argv   []string
	Result Result
	Signal string // set when the command died from a signal
}

func (e *ExitError) Error() string {
	cmd := e.Argv
	if len(cmd) > 3 {
		cmd = append(cmd[:3:3], "...")
	}
	msg := fmt.Sprintf("%s: exit status %d", strings.Join(cmd, " "), e.Result.ExitCode)
	if e.Signal != "" {
		msg = fmt.Sprintf("%s: killed by signal %s", strings.Join(cmd, " "), e.Signal)
	}
	if s := strings.TrimSpace(string(e.Result.Stderr)); s != "" {
		if len(s) > 512 {
			s = s[:512] + "..."
		}
		msg += ": " + s
	}
	return msg
}
