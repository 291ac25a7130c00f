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
//   - a host or a bastion block of the inventory (a host by its name; either by its address
//     with its ssh port or no port) with its own ssh settings, through its own proxy_jump
//     unless that passes through itself (a proxy_jump set in defaults applies to the bastion
//     too): then directly;
//   - any other host with the settings of the host that names it: its identity_file, its
//     known_hosts then ~/.ssh/known_hosts, its strict_host_key_checking — each only where
//     ssh_config has nothing for that jump host.
func jumpHosts(inv *inventory.Inventory, h *inventory.Host) map[string]remote.Hop {
	hops := map[string]remote.Hop{}
	var walk func(spec string, from inventory.SSH, depth int)
	walk = func(spec string, from inventory.SSH, depth int) {
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
			jh, ok := known(inv, name, port)
			if !ok {
				hop := remote.Hop{Inherited: true, StrictHostKeyChecking: from.StrictHostKeyChecking, ConfigFile: from.ConfigFile}
				if from.IdentityFile != "" {
					hop.IdentityFiles = []string{from.IdentityFile}
				}
				if from.KnownHosts != "" {
					hop.KnownHostsFiles = []string{from.KnownHosts, "~/.ssh/known_hosts"}
				}
				hops[el] = hop
				continue
			}
			hop := remote.Hop{Address: jh.address, Port: jh.ssh.Port, User: jh.ssh.User,
				StrictHostKeyChecking: jh.ssh.StrictHostKeyChecking, ProxyJump: jh.ssh.ProxyJump, ConfigFile: jh.ssh.ConfigFile}
			if jh.ssh.IdentityFile != "" {
				hop.IdentityFiles = []string{jh.ssh.IdentityFile}
			}
			if jh.ssh.KnownHosts != "" {
				hop.KnownHostsFiles = []string{jh.ssh.KnownHosts}
			}
			if passesThrough(inv, hop.ProxyJump, jh) {
				hop.ProxyJump = "none"
			}
			hops[el] = hop
			walk(hop.ProxyJump, jh.ssh, depth+1)
		}
	}
	walk(h.SSH.ProxyJump, h.SSH, 0)
	return hops
}

// jumpTarget is a jump host the inventory describes: a host or a bastion block.
type jumpTarget struct {
	name, address string
	ssh           inventory.SSH
}

// known finds the jump host a proxy_jump element names: the host called name, else the
// bastion, else the host, whose address is name and whose ssh port is port (any port when
// port is 0).
func known(inv *inventory.Inventory, name string, port int) (jumpTarget, bool) {
	if h := inv.Host(name); h != nil {
		return jumpTarget{"host " + h.Name, h.Address, h.SSH}, true
	}
	samePort := func(s inventory.SSH) bool { return port == 0 || port == s.Port || (s.Port == 0 && port == 22) }
	for _, b := range inv.Bastions {
		if b.Address == name && samePort(b.SSH) {
			return jumpTarget{"bastion " + b.Name, b.Address, b.SSH}, true
		}
	}
	for _, h := range inv.Hosts {
		if h.Address == name && samePort(h.SSH) {
			return jumpTarget{"host " + h.Name, h.Address, h.SSH}, true
		}
	}
	return jumpTarget{}, false
}

// passesThrough reports whether the proxy_jump value spec names jh.
func passesThrough(inv *inventory.Inventory, spec string, jh jumpTarget) bool {
	for _, el := range strings.Split(spec, ",") {
		if _, name, port, err := remote.ParseJump(strings.TrimSpace(el)); err == nil {
			if o, ok := known(inv, name, port); ok && o.name == jh.name {
				return true
			}
		}
	}
	return false
}
