package supervisor_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/remote"
	"github.com/latticepush/latticepush/supervisor"
)

// A graceful stop whose controller is gone (killed, or its connection cut) stops waiting and
// does nothing more. Before, it went on waiting on the host and marked the service down once
// the process exited, undoing what the next run had done meanwhile: the next apply restarted
// a hub that the killed run was stopping, and the orphan then took it down again.
//
// A runit service with a 2-second "lame duck" (it exits 2 s after SIGTERM) is stopped
// gracefully over SSH; the connection is closed 0.5 s in; a second connection asks for the
// service up, as a later run would. The service must run again, with a new pid, and the
// orphaned script must be gone; as root, and as a user whose commands run through sudo.
func TestLab_OrphanedGracefulStopLeavesTheServiceAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("lab tests bring up network namespaces")
	}
	testenv.RequireRoot(t)
	if err := lab.CheckPrerequisites(); err != nil {
		testenv.Unavailable(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, err := lab.Up(ctx, lab.Spec{Name: fmt.Sprintf("s%d-orphan", os.Getpid()), Hosts: []lab.HostSpec{{Name: "h1"}}})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Down(context.Background()); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	for i, user := range []string{"root", f.SudoUser} {
		t.Run(user, func(t *testing.T) { orphanedGracefulStop(t, ctx, f, user, fmt.Sprintf("lp-lameduck%d", i)) })
	}
}

func orphanedGracefulStop(t *testing.T, ctx context.Context, f *lab.Fleet, user, svc string) {
	h := f.Hosts[0]
	target := remote.Target{Name: h.Name, Address: h.Addr.String(), User: user, Become: user != "root", IdentityFiles: []string{f.KeyPath},
		IdentitiesOnly: true, KnownHostsFile: f.KnownHostsPath, ConfigFile: "none"}
	connect := func() (*remote.Pool, *remote.Client) {
		p := remote.NewPool(remote.Options{AgentSocket: "none"})
		c, err := p.Connect(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		return p, c
	}
	pb, b := connect()
	defer pb.Close()
	run := func(script string, args ...string) string {
		t.Helper()
		res, err := b.Run(ctx, supervisor.Script(script, args...), remote.RunOptions{Become: target.Become})
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", script, err, res.Stdout, res.Stderr)
		}
		return strings.TrimSpace(string(res.Stdout))
	}
	dir, link := supervisor.RunitSvDir+"/"+svc, supervisor.RunitServiceDir+"/"+svc
	run(`mkdir -p "$1" && printf '#!/bin/sh\nexec sh -c '"'"'trap "sleep 2; exit 0" TERM; while :; do sleep 0.1; done'"'"'\n' > "$1/run" &&
chmod 755 "$1/run" && ln -s "$1" "$2"
i=0; until sv status "$2" 2>/dev/null | grep -q '^run:'; do i=$((i+1)); [ $i -lt 150 ] || { sv status "$2"; exit 1; }; sleep 0.1; done`, dir, link)
	pid := run(`cat "$1/supervise/pid"`, link)

	pa, a := connect()
	cmds := supervisor.Runit{SvDir: supervisor.RunitSvDir, ServiceDir: supervisor.RunitServiceDir}.Commands(30 * time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := a.Run(ctx, cmds.GracefulStop(svc, "TERM"), remote.RunOptions{Become: target.Become})
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	pa.Close() // the controller is gone
	if err := <-done; err == nil {
		t.Fatal("the graceful stop finished within 0.5 s: the service's lame duck did not hold it")
	}
	run(`sv up "$1"`, link) // what a later run asks for meanwhile

	time.Sleep(4 * time.Second) // the old process exited 2 s after SIGTERM; runsv restarted it
	status := run(`sv status "$1"`, link)
	if !strings.HasPrefix(status, "run:") {
		t.Errorf("after the orphaned graceful stop: %s, want the service running (a later run asked for it up)", status)
	} else if now := run(`cat "$1/supervise/pid"`, link); now == pid {
		t.Errorf("the service still runs pid %s: it was never stopped", pid)
	}
	if left := run(`pgrep -f "latticepush $1 TERM" || true`, link); left != "" {
		t.Errorf("the orphaned graceful stop is still running on the host (pids %s)", left)
	}
	t.Logf("after the orphaned stop and a later sv up: %s", status)
}
