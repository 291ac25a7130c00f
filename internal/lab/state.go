package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// stateFile is the name of the file, in a lab's state directory, that records everything the
// lab created. It is rewritten before each step that creates something, so Down can undo a
// half-built lab.
const stateFile = "lab.json"

// state is what Down needs to remove a lab, persisted as JSON.
type state struct {
	Name       string       `json:"name"`
	ID         string       `json:"id"` // short hash naming the bridge, veths and namespaces
	Bridge     string       `json:"bridge"`
	Subnet     netip.Prefix `json:"subnet"`
	StateDir   string       `json:"state_dir"`
	Persistent bool         `json:"persistent"`
	// Owner is the process that created the lab; a non-persistent lab is stale once it is gone.
	Owner    procID      `json:"owner"`
	SudoUser string      `json:"sudo_user"`
	Hosts    []hostState `json:"hosts"`
	// Ready is set once every host's sshd answered.
	Ready bool `json:"ready"`
	// MachineChanges lists what Up changed on the machine outside the lab (e.g. a raised
	// sysctl), in words; Down does not undo them.
	MachineChanges []string `json:"machine_changes,omitempty"`
}

type hostState struct {
	Name  string     `json:"name"`
	Addr  netip.Addr `json:"addr"`
	Netns string     `json:"netns"`
	Veth  string     `json:"veth"` // the machine's end of the host's veth pair
	// InitSystem is InitRunit (also when empty, in state written before systemd hosts) or
	// InitSystemd.
	InitSystem string `json:"init_system,omitempty"`
	// Unshare is the process the lab started for the host (unshare, or systemd-nspawn for a
	// systemd host); Init is its child, the host's process 1 (runsvdir or systemd). Either is
	// zero until known.
	Unshare procID `json:"unshare"`
	Init    procID `json:"init"`
}

func (h *hostState) systemd() bool { return h.InitSystem == InitSystemd }

func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.StateDir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.StateDir, stateFile)); err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	return nil
}

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, stateFile), err)
	}
	s.StateDir = dir
	return &s, nil
}

// procID names a process by PID and start time, so a recycled PID is never mistaken for a
// process the lab started.
type procID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // clock ticks after boot, /proc/PID/stat field 22
}

// procStat returns a process's state letter and start time.
func procStat(pid int) (st byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name is in parentheses and may hold spaces; fields resume after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, errors.New("malformed stat")
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

func identify(pid int) (procID, error) {
	_, start, err := procStat(pid)
	return procID{PID: pid, Start: start}, err
}

// alive reports whether p still runs: same PID, same start time, not a zombie.
func (p procID) alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, start, err := procStat(p.PID)
	return err == nil && start == p.Start && st != 'Z'
}

// children returns the PIDs of p's child processes.
func (p procID) children() []int {
	if !p.alive() {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p.PID, p.PID))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// unshareOf returns the process the lab started for the host. If the state does not record
// it (Up was killed between starting it and saving), it finds it by its command line, which
// names the host's directory inside this lab's state directory.
func (h *hostState) unshareOf(stateDir string) procID {
	if h.Unshare.PID != 0 {
		return h.Unshare
	}
	want, prog := "\x00"+hostDir(stateDir, h.Name)+"\x00", "unshare\x00"
	if h.systemd() {
		want, prog = "\x00"+mergedDir(stateDir, h.Name)+"\x00", "systemd-nspawn\x00"
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(b), prog) || !strings.Contains(string(b), want) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if id, err := identify(pid); err == nil {
			h.Unshare = id
			return id
		}
	}
	return procID{}
}

// initOf returns the host's process 1, finding it if the state does not record it yet: the
// child of the process the lab started that runs in another PID namespace (systemd-nspawn
// may have short-lived helper children in the machine's).
func (h *hostState) initOf() procID {
	if h.Init.PID != 0 {
		return h.Init
	}
	self, _ := os.Readlink("/proc/self/ns/pid")
	for _, c := range h.Unshare.children() {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c)); err != nil || ns == self {
			continue
		}
		if id, err := identify(c); err == nil {
			return id
		}
	}
	return procID{}
}
