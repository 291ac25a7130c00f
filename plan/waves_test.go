package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/latticepush/latticepush/inventory"
)

func names(prefix string, n int) []string {
	var out []string
	for i := n; i >= 1; i-- { // reversed: the order given must not matter
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func batchNames(hosts []string, batches [][]int) [][]string {
	var out [][]string
	for _, b := range batches {
		var bn []string
		for _, i := range b {
			bn = append(bn, hosts[i])
		}
		out = append(out, bn)
	}
	return out
}

// 50 hosts at 25% (at most 12 per batch) are 5 batches of 10, not 12+12+12+12+2.
func TestBatches_EqualSizes(t *testing.T) {
	size := inventory.Rollout{Batch: "25%"}.BatchSize(50)
	if size != 12 {
		t.Fatalf("25%% of 50 = %d, want 12", size)
	}
	for _, tt := range []struct{ n, size int }{{50, 12}, {50, 10}, {7, 3}, {53, 12}, {1, 5}, {10, 1}, {11, 4}} {
		got := Batches(names("h", tt.n), tt.size, nil)
		want := (tt.n + tt.size - 1) / tt.size
		if len(got) != want {
			t.Errorf("%d hosts, size %d: %d batches, want %d", tt.n, tt.size, len(got), want)
		}
		lo, hi, total := tt.n, 0, 0
		for _, b := range got {
			lo, hi, total = min(lo, len(b)), max(hi, len(b)), total+len(b)
		}
		if total != tt.n || hi > tt.size || hi-lo > 1 {
			t.Errorf("%d hosts, size %d: batch sizes %d..%d (total %d), want within one and at most %d", tt.n, tt.size, lo, hi, total, tt.size)
		}
	}
	got := batchNames(names("h", 50), Batches(names("h", 50), 12, nil))
	if len(got) != 5 || len(got[0]) != 10 || len(got[4]) != 10 {
		t.Fatalf("50 hosts at 12: %v", got)
	}
}

// Hosts are in natural order: h2 before h10, and the first batch is h1..h4.
func TestBatches_NaturalOrder(t *testing.T) {
	hosts := names("h", 11)
	got := batchNames(hosts, Batches(hosts, 4, nil))
	want := [][]string{{"h1", "h2", "h3", "h4"}, {"h5", "h6", "h7", "h8"}, {"h9", "h10", "h11"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, tt := range []struct {
		a, b string
		less bool
	}{
		{"h2", "h10", true}, {"h10", "h2", false}, {"edge-9", "edge-10", true}, {"a", "b", true},
		{"h02", "h2", false}, {"h2", "h02", true}, {"h1a", "h1b", true}, {"h", "h1", true}, {"h1", "h1", false},
		{"rack2-h10", "rack10-h1", true},
	} {
		if got := NaturalLess(tt.a, tt.b); got != tt.less {
			t.Errorf("NaturalLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.less)
		}
	}
}

// With spread_by, no batch holds more than ceil(rack size / batches) hosts of one rack, and
// the batches stay equal within one.
func TestBatches_SpreadBy(t *testing.T) {
	hosts := names("h", 10)
	labels := map[string]string{}
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5", "h6"} { // r1 holds six, r2 four
		labels[h] = "r1"
	}
	for _, h := range []string{"h7", "h8", "h9", "h10"} {
		labels[h] = "r2"
	}
	got := batchNames(hosts, Batches(hosts, 5, labels))
	want := [][]string{{"h1", "h3", "h5", "h7", "h9"}, {"h2", "h4", "h6", "h8", "h10"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Every split of 1..40 hosts over 1..5 racks at sizes 1..12.
	for n := 1; n <= 40; n++ {
		for racks := 1; racks <= 5; racks++ {
			hosts := names("h", n)
			labels := map[string]string{}
			rackSize := map[string]int{}
			for i, h := range hosts {
				r := fmt.Sprintf("r%d", (i*7)%racks) // racks interleaved over the names
				labels[h] = r
				rackSize[r]++
			}
			for size := 1; size <= 12; size++ {
				batches := Batches(hosts, size, labels)
				count := (n + size - 1) / size
				if len(batches) != count {
					t.Fatalf("n=%d racks=%d size=%d: %d batches, want %d", n, racks, size, len(batches), count)
				}
				seen := map[int]bool{}
				lo, hi := n, 0
				for _, b := range batches {
					lo, hi = min(lo, len(b)), max(hi, len(b))
					per := map[string]int{}
					for _, i := range b {
						if seen[i] {
							t.Fatalf("n=%d racks=%d size=%d: %s twice", n, racks, size, hosts[i])
						}
						seen[i] = true
						per[labels[hosts[i]]]++
					}
					for r, c := range per {
						if limit := (rackSize[r] + count - 1) / count; c > limit {
							t.Errorf("n=%d racks=%d size=%d: %d hosts of %s in one batch, limit %d", n, racks, size, c, r, limit)
						}
					}
				}
				if len(seen) != n || hi > size || hi-lo > 1 {
					t.Errorf("n=%d racks=%d size=%d: %d hosts placed, sizes %d..%d", n, racks, size, len(seen), lo, hi)
				}
			}
		}
	}
}

// A wave's first starts go together in its first batch; the units that run now follow in
// equal batches, in natural order, spread by rack.
func TestRolloutWave_FirstStartsTogetherThenSpreadBatches(t *testing.T) {
	inv := &inventory.Inventory{}
	var units []*Unit
	for i := 1; i <= 12; i++ {
		name := fmt.Sprintf("edge-%d", i)
		rack := "r1"
		if i > 6 {
			rack = "r2"
		}
		inv.Hosts = append(inv.Hosts, &inventory.Host{Name: name, Roles: []string{"leaf"}, Labels: map[string]string{"rack": rack},
			Rollout: map[string]inventory.Rollout{"leaf": {Batch: "25%", SpreadBy: "rack"}}})
		u := &Unit{Host: name, Service: ServiceNATS, Role: RoleLeaf, Action: Restart, WasRunning: true}
		if i == 3 || i == 11 {
			u.Action, u.WasRunning, u.Start, u.Enable = Start, false, true, true
		}
		units = append(units, u)
	}
	sort.Slice(inv.Hosts, func(i, j int) bool { return inv.Hosts[i].Name < inv.Hosts[j].Name })
	w := rolloutWave(inv, WaveLeaf, RoleLeaf, units)
	// 25% of 12 = 3 at most: 10 running units in 4 batches of 3, 3, 2, 2; racks r1 (5 running)
	// and r2 (5 running) at most ceil(5/4) = 2 per batch.
	want := [][]string{
		{"edge-3/nats-server", "edge-11/nats-server"},
		{"edge-1/nats-server", "edge-6/nats-server", "edge-10/nats-server"},
		{"edge-2/nats-server", "edge-7/nats-server", "edge-12/nats-server"},
		{"edge-4/nats-server", "edge-8/nats-server"},
		{"edge-5/nats-server", "edge-9/nats-server"},
	}
	if !reflect.DeepEqual(w.Batches, want) {
		t.Errorf("batches\n%v, want\n%v", w.Batches, want)
	}
}

// TestGateTimeouts: the plan carries the gate_timeout each role sets (in seconds, in the plan
// file too), and nothing for roles without one.
func TestGateTimeouts(t *testing.T) {
	inv := &inventory.Inventory{Hosts: []*inventory.Host{
		{Name: "hub-1", Roles: []string{"hub"}, Rollout: map[string]inventory.Rollout{"hub": {Batch: "1", GateTimeout: 10 * time.Minute}}},
		{Name: "edge-1", Roles: []string{"leaf", "wasmcloud"}, Rollout: map[string]inventory.Rollout{
			"leaf": {Batch: "1", GateTimeout: 45 * time.Second}, "wasmcloud": {Batch: "1"}}},
	}}
	got := gateTimeouts(inv)
	want := map[Role]float64{RoleHub: 600, RoleLeaf: 45}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("gate timeouts %v, want %v", got, want)
	}
	b, err := json.Marshal(&Plan{GateTimeouts: got})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"gate_timeout_seconds":{"hub":600,"leaf":45}`) {
		t.Errorf("plan JSON %s, want gate_timeout_seconds", b)
	}
	inv.Hosts = inv.Hosts[1:2]
	inv.Hosts[0].Rollout["leaf"] = inventory.Rollout{Batch: "1"}
	if got := gateTimeouts(inv); got != nil {
		t.Errorf("gate timeouts %v, want none", got)
	}
	if b, _ := json.Marshal(&Plan{GateTimeouts: gateTimeouts(inv)}); strings.Contains(string(b), "gate_timeout") {
		t.Errorf("plan JSON %s names gate timeouts none of its roles sets", b)
	}
}
