package verify

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/wasmcloud"
)

// wasmcloudScenarios run against lat (edge-1 and edge-2 linked): each "host" is a responder
// on its leaf's client port speaking the 1.x control interface, as a wasmCloud host next to
// the leaf does.
func wasmcloudScenarios(t *testing.T, lat *testLatticeT) {
	ctx := context.Background()
	labels := map[string]string{"env": "lab", "zone": "a"}

	t.Run("HealthyHostsPass", func(t *testing.T) {
		inv := lat.inventory("edge-1", "edge-2")
		id1 := withWasmcloud(t, inv, "edge-1", labels)
		id2 := withWasmcloud(t, inv, "edge-2", labels)
		fakeHost(t, lat, "edge-1", id1, testDomain, labels)
		fakeHost(t, lat, "edge-2", id2, testDomain, labels)

		rep := Run(ctx, inv, targets(inv), fast)
		logReport(t, rep)
		if !rep.OK() {
			t.Fatalf("report not OK: %+v", rep.Failed())
		}
		for _, h := range []string{"edge-1", "edge-2"} {
			find(t, rep, CheckWasmcloudHostGet, h)
			find(t, rep, CheckWasmcloudPing, h)
		}
		if r := find(t, rep, CheckWasmcloudMembership, ""); !strings.Contains(r.Evidence, "2 host(s) answered") {
			t.Errorf("membership evidence: %s", r.Evidence)
		}
		if _, err := WasmcloudGate(ctx, inv, targets(inv), "edge-2", fast); err != nil {
			t.Errorf("wasmCloud gate on a healthy host: %v", err)
		}
	})

	t.Run("WrongDomainExtraAndMissingHostsNamed", func(t *testing.T) {
		inv := lat.inventory("edge-1", "edge-2")
		id1 := withWasmcloud(t, inv, "edge-1", labels)
		id2 := withWasmcloud(t, inv, "edge-2", labels)
		fakeHost(t, lat, "edge-1", id1, testDomain, labels)
		// edge-2's host was started without WASMCLOUD_JS_DOMAIN and with another zone label.
		fakeHost(t, lat, "edge-2", id2, "", map[string]string{"env": "lab", "zone": "b"})
		// A host the inventory does not know answers from edge-1's leaf.
		stranger := newHostID(t)
		fakeHost(t, lat, "edge-1", stranger, testDomain, nil)
		// The inventory names a host that does not run.
		ghost := &inventory.Host{Name: "wc-9", Roles: []string{inventory.RoleWasmcloud}}
		inv.Hosts = append(inv.Hosts, ghost)
		withWasmcloud(t, inv, "wc-9", nil)

		rep := Run(ctx, inv, targets(inv), fast)
		logReport(t, rep)
		ping := wantFailed(t, rep, "edge-2", CheckWasmcloudPing)[0]
		for _, want := range []string{`js_domain "", want "hub"`, `label zone="b", want "a"`} {
			if !strings.Contains(ping.Evidence, want) {
				t.Errorf("ping evidence lacks %q: %s", want, ping.Evidence)
			}
		}
		get := wantFailed(t, rep, "wc-9", CheckWasmcloudHostGet, CheckWasmcloudPing)[0]
		if !strings.Contains(get.Evidence, "no responders") {
			t.Errorf("host-get evidence for a stopped host: %s", get.Evidence)
		}
		m := find(t, rep, CheckWasmcloudMembership, "")
		if m.OK || !strings.Contains(m.Evidence, "missing: wc-9") || !strings.Contains(m.Evidence, short(stranger)) {
			t.Errorf("membership: want wc-9 missing and %s extra, got %+v", short(stranger), m)
		}
		for _, h := range []string{"edge-1", "edge-2"} {
			if !find(t, rep, CheckWasmcloudHostGet, h).OK {
				t.Errorf("host-get on %s failed", h)
			}
		}

		opts := fast
		opts.GateTimeout = 600 * time.Millisecond
		_, err := WasmcloudGate(ctx, inv, targets(inv), "edge-2", opts)
		var gerr *GateError
		if !errors.As(err, &gerr) || !strings.Contains(err.Error(), CheckWasmcloudPing+" on edge-2") {
			t.Errorf("wasmCloud gate on a misconfigured host: %v", err)
		}
	})
}

// withWasmcloud gives inventory host name a wasmCloud host with a fresh seed and labels
// (a copy: the lattice's hosts are shared by scenarios) and returns its host id.
func withWasmcloud(t *testing.T, inv *inventory.Inventory, name string, labels map[string]string) string {
	t.Helper()
	i := slices.IndexFunc(inv.Hosts, func(h *inventory.Host) bool { return h.Name == name })
	kp, err := nkeys.CreateServer()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	id, _ := kp.PublicKey()
	h := *inv.Hosts[i]
	if !h.HasRole(inventory.RoleWasmcloud) {
		h.Roles = append(slices.Clone(h.Roles), inventory.RoleWasmcloud)
		slices.Sort(h.Roles)
	}
	h.Wasmcloud = &inventory.Wasmcloud{Labels: labels, HostSeed: inventory.NewSecret("host_seeds."+name, string(seed), "test")}
	inv.Hosts[i] = &h
	slices.SortFunc(inv.Hosts, func(a, b *inventory.Host) int { return strings.Compare(a.Name, b.Name) })
	return id
}

func newHostID(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateServer()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := kp.PublicKey()
	return id
}

// fakeHost answers ping and host.get.<id> for lattice testLattice on leaf's client port, and
// waits until the hub side sees it. It stops with the test.
func fakeHost(t *testing.T, lat *testLatticeT, leaf, id, jsDomain string, labels map[string]string) {
	t.Helper()
	nc := connectTo(t, lat.nodes[leaf].host)
	all := map[string]string{"hostcore.os": "linux"}
	for k, v := range labels {
		all[k] = v
	}
	reply := func(v any) nats.MsgHandler {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return func(m *nats.Msg) { _ = m.Respond(data) }
	}
	ping := wasmcloud.OK(wasmcloud.Host{ID: id, Labels: all, FriendlyName: "test-host", Lattice: testLattice, JSDomain: jsDomain, Version: "1.9.2"})
	get := wasmcloud.OK(wasmcloud.HostInventory{HostID: id, Labels: all, Version: "1.9.2", UptimeHuman: "1s"})
	for subj, h := range map[string]nats.MsgHandler{
		wasmcloud.PingSubject(testLattice):        reply(ping),
		wasmcloud.HostGetSubject(testLattice, id): reply(get),
	} {
		if _, err := nc.Subscribe(subj, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	hub := connectTo(t, lat.nodes["hub-1"].host, nats.UserInfo(checkUser, checkPassword))
	waitFor(t, 5*time.Second, "the hub side to see host "+short(id), func() bool {
		_, err := hub.Request(wasmcloud.HostGetSubject(testLattice, id), nil, 200*time.Millisecond)
		return err == nil
	})
}
