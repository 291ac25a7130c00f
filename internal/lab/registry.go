package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
)

// lockRegistry takes the machine-wide lab lock (flock on BaseDir/.lock) and returns its release.
// It is held while a lab chooses its name, subnet and bridge, so concurrent Ups never collide.
func lockRegistry() (func(), error) {
	if err := os.MkdirAll(BaseDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab registry: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(BaseDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab registry lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lab registry lock: %w", err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// registered returns the state of every lab registered under BaseDir, keyed by name. Entries
// without a readable state are skipped.
func registered() map[string]*state {
	out := map[string]*state{}
	ents, err := os.ReadDir(BaseDir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		if e.Name()[0] == '.' {
			continue
		}
		dir, err := filepath.EvalSymlinks(filepath.Join(BaseDir, e.Name()))
		if err != nil {
			continue
		}
		if s, err := loadState(dir); err == nil {
			out[e.Name()] = s
		}
	}
	return out
}

// register makes the lab findable by name: its state directory is BaseDir/<name>, or a
// symlink there points to it.
func register(name, stateDir string) error {
	entry := filepath.Join(BaseDir, name)
	if entry == stateDir {
		return nil
	}
	if err := os.Symlink(stateDir, entry); err != nil {
		return fmt.Errorf("register lab %s: %w", name, err)
	}
	return nil
}

func unregister(name, stateDir string) error {
	entry := filepath.Join(BaseDir, name)
	if entry == stateDir {
		return nil
	}
	if target, err := os.Readlink(entry); err == nil && target == stateDir {
		return os.Remove(entry)
	}
	return nil
}

// usedPrefixes lists every IPv4 prefix on the machine's interfaces with the interface's name,
// and the subnet of every registered lab with the lab's name.
func usedPrefixes(labs map[string]*state) (map[netip.Prefix]string, error) {
	used := map[netip.Prefix]string{}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil {
				continue
			}
			ip, _ := netip.AddrFromSlice(ipn.IP.To4())
			ones, _ := ipn.Mask.Size()
			used[netip.PrefixFrom(ip, ones).Masked()] = "interface " + ifc.Name
		}
	}
	for name, s := range labs {
		if s.Subnet.IsValid() {
			used[s.Subnet] = "lab " + name
		}
	}
	return used, nil
}

// allocate returns want if it is free, or the first free /24 of LabRange after 198.18.0.0/24.
func allocate(want netip.Prefix, used map[netip.Prefix]string) (netip.Prefix, error) {
	overlaps := func(p netip.Prefix) string {
		for u, who := range used {
			if u.Overlaps(p) {
				return who
			}
		}
		return ""
	}
	if want.IsValid() {
		if who := overlaps(want); who != "" {
			return netip.Prefix{}, fmt.Errorf("subnet %s is in use by %s; take that lab down (`latticepush lab down`) or choose other addresses", want, who)
		}
		return want, nil
	}
	a := LabRange.Addr().As4()
	for n := 1; n < 512; n++ {
		a[2], a[1] = byte(n), 18+byte(n>>8)
		p := netip.PrefixFrom(netip.AddrFrom4(a), 24)
		if overlaps(p) == "" {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 left in %s; take labs down with `latticepush lab down --all`", LabRange)
}

// emptyOrAbsent reports whether dir does not exist or is an empty directory.
func emptyOrAbsent(dir string) bool {
	ents, err := os.ReadDir(dir)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0)
}
