package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Prerequisites maps each program the lab runs to the Debian package that provides it.
var Prerequisites = map[string]string{
	"ip":                           "iproute2",
	"unshare":                      "util-linux",
	"nsenter":                      "util-linux",
	"mount":                        "mount",
	"runsvdir":                     "runit",
	"sv":                           "runit",
	"sudo":                         "sudo",
	"/usr/sbin/sshd":               "openssh-server",
	"/usr/lib/openssh/sftp-server": "openssh-sftp-server",
}

// SystemdPrerequisites are the programs systemd hosts need besides Prerequisites.
var SystemdPrerequisites = map[string]string{
	"systemd-nspawn": "systemd-container",
}

// CheckSystemdPrerequisites returns an error naming what systemd hosts need and the machine
// lacks: the programs in SystemdPrerequisites and the base tree (see SystemdBase).
func CheckSystemdPrerequisites() error {
	var missing []string
	for prog, pkg := range SystemdPrerequisites {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", prog, pkg))
		}
	}
	if len(missing) > 0 {
		return errors.New("systemd lab hosts cannot start; missing: " + strings.Join(missing, ", ") + "; run `make deps` as root")
	}
	_, err := SystemdBase()
	return err
}

// CheckPrerequisites returns an error naming everything the lab needs and the machine lacks:
// root, overlayfs, and the programs in Prerequisites.
func CheckPrerequisites() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces and mounts)")
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\toverlay\n") {
		missing = append(missing, "overlayfs in the kernel")
	}
	pkgs := map[string]bool{}
	for prog, pkg := range Prerequisites {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", prog, pkg))
			pkgs[pkg] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	msg := "the lab cannot start; missing: " + strings.Join(missing, ", ")
	if len(pkgs) > 0 {
		msg += "; run `make prereqs` (internal/tools/install-prereqs.sh) as root"
	}
	return errors.New(msg)
}
