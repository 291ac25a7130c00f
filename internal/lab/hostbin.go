package lab

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// hostBinaries gives a host its own writable /usr/local/bin, holding the lab's binaries, and
// its own empty /opt: what a deployer that installs binaries writes to. The binaries are hard
// links to the lab's copies (copies when the file system refuses a link): a host replaces
// one by renaming a new file over it, which leaves the others' alone. It returns the two
// directories the host's init mounts.
func hostBinaries(stateDir, host, bin string) (binDir, optDir string, err error) {
	dir := hostDir(stateDir, host)
	binDir, optDir = filepath.Join(dir, "usr-local-bin"), filepath.Join(dir, "opt")
	for _, d := range []string{binDir, optDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", err
		}
	}
	entries, err := os.ReadDir(bin)
	if err != nil {
		return "", "", err
	}
	for _, e := range entries {
		src, dst := filepath.Join(bin, e.Name()), filepath.Join(binDir, e.Name())
		err := os.Link(src, dst)
		if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) {
			err = copyFile(src, dst, 0o755)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return "", "", err
		}
	}
	return binDir, optDir, nil
}
