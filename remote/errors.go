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

// HostError is an error on one host (a Target, by its Name), which it names once: its text
// is "<host>: <error>". Every error a Pool or Client returns about its target is one, so a
// caller that labels errors with host names can tell (ErrorHost) that this one needs none.
type HostError struct {
	Host string
	Err  error
}

func (e *HostError) Error() string { return e.Host + ": " + e.Err.Error() }
func (e *HostError) Unwrap() error { return e.Err }

// ErrorHost returns the host the error names.
func (e *HostError) ErrorHost() string { return e.Host }

// HopError reports that a jump host on the way to a target failed (unreachable, host key,
// authentication): Hop is that jump host, the first one on the path that failed, and the
// only one the error names.
type HopError struct {
	Hop Endpoint
	Err error
}

func (e *HopError) Error() string { return "via bastion " + e.Hop.String() + ": " + e.Err.Error() }
func (e *HopError) Unwrap() error { return e.Err }
