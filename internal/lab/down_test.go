package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// footprint is what a lab put on the machine, recorded while it runs.
type footprint struct {
	st    state
	procs []procID
	files []string // outside the state directory
}

func footprintOf(f *Fleet) footprint {
	fp := footprint{st: *f.st}
	fp.st.Hosts = append([]hostState(nil), f.st.Hosts...)
	for _, h := range f.st.Hosts {
		fp.procs = append(fp.procs, h.Unshare, h.initOf())
		if h.systemd() {
			if lock := nspawnLock(mergedDir(f.StateDir, h.Name)); lock != "" {
				fp.files = append(fp.files, lock)
			}
		}
	}
	return fp
}

// assertGone checks that nothing of the lab is left on the machine: no process it started or
// whose command line names its state directory, no network namespace, veth or bridge, no
// mount under its state directory, no state directory and no registry entry; for systemd
// hosts, no cgroup and nothing of theirs in /run/systemd/nspawn.
func assertGone(t *testing.T, fp footprint) {
	t.Helper()
	for _, p := range fp.procs {
		if p.alive() {
			t.Errorf("process %d still runs", p.PID)
		}
	}
	pids, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range pids {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), fp.st.StateDir+"/") {
			t.Errorf("%s: %q still runs", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	links := []string{fp.st.Bridge}
	for _, h := range fp.st.Hosts {
		links = append(links, h.Veth)
		if _, err := os.Stat("/run/netns/" + h.Netns); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("network namespace %s remains (%v)", h.Netns, err)
		}
	}
	for _, l := range links {
		if _, err := net.InterfaceByName(l); err == nil {
			t.Errorf("link %s remains", l)
		}
	}
	if m := mountsUnder(fp.st.StateDir); len(m) > 0 {
		t.Errorf("mounts remain: %v", m)
	}
	if m := mountsUnder("/run/netns/lp" + fp.st.ID); len(m) > 0 {
		t.Errorf("namespace mounts remain: %v", m)
	}
	for _, root := range cgroupRoots() {
		cg := filepath.Join(root, filepath.Dir(cgroupRel(fp.st.Name, "x")))
		if _, err := os.Stat(cg); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s remains (%v)", cg, err)
		}
	}
	for _, h := range fp.st.Hosts {
		if left, _ := filepath.Glob(filepath.Join("/run/systemd/nspawn", "*", machineName(fp.st.ID, h.Name))); len(left) > 0 {
			t.Errorf("host %s: nspawn files remain: %v", h.Name, left)
		}
	}
	for _, p := range append([]string{fp.st.StateDir, filepath.Join(BaseDir, fp.st.Name)}, fp.files...) {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s remains (%v)", p, err)
		}
	}
}

func TestDownLeavesNothing(t *testing.T) {
	requireLab(t)
	ctx := context.Background()

	t.Run("RunningLab", func(t *testing.T) {
		f := upLab(t, "down", 3, nil)
		if _, err := f.Exec(ctx, "h1", "sh", "-c", "mkdir /etc/sv/s && printf '#!/bin/sh\\nexec sleep 600\\n' > /etc/sv/s/run && chmod +x /etc/sv/s/run && ln -s /etc/sv/s /etc/service/s"); err != nil {
			t.Fatal(err)
		}
		fp := footprintOf(f)
		if err := f.Down(ctx); err != nil {
			t.Fatal(err)
		}
		assertGone(t, fp)
		if err := f.Down(ctx); err != nil {
			t.Errorf("second Down: %v", err)
		}
	})

	t.Run("UnrecordedProcesses", func(t *testing.T) {
		// As after an Up killed between starting a host and saving its PID: the state names
		// no process, and Down must still find (only) this lab's.
		f := upLab(t, "unrec", 2, nil)
		fp := footprintOf(f)
		for i := range f.st.Hosts {
			want := f.st.Hosts[i].Unshare
			f.st.Hosts[i].Unshare, f.st.Hosts[i].Init = procID{}, procID{}
			if got := f.st.Hosts[i].unshareOf(f.StateDir); got != want {
				t.Fatalf("host %s: found %+v, want %+v", f.st.Hosts[i].Name, got, want)
			}
			f.st.Hosts[i].Unshare = procID{}
		}
		if err := f.Down(ctx); err != nil {
			t.Fatal(err)
		}
		assertGone(t, fp)
	})

	t.Run("CrashedHost", func(t *testing.T) {
		f := upLab(t, "crash", 2, nil)
		init := f.st.Hosts[0].initOf()
		if err := syscall.Kill(init.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		fp := footprintOf(f)
		reopened, err := Open(f.Name) // as `latticepush lab down` does, from another process
		if err != nil {
			t.Fatal(err)
		}
		if err := reopened.Down(ctx); err != nil {
			t.Fatal(err)
		}
		assertGone(t, fp)
	})

	for _, step := range []string{"files", "network", "start"} {
		t.Run("HalfBuilt/"+step, func(t *testing.T) {
			requireLab(t)
			spec := Spec{Name: fmt.Sprintf("t%d-half", os.Getpid()), Hosts: []HostSpec{{Name: "a"}, {Name: "b"}}, failAfter: step}
			spec.check()
			st := state{Name: spec.Name, ID: labID(spec.Name), Bridge: bridgeName(labID(spec.Name)), StateDir: spec.StateDir}
			for i, h := range spec.Hosts {
				st.Hosts = append(st.Hosts, hostState{Name: h.Name, Netns: netnsName(st.ID, h.Name), Veth: vethName(st.ID, i)})
			}
			_, err := Up(ctx, spec)
			if err == nil || !strings.Contains(err.Error(), step) {
				t.Fatalf("Up = %v, want the failure after %q", err, step)
			}
			assertGone(t, footprint{st: st})
		})
	}

	t.Run("StaleLab", func(t *testing.T) {
		f := upLab(t, "stale", 1, nil)
		fp := footprintOf(f)
		// Any Up removes stale labs, and other test binaries bring labs up while this one
		// runs: hold the registry while the lab is stale, so only this test removes it.
		unlock, err := lockRegistry()
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		f.st.Owner = procID{PID: os.Getpid(), Start: 1} // as if its creator had exited
		if err := f.st.save(); err != nil {
			t.Fatal(err)
		}
		names, err := downLocked(ctx, stale) // DownStale, under the lock already held
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(names, " "), f.Name) {
			t.Errorf("DownStale removed %v, not %s", names, f.Name)
		}
		assertGone(t, fp)
	})
}

func TestConcurrentLabsDoNotCollide(t *testing.T) {
	requireLab(t)
	var g errgroup.Group
	fleets := make([]*Fleet, 3)
	for i := range fleets {
		g.Go(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, err := Up(ctx, Spec{Name: fmt.Sprintf("t%d-par%d", os.Getpid(), i), Hosts: []HostSpec{{Name: "x"}, {Name: "y"}}})
			fleets[i] = f
			return err
		})
	}
	err := g.Wait()
	for _, f := range fleets {
		if f != nil {
			t.Cleanup(func() { f.Down(context.Background()) })
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, f := range fleets {
		for _, k := range []string{f.Subnet.String(), f.Bridge, f.Hosts[0].Netns, f.StateDir} {
			if prev, dup := seen[k]; dup {
				t.Errorf("labs %s and %s share %s", prev, f.Name, k)
			}
			seen[k] = f.Name
		}
		if f.Subnet.Addr().As4()[2] == 0 && f.Subnet.Addr().As4()[1] == 18 {
			t.Errorf("lab %s was given 198.18.0.0/24, which is left to explicit specs", f.Name)
		}
	}
	// A host of one lab reaches its neighbour but not the other labs.
	a, b := fleets[0], fleets[1]
	if _, err := a.Dial(context.Background(), "y", "root"); err != nil {
		t.Errorf("lab %s: %v", a.Name, err)
	}
	if out, err := a.Exec(context.Background(), "x", "ip", "route", "get", b.Hosts[0].Addr.String()); err == nil {
		t.Errorf("lab %s host x has a route to lab %s: %s", a.Name, b.Name, out)
	}
}
