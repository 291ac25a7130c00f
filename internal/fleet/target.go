package fleet

import (
	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/remote"
)

// Target translates an inventory host's SSH settings into remote's Target.
func Target(h *inventory.Host) remote.Target {
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
	}
	if h.SSH.IdentityFile != "" {
		t.IdentityFiles = []string{h.SSH.IdentityFile}
	}
	return t
}
