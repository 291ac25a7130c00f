package supervisor

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParseShow feeds arbitrary `systemctl show` output to ParseShow: no panic; what it reads
// prints back as KEY=VALUE lines that read as the same state; an error names the property
// and stays short however long the host's line was.
func FuzzParseShow(f *testing.F) {
	f.Add([]byte("Result=exit-code\nExecMainCode=1\nExecMainStatus=1\nNRestarts=3\nActiveState=activating\nSubState=auto-restart\nMainPID=0\nOther=x=y\n"))
	f.Add([]byte("ActiveState=active\nSubState=running\nResult=success\nExecMainCode=0\nExecMainStatus=0\nMainPID=1234\nNRestarts=0\n"))
	f.Add([]byte("ActiveState=failed\r\nSubState=failed\r\nResult=signal\r\nExecMainCode=2\r\nExecMainStatus=9\r\nMainPID=\r\nNRestarts=\r\n"))
	f.Add([]byte("MainPID=abc\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		st, err := ParseShow(out)
		if err != nil {
			msg := err.Error()
			if len(msg) > 256 {
				t.Fatalf("error of %d bytes: %.200s…", len(msg), msg)
			}
			named := false
			for _, p := range []string{"ExecMainCode", "ExecMainStatus", "MainPID", "NRestarts"} {
				named = named || strings.Contains(msg, p)
			}
			if !named {
				t.Fatalf("error names no property: %s", msg)
			}
			return
		}
		for _, v := range []string{st.ActiveState, st.SubState, st.Result} {
			if strings.ContainsAny(v, "\n") || strings.TrimSpace(v) != v {
				// A value with spaces around it cannot print back as the same line.
				return
			}
		}
		back := fmt.Sprintf("ActiveState=%s\nSubState=%s\nResult=%s\nExecMainCode=%d\nExecMainStatus=%d\nMainPID=%d\nNRestarts=%d\n",
			st.ActiveState, st.SubState, st.Result, st.ExecMainCode, st.ExecMainStatus, st.MainPID, st.NRestarts)
		again, err := ParseShow([]byte(back))
		if err != nil || again != st {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, st)
		}
	})
}
