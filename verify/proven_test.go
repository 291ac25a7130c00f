package verify

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

// TestProven_ValidOnlyWithoutLaterChanges: a gate's result is reused while nothing changed
// since on its machine or on any hub; a later change on that machine, or on any hub, makes it
// one to check again, and a lattice-wide result needs no change anywhere since.
func TestProven_ValidOnlyWithoutLaterChanges(t *testing.T) {
	t0 := time.Now()
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	var p Proven
	p.Record(t1, []Result{
		pass(CheckLeafRemote, "edge-1", "connected"),
		pass(CheckLeafRemote, "edge-2", "connected"),
		pass(CheckHubHealthz, "hub-1", "200"),
		pass(CheckHubPeersCurrent, "", "every peer current"),
	})
	keys := func(rs []Result) map[key]bool {
		m := map[key]bool{}
		for _, r := range rs {
			m[keyOf(r)] = true
		}
		return m
	}

	// Changes before the gate: everything is still valid.
	if got := keys(p.Valid(Changes{Hosts: map[string]time.Time{"edge-2": t0, "hub-1": t0}, Hub: t0})); len(got) != 4 {
		t.Errorf("changes before the gate: %d results valid, want 4: %v", len(got), got)
	}
	// edge-2 restarted after the gate: its result, and the lattice-wide one, must be checked again.
	got := keys(p.Valid(Changes{Hosts: map[string]time.Time{"edge-2": t2}}))
	if got[key{CheckLeafRemote, "edge-2"}] || got[key{CheckHubPeersCurrent, ""}] {
		t.Errorf("after edge-2 restarted: %v still valid, want edge-2's and the lattice-wide result rechecked", got)
	}
	if !got[key{CheckLeafRemote, "edge-1"}] || !got[key{CheckHubHealthz, "hub-1"}] {
		t.Errorf("after edge-2 restarted: %v, want edge-1's and hub-1's results reused", got)
	}
	// Any hub restarted after the gate: nothing is valid.
	if got := p.Valid(Changes{Hosts: map[string]time.Time{"hub-3": t2}, Hub: t2}); len(got) != 0 {
		t.Errorf("after a hub restarted: %v still valid, want none", got)
	}
	// A later gate that fails on edge-1 takes its result back.
	p.Record(t2, []Result{fail(CheckLeafRemote, "edge-1", "no leaf remote connected", "")})
	if got := keys(p.Valid(Changes{})); got[key{CheckLeafRemote, "edge-1"}] {
		t.Errorf("after a failing gate on edge-1: %v, want edge-1's result gone", got)
	}
}

// TestRunReusing_ChecksOnlyWhatIsNotReused: a reused result is reported as reused and its host
// is not asked again; a host without a result to reuse is asked.
func TestRunReusing_ChecksOnlyWhatIsNotReused(t *testing.T) {
	inv, diags := inventory.Load("../examples/lab/inventory.hcl", inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	leaves := inv.HostsWithRole(inventory.RoleLeaf)
	if len(leaves) < 2 {
		t.Fatalf("the lab inventory has %d leaves, want 2 or more", len(leaves))
	}
	var mu sync.Mutex
	dials := map[string]int{}
	bodies := map[string]string{"/leafz": `{"leafs":[{"name":"hub-1","is_spoke":true,"ip":"198.18.0.11","port":7422,"rtt":"1ms"}]}`}
	var targets []Target
	for _, h := range inv.Hosts {
		targets = append(targets, Target{Host: h, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dials[h.Name]++
			mu.Unlock()
			client, server := net.Pipe()
			go serveMonitor(server, 200, bodies)
			return client, nil
		}})
	}
	reusedLeaf, checkedLeaf := leaves[0], leaves[1]
	r := newRound(inv, targets, Options{Timeout: time.Second})
	defer r.close()
	r.take([]Result{pass(CheckLeafRemote, reusedLeaf.Name, "connected to hub-1 (from the gate)")})
	var tasks []task
	for _, l := range leaves[:2] {
		tasks = append(tasks, one(CheckLeafRemote, l.Name, func(ctx context.Context) Result { return r.checkLeafRemote(ctx, l) }))
	}
	res := r.run(context.Background(), tasks)
	if len(res) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(res), res)
	}
	for _, x := range res {
		if !x.OK {
			t.Errorf("%s on %s failed: %s", x.Check, x.Host, x.Evidence)
		}
		switch x.Host {
		case reusedLeaf.Name:
			if !x.Reused || x.Evidence != "connected to hub-1 (from the gate)" {
				t.Errorf("%s: %+v, want the gate's result, marked reused", x.Host, x)
			}
		case checkedLeaf.Name:
			if x.Reused {
				t.Errorf("%s: %+v, want a fresh result", x.Host, x)
			}
		}
	}
	if dials[reusedLeaf.Name] != 0 || dials[checkedLeaf.Name] == 0 {
		t.Errorf("dials %v: want none to %s (reused) and some to %s (checked)", dials, reusedLeaf.Name, checkedLeaf.Name)
	}
}

// TestTaskKeys_NameTheirResults: every task that names its results ahead names exactly the
// ones it returns, whether its checks pass or fail; a wrong name would reuse a result for the
// wrong check or host.
func TestTaskKeys_NameTheirResults(t *testing.T) {
	inv, diags := inventory.Load("../examples/lab/inventory.hcl", inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var targets []Target
	for _, h := range inv.Hosts {
		targets = append(targets, Target{Host: h, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveMonitor(server, 503, map[string]string{})
			return client, nil
		}})
	}
	r := newRound(inv, targets, Options{Timeout: 200 * time.Millisecond, PingWait: 100 * time.Millisecond})
	defer r.close()
	ctx := context.Background()
	for _, tk := range r.allTasks() {
		if len(tk.keys) == 0 {
			continue
		}
		want := map[key]bool{}
		for _, k := range tk.keys {
			want[k] = true
		}
		got := map[key]bool{}
		for _, res := range tk.run(ctx) {
			got[keyOf(res)] = true
		}
		if len(got) != len(want) {
			t.Errorf("task named %v, returned %v", tk.keys, got)
			continue
		}
		for k := range got {
			if !want[k] {
				t.Errorf("task named %v, returned %v", tk.keys, got)
				break
			}
		}
	}
}
