package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/unit"
)

// StepBridge marks the unit of a leaf's intermediate config in a leaves-first change.
const StepBridge = "bridge"

// A change that moves where leaves connect (a hub's address or leafnode port) is applied leaves
// first. A connected leaf also learns the hubs' other leafnode listeners from their INFO
// messages, but only after its first connection, and in the lab it keeps its link through a
// hub-first move; but a leaf that restarts in between (a crash, a reboot) knows only the
// listeners in its config, and a leaf that cannot reach the advertised addresses (NAT,
// no_advertise) never had the others: applied hub first, once the last hub moves, such a leaf
// has no hub to reach until the leaf wave gives it the new listeners. So each leaf first
// reloads a bridge config that lists the hubs' current and new listeners (its remote reconnects
// once, at once), the hub wave moves the hubs while every leaf's config names a live one, and
// the leaf wave drops the old listeners. A rerun after a stop in between finds the bridge in
// place and plans only what is left.

// planBridges adds a bridge unit before each leaf whose remote loses listeners it uses now
// and gains others, when the hub wave changes hubs. It needs the leaf to take the remotes by
// reload; a leaf that restarts anyway is named in a warning instead.
func planBridges(inv *inventory.Inventory, p *Plan, facts map[string]Facts, red *redactor, opts unit.Options) error {
	if p.Cutover != nil {
		return nil // every hub stops at once: no hub is left to bridge to
	}
	hubsChange := false
	for _, u := range p.Units {
		// Relays are what the leaves below them connect to: a running relay that moves its
		// listener is bridged for them like a hub for its leaves (its wave runs after the
		// bridges). New relays move nothing: the leaves keep what they dial until the leaf wave.
		hubsChange = hubsChange || (u.Role == RoleHub && u.Changes()) || (u.Role == RoleRelay && u.Changes() && u.WasRunning)
	}
	if !hubsChange {
		return nil
	}
	var bridges []*Unit
	var restarting []string
	for _, u := range p.Units {
		if (u.Role != RoleLeaf && u.Role != RoleRelay) || u.Service != ServiceNATS || u.Step != "" {
			continue
		}
		cfg := u.file(u.ConfigPath)
		if cfg == nil {
			continue
		}
		old := facts[u.Host].Files[u.ConfigPath].Content
		if old == nil {
			continue
		}
		have, err1 := leafListeners(old)
		want, err2 := leafListeners(cfg.content)
		if err1 != nil || err2 != nil || !needsBridge(have, want) {
			continue
		}
		if u.Action != Reload {
			restarting = append(restarting, u.Host)
			continue
		}
		b, err := bridgeUnit(inv, u, have, red.redact(old), opts)
		if err != nil {
			return err
		}
		bridges = append(bridges, b)
	}
	if len(restarting) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the hub listeners the leaves connect to move, and %s restart(s) "+
			"anyway, so cannot take the new listeners first: from the last hub's move until the leaf wave they "+
			"reach the hubs only through the listeners the hubs advertise, and find none if they restart or "+
			"cannot reach those addresses", strings.Join(restarting, ", ")))
	}
	p.Units = append(p.Units, bridges...)
	return nil
}

// needsBridge: the desired remote drops listeners the leaf uses now and adds others. When it
// only adds, the new config itself bridges; when it only drops, the current one does.
func needsBridge(have, want []string) bool {
	dropped, added := false, false
	for _, h := range have {
		dropped = dropped || !slices.Contains(want, h)
	}
	for _, w := range want {
		added = added || !slices.Contains(have, w)
	}
	return dropped && added
}

// bridgeUnit is the leaf's nats-server reloaded with the desired config plus its current
// listeners: rendered with the plan's options (a rotation's step) and those listeners.
func bridgeUnit(inv *inventory.Inventory, u *Unit, have []string, oldShown []byte, opts unit.Options) (*Unit, error) {
	h := inv.Host(u.Host)
	opts.LeafAlsoTo = have
	opts.RevealSecrets = true
	content, err := renderConfig(inv, h, u.ConfigPath, opts)
	if err != nil {
		return nil, err
	}
	opts.RevealSecrets = false
	display, err := renderConfig(inv, h, u.ConfigPath, opts)
	if err != nil {
		return nil, err
	}
	cfg := u.file(u.ConfigPath)
	sum := sha256.Sum256(content)
	fc := FileChange{Path: cfg.Path, Op: "update", Mode: cfg.Mode, OldMode: cfg.OldMode, Secret: cfg.Secret,
		OldSHA256: cfg.OldSHA256, NewSHA256: hex.EncodeToString(sum[:]), content: content,
		Diff: unifiedDiff(cfg.Path, oldShown, display)}
	return &Unit{Host: u.Host, Service: u.Service, Role: u.Role, Step: StepBridge, Action: Reload,
		Reasons: []string{"leaves first: the remote lists the current listeners of what it dials (" + strings.Join(have, ", ") +
			") and their new ones until the hub or relay wave has moved them"},
		Files: []FileChange{fc}, ConfigPath: u.ConfigPath, Binary: u.Binary, MonitorAddr: u.MonitorAddr, WasRunning: u.WasRunning}, nil
}

func renderConfig(inv *inventory.Inventory, h *inventory.Host, path string, opts unit.Options) ([]byte, error) {
	files, err := unit.Host(inv, h, opts)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.Path == path {
			return f.Content, nil
		}
	}
	return nil, fmt.Errorf("%s: no %s rendered", h.Name, path)
}

// leafListeners returns the host:port of every URL of a leaf config's remotes, sorted.
func leafListeners(config []byte) ([]string, error) {
	m, err := conf.Parse(string(config))
	if err != nil {
		return nil, err
	}
	ln, _ := m["leafnodes"].(map[string]any)
	remotes, _ := ln["remotes"].([]any)
	var out []string
	add := func(v any) {
		s, ok := v.(string)
		if !ok {
			return
		}
		if u, err := url.Parse(s); err == nil && u.Host != "" && !slices.Contains(out, u.Host) {
			out = append(out, u.Host)
		}
	}
	for _, r := range remotes {
		rm, _ := r.(map[string]any)
		add(rm["url"])
		if us, ok := rm["urls"].([]any); ok {
			for _, u := range us {
				add(u)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// file returns the unit's change of path, or nil.
func (u *Unit) file(path string) *FileChange {
	for i := range u.Files {
		if u.Files[i].Path == path && u.Files[i].Op != "mode" {
			return &u.Files[i]
		}
	}
	return nil
}
