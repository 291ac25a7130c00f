package lab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
)

// DropTraffic drops every packet host sends to the addresses: a blackhole route per address in
// the host's own network namespace, as for a machine behind NAT that may only dial out to some
// tier above it. The routes go with the namespace when the lab is removed.
func (f *Fleet) DropTraffic(host string, to ...netip.Addr) error {
	h, err := f.hostState(host)
	if err != nil {
		return err
	}
	for _, a := range to {
		prefix := netip.PrefixFrom(a, a.BitLen())
		out, err := exec.Command("ip", "-n", h.Netns, "route", "replace", "blackhole", prefix.String()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("lab host %s: drop traffic to %s: %w: %s", host, a, err, bytes.TrimSpace(out))
		}
	}
	return nil
}
