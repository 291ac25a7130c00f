package lab

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	_ "embed"
	"encoding/pem"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

//go:embed init.sh
var initScript []byte

// SudoUser is the non-root login every lab host has, with passwordless sudo.
const SudoUser = "lab"

// sshdConfig is every host's /etc/ssh/sshd_config. MaxStartups is raised because tests open many
// connections at once; real fleets keep OpenSSH's 10:30:100.
const sshdConfig = `# Written by latticepush's lab.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
MaxStartups 64:30:256
MaxSessions 64
PidFile none
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
`

// sshdConfigFrom is sshdConfig for a host that accepts logins only from itself and from
// addrs (nil: from anywhere).
func sshdConfigFrom(self netip.Addr, addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return sshdConfig
	}
	var b strings.Builder
	b.WriteString(sshdConfig)
	b.WriteString("\n# Logins only from these lab hosts (and this one); every other source is refused.\nMatch Address *")
	for _, a := range append([]netip.Addr{self}, addrs...) {
		b.WriteString(",!" + a.String())
	}
	b.WriteString("\n  DenyUsers *\n")
	return b.String()
}

const sshdRun = "#!/bin/sh\nexec 2>&1\nexec /usr/sbin/sshd -D -e\n"

// account is the sudo user's passwd identity, the same on every host of a lab.
type account struct{ uid int }

// newKey returns a fresh ed25519 key as an OpenSSH private key file and an authorized_keys line.
func newKey(comment string) (priv []byte, pub ssh.PublicKey, err error) {
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(sk, comment)
	if err != nil {
		return nil, nil, err
	}
	pub, err = ssh.NewPublicKey(pk)
	return pem.EncodeToMemory(block), pub, err
}

// pickAccount finds a uid/gid free in both the machine's /etc/passwd and /etc/group.
func pickAccount() (account, error) {
	used := map[int]bool{}
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return account{}, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Split(line, ":"); len(f) > 2 {
				if n, err := strconv.Atoi(f[2]); err == nil {
					used[n] = true
				}
			}
		}
	}
	for id := 2000; id < 60000; id++ {
		if !used[id] {
			return account{uid: id}, nil
		}
	}
	return account{}, fmt.Errorf("no free uid for the lab's %s user", SudoUser)
}

// hostFiles is what prepareHost writes for one host.
type hostFiles struct {
	name, dir string
	sshd      string // sshd_config
	hostKey   []byte // OpenSSH private key
	hostPub   ssh.PublicKey
	clientPub ssh.PublicKey
	acct      account
	etcHosts  string // lines appended to the machine's /etc/hosts
}

// prepareHost creates the host's directories and the files its init mounts: the upper layer of
// its /etc (sshd config and host key, users, sudoers, hostname, hosts), /root and /home with
// authorized_keys, and the runit service for sshd.
func prepareHost(f hostFiles) error {
	d := f.dir
	for _, sub := range []string{"etc.work", "var.upper", "var.work", "etc-nats", "var-lib-nats", "etc-wasmcloud", "etc-sv/sshd", "etc-service", "home"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	up := filepath.Join(d, "etc.upper")
	for _, sub := range []string{"", "ssh", "sudoers.d"} {
		if err := mkdirLike(filepath.Join(up, sub), filepath.Join("/etc", sub)); err != nil {
			return err
		}
	}
	authorized := ssh.MarshalAuthorizedKey(f.clientPub)
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"ssh/sshd_config", []byte(f.sshd), 0o644},
		{"ssh/ssh_host_ed25519_key", f.hostKey, 0o600},
		{"ssh/ssh_host_ed25519_key.pub", ssh.MarshalAuthorizedKey(f.hostPub), 0o644},
		{"sudoers.d/latticepush-lab", []byte(SudoUser + " ALL=(ALL:ALL) NOPASSWD: ALL\n"), 0o440},
		{"hostname", []byte(f.name + "\n"), 0o644},
	}
	for _, fl := range files {
		if err := os.WriteFile(filepath.Join(up, fl.path), fl.data, fl.mode); err != nil {
			return err
		}
	}
	accounts := append(sudoAccount(f.acct.uid), accountLine{"hosts", f.etcHosts})
	for _, a := range accounts {
		if err := appendCopy(filepath.Join("/etc", a.file), filepath.Join(up, a.file), SudoUser+":", a.line); err != nil {
			return err
		}
	}
	root := filepath.Join(d, "root")
	home := filepath.Join(d, "home", SudoUser)
	if err := writeAuthorized(root, authorized, 0, 0, 0o700); err != nil {
		return err
	}
	if err := writeAuthorized(home, authorized, f.acct.uid, f.acct.uid, 0o750); err != nil {
		return err
	}
	sv := filepath.Join(d, "etc-sv", "sshd")
	if err := os.WriteFile(filepath.Join(sv, "run"), []byte(sshdRun), 0o755); err != nil {
		return err
	}
	if err := os.Symlink("/etc/sv/sshd", filepath.Join(d, "etc-service", "sshd")); err != nil {
		return err
	}
	// runsvdir ignores a service directory modified in the current second for about a second.
	past := time.Now().Add(-2 * time.Second)
	for _, p := range []string{sv, filepath.Join(d, "etc-service")} {
		if err := os.Chtimes(p, past, past); err != nil {
			return err
		}
	}
	return nil
}

// mkdirLike creates dir with the mode and owner of model (an overlay's upper directory
// defines the merged directory's attributes).
func mkdirLike(dir, model string) error {
	fi, err := os.Stat(model)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, fi.Mode().Perm()); err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return os.Lchown(dir, int(st.Uid), int(st.Gid))
}

// appendCopy writes src's lines to dst, without lines starting with drop, followed by line;
// dst gets src's mode and owner.
func appendCopy(src, dst, drop, line string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), drop) {
			buf.WriteString(sc.Text() + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	buf.WriteString(line + "\n")
	if err := os.WriteFile(dst, buf.Bytes(), fi.Mode().Perm()); err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return os.Chown(dst, int(st.Uid), int(st.Gid))
}

// writeAuthorized creates home/.ssh/authorized_keys owned by uid:gid, with the directory
// modes sshd's StrictModes accepts.
func writeAuthorized(home string, key []byte, uid, gid int, mode os.FileMode) error {
	dotSSH := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dotSSH, 0o700); err != nil {
		return err
	}
	ak := filepath.Join(dotSSH, "authorized_keys")
	if err := os.WriteFile(ak, key, 0o600); err != nil {
		return err
	}
	for _, p := range []string{ak, dotSSH, home} {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(home, mode)
}

// copyFile copies src to dst with mode.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// accountLine is a line a host's copy of an /etc file gets.
type accountLine struct{ file, line string }

// sudoAccount is the lines of the lab's sudo user in passwd, group and shadow.
func sudoAccount(uid int) []accountLine {
	id := strconv.Itoa(uid)
	return []accountLine{
		{"passwd", SudoUser + ":x:" + id + ":" + id + ":latticepush lab:/home/" + SudoUser + ":/bin/bash"},
		{"group", SudoUser + ":x:" + id + ":"},
		{"shadow", SudoUser + ":*:20000:0:99999:7:::"}, // "*": no password, not locked
	}
}
