package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/wasmcloud"
)

// pingView is the lattice's answer to one ping, asked from the hub side.
type pingView struct {
	hosts map[string]wasmcloud.Host // by host id
	from  string                    // the hub the ping went through
	err   error                     // no answer at all could be gathered
	warn  error                     // problems with individual replies
}

// pingLattice pings once per round. With expect set (a gate), gathering stops as soon as
// those hosts answered. Otherwise it is a census: once every inventory host answered it goes
// on for as long again as that took (at least pingGrace), within the window, so hosts that are
// not in the inventory, and a second host with an inventory host's id, are seen too.
func (r *round) pingLattice(ctx context.Context, expect []string) pingView {
	r.pingOnce.Do(func() {
		nc, hub, err := r.hubSide(ctx)
		if err != nil {
			r.ping.err = err
			return
		}
		c, err := wasmcloud.NewClient(nc, r.inv.Lattice.Name)
		if err != nil {
			r.ping.err = err
			return
		}
		var hosts []wasmcloud.Host
		if expect != nil {
			hosts, err = c.Ping(ctx, expect, r.opts.PingWait)
		} else {
			// A census: every inventory host, and whoever answers at their pace.
			hosts, err = c.PingAll(ctx, r.inventoryHostIDs(), r.opts.PingWait, pingGrace)
		}
		r.ping = pingView{hosts: map[string]wasmcloud.Host{}, from: hub, warn: err}
		if ctx.Err() != nil {
			r.ping.err = err
		}
		for _, h := range hosts {
			r.ping.hosts[h.ID] = h
		}
	})
	return r.ping
}

// pingGrace is the least a census gathers after every inventory host answered.
const pingGrace = 200 * time.Millisecond

// inventoryHostIDs are the host ids of the inventory's wasmCloud hosts that have one.
func (r *round) inventoryHostIDs() []string {
	var ids []string
	for _, h := range r.inv.HostsWithRole(inventory.RoleWasmcloud) {
		if id, err := hostID(h); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// hostID is the wasmCloud host id the inventory pins with the host's seed.
func hostID(h *inventory.Host) (string, error) {
	if !h.Wasmcloud.HostSeed.IsSet() {
		return "", fmt.Errorf("%s has no wasmCloud host seed in the secrets file", h.Name)
	}
	kp, err := nkeys.FromSeed([]byte(h.Wasmcloud.HostSeed.Reveal()))
	if err != nil {
		return "", fmt.Errorf("%s: wasmCloud host seed: %w", h.Name, err)
	}
	defer kp.Wipe()
	return kp.PublicKey()
}

// checkHostGet: the host answers host.get.<id> asked from the hub side, which proves its
// control subscription is live in the lattice (a host answers through its own leaf even while
// the leaf's link is down).
func (r *round) checkHostGet(ctx context.Context, h *inventory.Host) Result {
	id, err := hostID(h)
	if err != nil {
		return fail(CheckWasmcloudHostGet, h.Name, err.Error(), "run `latticepush secrets` and apply")
	}
	nc, hub, err := r.hubSide(ctx)
	if err != nil {
		return fail(CheckWasmcloudHostGet, h.Name, err.Error(), "bring the hub nodes up (see the hub checks)")
	}
	c, err := wasmcloud.NewClient(nc, r.inv.Lattice.Name)
	if err != nil {
		return fail(CheckWasmcloudHostGet, h.Name, err.Error(), "")
	}
	sctx, cancel := r.step(ctx)
	defer cancel()
	hi, err := c.Get(sctx, id)
	if err != nil {
		fix := fmt.Sprintf("check the wasmcloud service on %s (its log) and its leaf link (%s)", h.Name, CheckLeafRemote)
		return fail(CheckWasmcloudHostGet, h.Name, fmt.Sprintf("asked via hub %s: %v", hub, timedOut(err, r.opts.Timeout)), fix)
	}
	return pass(CheckWasmcloudHostGet, h.Name, fmt.Sprintf("host %s answered via hub %s: wasmCloud %s, up %s, %d component(s), %d provider(s)",
		short(id), hub, hi.Version, hi.UptimeHuman, len(hi.Components), len(hi.Providers)))
}

// checkPing: the host's ping reply carries the inventory's lattice, js_domain and labels
// (extra labels, such as hostcore.*, are fine). js_domain only echoes the host's configuration:
// it catches a host started without WASMCLOUD_JS_DOMAIN, not an unreachable domain.
func (r *round) checkPing(ctx context.Context, h *inventory.Host, pv pingView) Result {
	id, err := hostID(h)
	if err != nil {
		return fail(CheckWasmcloudPing, h.Name, err.Error(), "run `latticepush secrets` and apply")
	}
	if pv.err != nil {
		return fail(CheckWasmcloudPing, h.Name, pv.err.Error(), "bring the hub nodes up (see the hub checks)")
	}
	got, ok := pv.hosts[id]
	if !ok {
		return fail(CheckWasmcloudPing, h.Name, fmt.Sprintf("host %s did not answer the ping via hub %s", short(id), pv.from),
			fmt.Sprintf("check the wasmcloud service on %s and its leaf link", h.Name))
	}
	var wrong []string
	if got.Lattice != r.inv.Lattice.Name {
		wrong = append(wrong, fmt.Sprintf("lattice %q, want %q", got.Lattice, r.inv.Lattice.Name))
	}
	if got.JSDomain != r.inv.Lattice.JSDomain {
		wrong = append(wrong, fmt.Sprintf("js_domain %q, want %q", got.JSDomain, r.inv.Lattice.JSDomain))
	}
	for _, k := range slices.Sorted(maps.Keys(h.Wasmcloud.Labels)) {
		switch v, ok := got.Labels[k]; {
		case !ok:
			wrong = append(wrong, fmt.Sprintf("label %s absent, want %q", k, h.Wasmcloud.Labels[k]))
		case v != h.Wasmcloud.Labels[k]:
			wrong = append(wrong, fmt.Sprintf("label %s=%q, want %q", k, v, h.Wasmcloud.Labels[k]))
		}
	}
	if len(wrong) > 0 {
		return fail(CheckWasmcloudPing, h.Name, fmt.Sprintf("host %s: %s", short(id), strings.Join(wrong, "; ")),
			fmt.Sprintf("the host runs with another configuration than the inventory's: run apply (it sets WASMCLOUD_JS_DOMAIN=%s and the labels)", r.inv.Lattice.JSDomain))
	}
	return pass(CheckWasmcloudPing, h.Name, fmt.Sprintf("host %s: lattice %q, js_domain %q, %d inventory label(s) match",
		short(id), got.Lattice, got.JSDomain, len(h.Wasmcloud.Labels)))
}

// checkMembership: the hosts answering ping are the inventory's, no more, no less.
func (r *round) checkMembership(pv pingView, want map[string]string) Result {
	if pv.err != nil {
		return fail(CheckWasmcloudMembership, "", pv.err.Error(), "bring the hub nodes up (see the hub checks)")
	}
	var missing, extra []string
	for id, name := range want {
		if _, ok := pv.hosts[id]; !ok {
			missing = append(missing, name)
		}
	}
	for id, h := range pv.hosts {
		if _, ok := want[id]; !ok {
			extra = append(extra, fmt.Sprintf("%s (%s, labels %s)", short(id), h.FriendlyName, labelList(h.Labels)))
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	ev := fmt.Sprintf("%d host(s) answered the ping via hub %s, inventory has %d", len(pv.hosts), pv.from, len(want))
	if errors.Is(pv.warn, wasmcloud.ErrDuplicateHost) {
		return fail(CheckWasmcloudMembership, "", ev+"; "+pv.warn.Error(),
			"two running hosts share one host seed: stop the copy that is not in the inventory")
	}
	switch {
	case len(missing) > 0 && len(extra) > 0:
		return fail(CheckWasmcloudMembership, "", ev+"; missing: "+names(missing)+"; not in the inventory: "+names(extra), fixMembership)
	case len(missing) > 0:
		return fail(CheckWasmcloudMembership, "", ev+"; missing: "+names(missing), fixMembership)
	case len(extra) > 0:
		return fail(CheckWasmcloudMembership, "", ev+"; not in the inventory: "+names(extra), fixMembership)
	}
	return pass(CheckWasmcloudMembership, "", ev)
}

const fixMembership = "start the missing hosts (see wasmcloud.host-get); stop hosts that are not in the inventory, or add them to it"

// labelList formats labels as sorted k=v pairs.
func labelList(labels map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		kv = append(kv, k+"="+labels[k])
	}
	return names(kv)
}

// short abbreviates a host id for evidence.
func short(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}
