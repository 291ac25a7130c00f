package remote

import (
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzLockFile feeds arbitrary lock-file content to the reader every Lock uses on a held
// lock. Whatever a host's lock file holds: reading and describing it does not panic; a
// description never shows the token; what was read survives being written and read again;
// and the lock is taken over only when it names this controller, this boot and a process
// that is gone.
func FuzzLockFile(f *testing.F) {
	me := controllerID()
	live := os.Getpid()
	for _, i := range []LockInfo{
		{User: "alice", Host: "ctl", PID: 4242, Command: "apply inv.hcl", Time: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), MachineID: "m", BootID: "b", token: "0123456789abcdef01234567"},
		{User: "root", Host: me.Host, PID: live, Command: "apply", Time: time.Now().Add(-7 * time.Hour), MachineID: me.MachineID, BootID: me.BootID, token: "feedfacefeedfacefeedface"},
		{User: "ghost", Host: me.Host, PID: 1 << 30, Command: "apply cut", MachineID: me.MachineID, BootID: me.BootID, token: "deadbeefdeadbeefdeadbeef"},
		{User: "x\ny", Host: "h=\"q\"", Command: "a\x00b", token: "t"},
	} {
		f.Add(encodeLock(i))
	}
	f.Add("user=\"ghost\"\nhost=\"ctl\"\npid=12\ncommand=\"apply\"\ntime=\"2026-01-01T00:00:00Z\"\ntoken=\"abc\"\n")
	f.Add("pid=-1\ntime=9999-12-31T23:59:59-23:59\nuser=\"unterminated\ntoken=")
	f.Add("")
	f.Fuzz(func(t *testing.T, content string) {
		got := decodeLock(content)
		desc := DescribeLock(content)
		var kept []string
		for _, line := range strings.Split(content, "\n") {
			if !strings.HasPrefix(line, "token=") {
				kept = append(kept, line)
			}
		}
		if tokenless := DescribeLock(strings.Join(kept, "\n")); desc != tokenless {
			t.Errorf("the description depends on the token line: %q, without it %q", desc, tokenless)
		}

		again := decodeLock(encodeLock(got))
		if y := got.Time.UTC().Year(); y >= 1 && y <= 9999 && !again.Time.Equal(got.Time) {
			t.Errorf("time %v read back as %v", got.Time, again.Time)
		}
		again.Time, got.Time = time.Time{}, time.Time{}
		if again != got {
			t.Errorf("written and read again:\n%+v\nwant\n%+v", again, got)
		}

		if mayTakeOver(got, me) {
			switch {
			case got.Host != me.Host || got.MachineID != me.MachineID || got.BootID != me.BootID || got.Host == "" || got.MachineID == "" || got.BootID == "":
				t.Errorf("would take over a lock of another controller or boot: %+v (this one: %+v)", got, me)
			case got.PID <= 0 || pidAlive(got.PID):
				t.Errorf("would take over the lock of pid %d, which is not a gone process", got.PID)
			case got.token == "":
				t.Errorf("would take over a lock without a token: %+v", got)
			}
		}
	})
}
