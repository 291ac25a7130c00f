package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Down stops every host and removes what the lab created: it stops each runit host's services
// with `sv` and powers each systemd host off (SIGRTMIN+4 to its systemd), so they shut down
// gracefully; kills the host's process 1 (the kernel then ends everything left in the host)
// and the process the lab started for it; for systemd hosts, kills whatever is left in their
// cgroups, unmounts their trees and removes the cgroups and nspawn's files in
// /run/systemd/nspawn; deletes the network namespaces, veths and bridge, and removes the state
// directory and registry entry. It only signals processes recorded in the lab's state (PID
// and start time) or in the lab's own cgroups. It works on a half-built or crashed lab (also
// one whose Up was killed) and does nothing on one already down.
func (f *Fleet) Down(ctx context.Context) error {
	st := f.st
	if _, err := os.Stat(filepath.Join(st.StateDir, stateFile)); errors.Is(err, os.ErrNotExist) {
		return nil // already down
	}
	for i := range st.Hosts {
		st.Hosts[i].unshareOf(st.StateDir)
	}
	var errs []error
	var g errgroup.Group
	g.Go(func() error { f.stopServices(ctx); return nil })
	g.Go(func() error { f.stopSystemd(ctx); return nil })
	g.Wait()
	var killed []procID
	for i := range st.Hosts {
		h := &st.Hosts[i]
		for _, p := range []procID{h.initOf(), h.Unshare} { // process 1 first: unshare would not take it along
			if !p.alive() {
				continue
			}
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("host %s: kill %d: %w", h.Name, p.PID, err))
			}
			killed = append(killed, p)
		}
	}
	// A killed process is gone within milliseconds on an idle machine; one in the middle of
	// disk I/O on a loaded one can take seconds to exit.
	if err := waitFor(ctx, 30*time.Second, func() string {
		for _, p := range killed {
			if p.alive() { // a zombie counts as gone: its parent reaps it
				return fmt.Sprintf("process %d still runs", p.PID)
			}
		}
		return ""
	}); err != nil {
		errs = append(errs, err)
	}
	if err := f.cleanupSystemd(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := removeLinks(ctx, st); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab %s: down: %w (state kept in %s; retry `latticepush lab down %s`)", st.Name, errors.Join(errs...), st.StateDir, st.Name)
	}
	if m := mountsUnder(st.StateDir); len(m) > 0 {
		return fmt.Errorf("lab %s: down: mounts remain under %s: %s; not removing it", st.Name, st.StateDir, strings.Join(m, ", "))
	}
	if err := unregister(st.Name, st.StateDir); err != nil {
		return fmt.Errorf("lab %s: down: %w", st.Name, err)
	}
	if err := os.RemoveAll(st.StateDir); err != nil {
		return fmt.Errorf("lab %s: down: %w", st.Name, err)
	}
	return nil
}

// stopServices asks runit on every running host to stop its services, waiting up to 7 s
// (then runit kills them). Failures are not errors: the host is killed next anyway.
func (f *Fleet) stopServices(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(64) // mostly waiting: sv polls the service's status every ~420 ms
	for _, h := range f.st.Hosts {
		init := h.initOf()
		if h.systemd() || !init.alive() {
			continue
		}
		g.Go(func() error {
			exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(init.PID), "-m", "--",
				"/bin/sh", "-c", "sv -w 7 force-stop /etc/service/* >/dev/null 2>&1").Run()
			return nil
		})
	}
	g.Wait()
}

// removeLinks deletes the lab's network namespaces (which takes their veths along), any veth
// left, and the bridge, then waits until the kernel has let go of them.
func removeLinks(ctx context.Context, st *state) error {
	var cmds []string
	for _, h := range st.Hosts {
		if _, err := os.Stat(filepath.Join("/run/netns", h.Netns)); err == nil {
			cmds = append(cmds, "netns del "+h.Netns)
		}
	}
	if err := ipBatch(ctx, cmds...); err != nil {
		return fmt.Errorf("delete network namespaces: %w", err)
	}
	leftover := func() []string {
		var names []string
		for _, h := range st.Hosts {
			if _, err := net.InterfaceByName(h.Veth); err == nil {
				names = append(names, h.Veth)
			}
		}
		return names
	}
	// Namespaces are torn down asynchronously; give their veths a moment before deleting them.
	waitFor(ctx, 2*time.Second, func() string { return strings.Join(leftover(), " ") })
	cmds = nil
	for _, v := range leftover() {
		cmds = append(cmds, "link del "+v)
	}
	if _, err := net.InterfaceByName(st.Bridge); err == nil {
		cmds = append(cmds, "link del "+st.Bridge)
	}
	if err := ipBatch(ctx, cmds...); err != nil {
		return fmt.Errorf("delete links: %w", err)
	}
	return waitFor(ctx, 5*time.Second, func() string {
		if l := leftover(); len(l) > 0 {
			return "links remain: " + strings.Join(l, " ")
		}
		return ""
	})
}

// waitFor polls pending until it returns "" or the timeout passes; then it returns an error
// with pending's last answer.
func waitFor(ctx context.Context, timeout time.Duration, pending func() string) error {
	deadline := time.Now().Add(timeout)
	for {
		p := pending()
		if p == "" {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.New(p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountsUnder lists the machine's mount points at or below dir.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	return out
}

// List returns every registered lab, sorted by name.
func List() []*Fleet {
	var out []*Fleet
	for _, st := range registered() {
		out = append(out, newFleet(st))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Stale reports whether the lab is not persistent and the process that created it is gone.
func (f *Fleet) Stale() bool { return stale(f.st) }

// DownStale takes down every stale lab (see Fleet.Stale) and returns their names.
func DownStale(ctx context.Context) ([]string, error) {
	return downWhere(ctx, stale)
}

// DownAll takes down every registered lab and returns their names.
func DownAll(ctx context.Context) ([]string, error) {
	return downWhere(ctx, func(*state) bool { return true })
}

func downWhere(ctx context.Context, pick func(*state) bool) ([]string, error) {
	unlock, err := lockRegistry()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return downLocked(ctx, pick)
}

// downLocked is downWhere for a caller that holds the registry lock.
func downLocked(ctx context.Context, pick func(*state) bool) ([]string, error) {
	var names []string
	var errs []error
	for name, st := range registered() {
		if !pick(st) {
			continue
		}
		if err := newFleet(st).Down(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, errors.Join(errs...)
}
