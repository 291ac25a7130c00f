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

// deployPlaybook is a first deployment as an operator would write it for runit: create the
// files' directories, copy every file, link each service into runsvdir's directory, and wait until runsv runs it (runsvdir
// notices a new link within about five seconds), hubs, then leaves, then wasmCloud hosts,
// each play on every host of its group at once. Nothing is gated: no check that a hub
// cluster formed or a leaf linked before the next play.
const deployPlaybook = `- hosts: all
  gather_facts: false
  tasks:
    - name: directories
      file: {path: "{{ item }}", state: directory, mode: "0755"}
      loop: "{{ (nats_files + wasmcloud_files + other_files) | map(attribute='dest') | map('dirname') | unique }}"
    - name: files
      copy: {src: "{{ item.src }}", dest: "{{ item.dest }}", mode: "{{ item.mode }}"}
      loop: "{{ nats_files + wasmcloud_files + other_files }}"
- hosts: hubs:edges
  gather_facts: false
  tasks:
    - name: link nats-server
      file: {src: /etc/sv/nats-server, dest: /etc/service/nats-server, state: link}
    - name: nats-server runs
      command: sv -w 30 up /etc/service/nats-server
      register: up
      until: up.rc == 0
      retries: 20
      delay: 1
- hosts: edges
  gather_facts: false
  tasks:
    - name: link wasmcloud
      file: {src: /etc/sv/wasmcloud, dest: /etc/service/wasmcloud, state: link}
    - name: wasmcloud runs
      command: sv -w 30 up /etc/service/wasmcloud
      register: up
      until: up.rc == 0
      retries: 20
      delay: 1
`

// hubRollPlaybook restarts the hubs one at a time (serial: 1) when their config changed:
// copy, then restart by the handler at the end of each host's batch. It waits for nothing but
// sv's own check that the process runs: no cluster health between hosts.
const hubRollPlaybook = `- hosts: hubs
  serial: 1
  gather_facts: false
  tasks:
    - name: nats-server files
      copy: {src: "{{ item.src }}", dest: "{{ item.dest }}", mode: "{{ item.mode }}"}
      loop: "{{ nats_files }}"
      notify: restart nats-server
  handlers:
    - name: restart nats-server
      command: sv -w 60 restart /etc/service/nats-server
`

// upgradePlaybook installs a nats-server release as latticepush lays it out (the binary in
// its own directory under the install root, the binary path a symlink to it) and rolls every
// server onto it: the binary to every host at once, then the link switched and the
// server restarted by a handler, hubs one at a time, then leaves in batches of 25%%. It waits
// for nothing but sv's own check that the process runs.
const upgradePlaybook = `# the release: %s
- hosts: hubs:edges
  gather_facts: false
  tasks:
    - name: release directory
      file: {path: "{{ nats_root }}/{{ nats_version }}", state: directory, mode: "0755"}
    - name: nats-server binary
      %s
- hosts: hubs
  serial: 1
  gather_facts: false
  tasks: &switch
    - name: switch the binary path
      file: {src: "{{ nats_root }}/{{ nats_version }}/nats-server", dest: "{{ nats_link }}", state: link, force: true}
      notify: restart nats-server
  handlers: &restart
    - name: restart nats-server
      command: sv -w 60 restart /etc/service/nats-server
- hosts: edges
  serial: "25%%"
  gather_facts: false
  tasks: *switch
  handlers: *restart
`

// upgradeCopy and upgradeGet are the transfer tasks of upgradePlaybook: the operator's
// machine pushing the file, or each host fetching it with its sha256 checked.
const (
	upgradeCopy = `copy: {src: "{{ nats_src }}", dest: "{{ nats_root }}/{{ nats_version }}/nats-server", mode: "0755"}`
	upgradeGet  = `get_url: {url: "{{ nats_url }}", dest: "{{ nats_root }}/{{ nats_version }}/nats-server", mode: "0755", checksum: "sha256:{{ nats_sha256 }}"}`
)

// AnsibleMode is how Ansible's SSH connections live.
type AnsibleMode int

const (
	// ColdPerCall: ControlMaster=no, ControlPath=none: a fresh SSH connection for every
	// module call on every host (a task over a loop of three files is three connections).
	ColdPerCall AnsibleMode = iota
	// ColdPerRun: ControlMaster=auto with a master per host opened by the run's first task
	// and closed after the run: one fresh connection per host per run, like latticepush.
	ColdPerRun
	// Warm: ControlPersist=30m masters opened by an untimed run and kept alive.
	Warm
)

func (m AnsibleMode) String() string {
	return [...]string{"cold (connection per call)", "cold (master per run)", "warm"}[m]
}

func (m AnsibleMode) cfg() string {
	return [...]string{"ansible-cold.cfg", "ansible-run.cfg", "ansible-warm.cfg"}[m]
}

// AnsibleModes are every mode, in the order the report shows them.
var AnsibleModes = []AnsibleMode{ColdPerCall, ColdPerRun, Warm}

// Write creates the project: inventory (groups hubs and edges), the playbooks and one
// configuration per AnsibleMode. Every mode forces the floor's key exchange.
func (a *Ansible) Write() error {
	if err := os.MkdirAll(filepath.Join(a.Dir, "host_vars"), 0o700); err != nil {
		return err
	}
	var inv strings.Builder
	groups := map[string][]string{}
	for _, name := range sortedKeys(a.Hosts) {
		g := "edges"
		if strings.HasPrefix(name, "hub-") {
			g = "hubs"
		}
		groups[g] = append(groups[g], name)
	}
	for _, g := range []string{"hubs", "edges"} {
		fmt.Fprintf(&inv, "[%s]\n", g)
		for _, name := range groups[g] {
			fmt.Fprintf(&inv, "%s ansible_host=%s\n", name, a.Hosts[name])
		}
		inv.WriteString("\n")
	}
	fmt.Fprintf(&inv, "[all:vars]\nansible_user=%s\nansible_ssh_private_key_file=%s\nansible_python_interpreter=/usr/bin/python3\n", a.User, a.KeyPath)
	common := "-o KexAlgorithms=" + FloorKex + " -o HostKeyAlgorithms=ssh-ed25519 -o UserKnownHostsFile=" + a.KnownHosts +
		" -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
	cfg := func(ssh, cp string) string {
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
`, filepath.Join(a.Dir, "hosts.ini"), len(a.Hosts), ssh, filepath.Join(a.Dir, cp))
	}
	files := map[string]string{
		"hosts.ini":        inv.String(),
		"site.yml":         playbook,
		"deploy.yml":       deployPlaybook,
		"hubroll.yml":      hubRollPlaybook,
		"upgrade-copy.yml": fmt.Sprintf(upgradePlaybook, "copy, pushed from this machine", upgradeCopy),
		"upgrade-get.yml":  fmt.Sprintf(upgradePlaybook, "get_url, fetched by each host", upgradeGet),
		"ansible-cold.cfg": cfg(common+" -o ControlMaster=no -o ControlPath=none", "cp"),
		"ansible-run.cfg":  cfg(common+" -o ControlMaster=auto -o ControlPersist=10m", "cp-run"),
		"ansible-warm.cfg": cfg(common+" -o ControlMaster=auto -o ControlPersist=30m", "cp"),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(a.Dir, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	for _, d := range []string{"cp", "cp-run"} {
		if err := os.MkdirAll(filepath.Join(a.Dir, d), 0o700); err != nil {
			return err
		}
	}
	return nil
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

// Run runs site.yml (check adds --check --diff) in mode and returns its wall time and
// recap. Any failed or unreachable host is an error.
func (a *Ansible) Run(ctx context.Context, mode AnsibleMode, check bool) (time.Duration, map[string]Recap, error) {
	args := []string{"site.yml"}
	if check {
		args = append(args, "--check", "--diff")
	}
	d, recap, err := a.Play(ctx, mode, args...)
	if err == nil && len(recap) != len(a.Hosts) {
		err = fmt.Errorf("ansible-playbook site.yml (%s): recap lists %d of %d hosts", mode, len(recap), len(a.Hosts))
	}
	return d, recap, err
}

// Play runs ansible-playbook with args in mode and returns its wall time and recap; in
// ColdPerRun the masters the run opened are closed afterwards, untimed. Any failed or
// unreachable host is an error.
func (a *Ansible) Play(ctx context.Context, mode AnsibleMode, args ...string) (time.Duration, map[string]Recap, error) {
	if mode == ColdPerRun {
		defer a.stopMasters("cp-run")
	}
	cmd := exec.CommandContext(ctx, "ansible-playbook", args...)
	cmd.Dir = a.Dir
	cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(a.Dir, mode.cfg()), "ANSIBLE_NOCOLOR=1", "SSH_AUTH_SOCK=")
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
	if err == nil && len(recap) == 0 {
		err = fmt.Errorf("no PLAY RECAP in the output")
	}
	if err != nil {
		return d, recap, fmt.Errorf("ansible-playbook %s (%s): %w\n%s", strings.Join(args, " "), mode.cfg(), err, tail(out.String(), 3000))
	}
	return d, recap, nil
}

// OpenMasters opens the warm configuration's masters with an untimed ping of every host.
func (a *Ansible) OpenMasters(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "ansible", "all", "-m", "ping")
	cmd.Dir = a.Dir
	cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(a.Dir, Warm.cfg()), "ANSIBLE_NOCOLOR=1", "SSH_AUTH_SOCK=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ansible all -m ping (warm): %w\n%s", err, tail(string(out), 3000))
	}
	return nil
}

// StopMasters ends every ControlPersist master connection.
func (a *Ansible) StopMasters() {
	a.stopMasters("cp")
	a.stopMasters("cp-run")
}

func (a *Ansible) stopMasters(dir string) {
	for _, addr := range a.Hosts {
		_ = exec.Command("ssh", "-o", "ControlPath="+filepath.Join(a.Dir, dir, "%h"), "-O", "exit", a.User+"@"+addr).Run()
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
