package fleet

import (
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/remote"
)

// Target translates an inventory host's SSH settings into remote's Target, with settings for
// the jump hosts its proxy_jump names (see jumpHosts).
func Target(inv *inventory.Inventory, h *inventory.Host) remote.Target {
	t := remote.Target{
		Name:                  h.Name,
		Address:               h.Address,
		Port:                  h.SSH.Port,
		User:                  h.SSH.User,
		KnownHostsFile:        h.SSH.KnownHosts,
		StrictHostKeyChecking: h.SSH.StrictHostKeyChecking,
		ProxyJump:             h.SSH.ProxyJump,
		ConfigFile:            h.SSH.ConfigFile,
		Become:                h.SSH.Become,
		JumpHosts:             jumpHosts(inv, h),
	}
	if h.SSH.IdentityFile != "" {
		t.IdentityFiles = []string{h.SSH.IdentityFile}
	}
	return t
}

// jumpHosts says how to reach each jump host in h's proxy_jump, hop by hop:
//   - a host of the inventory (named by its name, or by its address with its ssh port or
//     no port) with its own ssh settings, through its own proxy_jump unless that passes
//     through itself (a proxy_jump set in defaults applies to the bastion too): then directly;
//   - any other host with the settings of the host that names it: its identity_file, its
//     known_hosts then ~/.ssh/known_hosts, its strict_host_key_checking — each only where
//     ssh_config has nothing for that jump host.
func jumpHosts(inv *inventory.Inventory, h *inventory.Host) map[string]remote.Hop {
	hops := map[string]remote.Hop{}
	var walk func(spec string, from *inventory.Host, depth int)
	walk = func(spec string, from *inventory.Host, depth int) {
		if spec == "" || strings.EqualFold(spec, "none") || depth > 8 {
			return
		}
		for _, el := range strings.Split(spec, ",") {
			el = strings.TrimSpace(el)
			_, name, port, err := remote.ParseJump(el)
			if err != nil {
				continue // remote reports it
			}
			if _, done := hops[el]; done {
				continue
			}
			jh := inventoryHost(inv, name, port)
			if jh == nil {
				hop := remote.Hop{Inherited: true, StrictHostKeyChecking: from.SSH.StrictHostKeyChecking, ConfigFile: from.SSH.ConfigFile}
				if from.SSH.IdentityFile != "" {
					hop.IdentityFiles = []string{from.SSH.IdentityFile}
				}
				if from.SSH.KnownHosts != "" {
					hop.KnownHostsFiles = []string{from.SSH.KnownHosts, "~/.ssh/known_hosts"}
				}
				hops[el] = hop
				continue
			}
			hop := remote.Hop{Address: jh.Address, Port: jh.SSH.Port, User: jh.SSH.User,
				StrictHostKeyChecking: jh.SSH.StrictHostKeyChecking, ProxyJump: jh.SSH.ProxyJump, ConfigFile: jh.SSH.ConfigFile}
			if jh.SSH.IdentityFile != "" {
				hop.IdentityFiles = []string{jh.SSH.IdentityFile}
			}
			if jh.SSH.KnownHosts != "" {
				hop.KnownHostsFiles = []string{jh.SSH.KnownHosts}
			}
			if passesThrough(inv, hop.ProxyJump, jh) {
				hop.ProxyJump = "none"
			}
			hops[el] = hop
			walk(hop.ProxyJump, jh, depth+1)
		}
	}
	walk(h.SSH.ProxyJump, h, 0)
	return hops
}

// inventoryHost is the host named name, or else the one whose address is name and whose ssh
// port is port (any port when port is 0).
func inventoryHost(inv *inventory.Inventory, name string, port int) *inventory.Host {
	if h := inv.Host(name); h != nil {
		return h
	}
	for _, h := range inv.Hosts {
		if h.Address == name && (port == 0 || port == h.SSH.Port || (h.SSH.Port == 0 && port == 22)) {
			return h
		}
	}
	return nil
}

// passesThrough reports whether the proxy_jump value spec names h.
func passesThrough(inv *inventory.Inventory, spec string, h *inventory.Host) bool {
	for _, el := range strings.Split(spec, ",") {
		if _, name, port, err := remote.ParseJump(strings.TrimSpace(el)); err == nil && inventoryHost(inv, name, port) == h {
			return true
		}
	}
	return false
}
