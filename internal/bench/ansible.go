package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/latticepush/latticepush/plan"
)

// Ansible is an Ansible project that does latticepush's work on the same hosts: copy every
// file latticepush rendered (the same bytes and modes), reload nats-server when its files
// changed (`sv hup`, as latticepush's runit manager does), restart wasmCloud when its files
// changed. Tuned as an operator would tune it for speed: forks = fleet size, pipelining,
// no fact gathering.
type Ansible struct {
	Dir        string // project directory (holds rendered files with secrets: keep it private)
	User       string
	KeyPath    string
	KnownHosts string
	Hosts      map[string]string // inventory name -> address
}

// playbook copies the files per service and reloads or restarts on change. The file lists
// are host variables written by SetFiles.
const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: nats-server files
      copy: {src: "{{ item.src }}", dest: "{{ item.dest }}", mode: "{{ item.mode }}"}
      loop: "{{ nats_files }}"
      notify: reload nats-server
    - name: wasmCloud files
      copy: {src: "{{ item.src }}", dest: "{{ item.dest }}", mode: "{{ item.mode }}"}
      loop: "{{ wasmcloud_files }}"
      notify: restart wasmcloud
    - name: other files
      copy: {src: "{{ item.src }}", dest: "{{ item.dest }}", mode: "{{ item.mode }}"}
      loop: "{{ other_files }}"
  handlers:
    - name: reload nats-server
      command: sv hup /etc/service/nats-server
    - name: restart wasmcloud
      command: sv -w 30 restart /etc/service/wasmcloud
`

// Write creates the project: inventory, playbook and two configurations, cold (a fresh SSH
// connection per task, no ControlMaster) and warm (ControlPersist keeps one master
// connection per host between runs). Both force the floor's key exchange.
func (a *Ansible) Write() error {
	if err := os.MkdirAll(filepath.Join(a.Dir, "host_vars"), 0o700); err != nil {
		return err
	}
	var inv strings.Builder
	inv.WriteString("[fleet]\n")
	for _, name := range sortedKeys(a.Hosts) {
		fmt.Fprintf(&inv, "%s ansible_host=%s\n", name, a.Hosts[name])
	}
	fmt.Fprintf(&inv, "\n[fleet:vars]\nansible_user=%s\nansible_ssh_private_key_file=%s\nansible_python_interpreter=/usr/bin/python3\n", a.User, a.KeyPath)
	common := "-o KexAlgorithms=" + FloorKex + " -o HostKeyAlgorithms=ssh-ed25519 -o UserKnownHostsFile=" + a.KnownHosts +
		" -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
	cfg := func(ssh string) string {
		return fmt.Sprintf(`[defaults]
inventory = %s
forks = %d
gathering = explicit
retry_files_enabled = False
host_key_checking = True
timeout = 30

[ssh_connection]
pipelining = True
ssh_args = %s
control_path_dir = %s
control_path = %%(directory)s/%%%%h
`, filepath.Join(a.Dir, "hosts.ini"), len(a.Hosts), ssh, filepath.Join(a.Dir, "cp"))
	}
	files := map[string]string{
		"hosts.ini":        inv.String(),
		"site.yml":         playbook,
		"ansible-cold.cfg": cfg(common + " -o ControlMaster=no -o ControlPath=none"),
		"ansible-warm.cfg": cfg(common + " -o ControlMaster=auto -o ControlPersist=30m"),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(a.Dir, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(a.Dir, "cp"), 0o700)
}

// SetFiles writes each host's desired files (secrets revealed: the project dir is 0700) and
// the host variables that list them by service.
func (a *Ansible) SetFiles(desired plan.Desired) error {
	for name := range a.Hosts {
		lists := map[string][]map[string]string{"nats_files": {}, "wasmcloud_files": {}, "other_files": {}}
		dir := filepath.Join(a.Dir, "files", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		for i, f := range desired[name] {
			src := filepath.Join(dir, strconv.Itoa(i))
			if err := os.WriteFile(src, f.Content, 0o600); err != nil {
				return err
			}
			key := "other_files"
			switch f.Service {
			case plan.ServiceNATS:
				key = "nats_files"
			case plan.ServiceWasmcloud:
				key = "wasmcloud_files"
			}
			lists[key] = append(lists[key], map[string]string{"src": src, "dest": f.Path, "mode": fmt.Sprintf("%04o", f.Mode)})
		}
		js, err := json.Marshal(lists)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(a.Dir, "host_vars", name+".json"), js, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Recap is one host's line of the PLAY RECAP.
type Recap struct{ OK, Changed, Unreachable, Failed int }

var recapRE = regexp.MustCompile(`(?m)^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// Run runs the playbook (check adds --check --diff) in the cold or warm configuration and
// returns its wall time and recap. Any failed or unreachable host is an error.
func (a *Ansible) Run(ctx context.Context, warm, check bool) (time.Duration, map[string]Recap, error) {
	cfg := "ansible-cold.cfg"
	if warm {
		cfg = "ansible-warm.cfg"
	}
	args := []string{"site.yml"}
	if check {
		args = append(args, "--check", "--diff")
	}
	cmd := exec.CommandContext(ctx, "ansible-playbook", args...)
	cmd.Dir = a.Dir
	cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(a.Dir, cfg), "ANSIBLE_NOCOLOR=1", "SSH_AUTH_SOCK=")
	// On cancellation end the forks too (a process group): orphaned workers would hold the
	// output pipe open and Wait would never return.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	recap := map[string]Recap{}
	for _, m := range recapRE.FindAllStringSubmatch(out.String(), -1) {
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		recap[m[1]] = Recap{OK: n(2), Changed: n(3), Unreachable: n(4), Failed: n(5)}
	}
	if err == nil && len(recap) != len(a.Hosts) {
		err = fmt.Errorf("recap lists %d of %d hosts", len(recap), len(a.Hosts))
	}
	if err != nil {
		return d, recap, fmt.Errorf("ansible-playbook %s (%s): %w\n%s", strings.Join(args, " "), cfg, err, tail(out.String(), 3000))
	}
	return d, recap, nil
}

// StopMasters ends the warm configuration's ControlPersist master connections.
func (a *Ansible) StopMasters() {
	for _, addr := range a.Hosts {
		_ = exec.Command("ssh", "-o", "ControlPath="+filepath.Join(a.Dir, "cp", "%h"), "-O", "exit", a.User+"@"+addr).Run()
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
