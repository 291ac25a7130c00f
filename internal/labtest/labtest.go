// Package labtest brings up a lab lattice for tests and benchmarks: a real fleet from
// internal/lab (sshd, runit, nats-server, the wasmCloud stand-in) and a matching inventory,
// made from examples/lab/inventory.hcl with the lab's addresses, key and known_hosts, and
// fresh secrets. Under CI=true a lab that cannot start fails the test; elsewhere it skips.
package labtest

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/testenv"
	"github.com/latticepush/latticepush/inventory"
)

// Env is a running lab with its inventory.
type Env struct {
	Lab *lab.Fleet
	// Dir holds the inventory and its secrets file.
	Dir string
	// Path is the inventory file.
	Path string
}

// Spec says what lattice to bring up.
type Spec struct {
	// Name of the lab; default derived from the test name.
	Name string
	// Edges is the number of edge machines (leaf + wasmCloud); default 3.
	Edges int
	// Edit changes the inventory source before it is written (e.g. shorter timeouts).
	Edit func(src string) string
	// Extra are lab hosts outside the inventory (e.g. a bastion of its own), after its hosts.
	Extra []string
	// SSHFrom restricts a host's sshd to logins from the named lab hosts, by host name (see
	// lab.HostSpec.SSHFrom); hosts not in it accept logins from anywhere.
	SSHFrom map[string][]string
	// Init is the inventory hosts' init, lab.InitRunit (default) or lab.InitSystemd: the
	// defaults' service_manager is set to match. Each inventory host runs the init its own
	// service_manager names, as under `lab up`: a host or hosts block that sets one
	// (examples/lab-mixed) keeps it. Extra hosts are runit hosts.
	Init string
	// Example is the example inventory the lab is made from, examples/<Example>/inventory.hcl;
	// default "lab". Edges applies to "lab" only.
	Example string
	// Become logs in as the lab's non-root user, which runs `sudo -n`, and sets the
	// inventory's ssh become, instead of logging in as root.
	Become bool
	// NATSServer is the nats-server binary the hosts start with (default: the pinned build).
	NATSServer string
}

// Inits are the inits the lab runs, for tests that run on each.
var Inits = []string{lab.InitRunit, lab.InitSystemd}

var (
	standinOnce sync.Once
	standinPath string
	standinErr  error
)

// Standin builds the wasmCloud stand-in once per test binary and returns its path.
func Standin(tb testing.TB) string {
	tb.Helper()
	standinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "latticepush-standin-")
		if err != nil {
			standinErr = err
			return
		}
		standinPath = filepath.Join(dir, "wasmcloud")
		cmd := exec.Command("go", "build", "-o", standinPath, "./internal/lab/wasmcloud-standin")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			standinErr = fmt.Errorf("build the wasmCloud stand-in: %v\n%s", err, out)
		}
	})
	if standinErr != nil {
		tb.Fatal(standinErr)
	}
	return standinPath
}

// moduleRoot is the repository root (this file is internal/labtest/labtest.go).
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var addrRE = regexp.MustCompile(`198\.18\.0\.(\d+)`)

// Up brings up a lab lattice and registers its teardown with tb.Cleanup.
func Up(tb testing.TB, spec Spec) *Env {
	tb.Helper()
	if testing.Short() {
		tb.Skip("lab test: skipped with -short")
	}
	testenv.RequireRoot(tb)
	if err := lab.CheckPrerequisites(); err != nil {
		testenv.Unavailable(tb, "the lab cannot start: "+err.Error())
	}
	if spec.Init == lab.InitSystemd {
		if err := lab.CheckSystemdPrerequisites(); err != nil {
			testenv.Unavailable(tb, err.Error())
		}
	}
	natsBin := spec.NATSServer
	if natsBin == "" {
		natsBin = testenv.NATSServer(tb)
	}
	standin := Standin(tb)
	if spec.Edges == 0 {
		spec.Edges = 3
	}
	if spec.Name == "" {
		spec.Name = labName(tb.Name())
	}
	if spec.Example == "" {
		spec.Example = "lab"
	}
	src, err := os.ReadFile(filepath.Join(moduleRoot(), "examples", spec.Example, "inventory.hcl"))
	if err != nil {
		tb.Fatal(err)
	}
	inv := string(src)
	if spec.Example == "lab" {
		inv = withEdges(inv, spec.Edges)
	}
	if spec.Init == lab.InitSystemd {
		inv = strings.Replace(inv, `service_manager = "runit"`, `service_manager = "systemd"`, 1)
	}
	if spec.Edit != nil {
		inv = spec.Edit(inv)
	}
	dir := tb.TempDir()
	inits := hostInits(tb, dir, inv)
	var hosts []lab.HostSpec
	systemd := false
	for _, m := range regexp.MustCompile(`host "([^"]+)" \{\s*address\s+= "198\.18\.0\.(\d+)"`).FindAllStringSubmatch(inv, -1) {
		init := inits[m[1]]
		systemd = systemd || init == lab.InitSystemd
		hosts = append(hosts, lab.HostSpec{Name: m[1], SSHFrom: spec.SSHFrom[m[1]], Init: init})
	}
	for _, name := range spec.Extra {
		hosts = append(hosts, lab.HostSpec{Name: name, SSHFrom: spec.SSHFrom[name]})
	}
	if systemd && spec.Init != lab.InitSystemd {
		if err := lab.CheckSystemdPrerequisites(); err != nil {
			testenv.Unavailable(tb, err.Error())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fl, err := lab.Up(ctx, lab.Spec{Name: spec.Name, Hosts: hosts,
		Binaries: map[string]string{"nats-server": natsBin, "wasmcloud": standin}})
	if err != nil {
		testenv.Unavailable(tb, "the lab cannot start: "+err.Error())
	}
	tb.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := fl.Down(dctx); err != nil {
			tb.Errorf("lab down: %v", err)
		}
	})
	// Point the inventory at the lab's addresses, key and known_hosts.
	byName := map[string]netip.Addr{}
	for _, h := range fl.Hosts {
		byName[h.Name] = h.Addr
	}
	inv = regexp.MustCompile(`host "([^"]+)" \{\s*address\s+= "[^"]+"`).ReplaceAllStringFunc(inv, func(m string) string {
		name := regexp.MustCompile(`host "([^"]+)"`).FindStringSubmatch(m)[1]
		return addrRE.ReplaceAllString(m, byName[name].String())
	})
	if spec.Become {
		const root = `user          = "root"`
		if !strings.Contains(inv, root) {
			tb.Fatalf("the lab inventory has no ssh %s line: edit labtest", root)
		}
		inv = strings.Replace(inv, root, fmt.Sprintf("user          = %q\n    become        = true", fl.SudoUser), 1)
	}
	inv = regexp.MustCompile(`/run/latticepush-lab/[a-z0-9-]+/id_ed25519`).ReplaceAllLiteralString(inv, fl.KeyPath)
	inv = regexp.MustCompile(`/run/latticepush-lab/[a-z0-9-]+/known_hosts`).ReplaceAllLiteralString(inv, fl.KnownHostsPath)
	env := &Env{Lab: fl, Dir: dir, Path: filepath.Join(dir, "inventory.hcl")}
	if err := os.WriteFile(env.Path, []byte(inv), 0o644); err != nil {
		tb.Fatal(err)
	}
	i, diags := inventory.Load(env.Path, inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		tb.Fatalf("lab inventory: %v", diags)
	}
	if _, err := inventory.GenerateSecrets(i, inventory.Options{}); err != nil {
		tb.Fatal(err)
	}
	return env
}

// hostInits loads inventory source src (written into dir) and returns each host's lab init,
// from its service_manager.
func hostInits(tb testing.TB, dir, src string) map[string]string {
	tb.Helper()
	path := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	i, diags := inventory.Load(path, inventory.Options{SkipSecrets: true})
	if diags.HasErrors() {
		tb.Fatalf("lab inventory: %v", diags)
	}
	out := map[string]string{}
	for _, h := range i.Hosts {
		switch h.ServiceManager {
		case inventory.ServiceManagerSystemd:
			out[h.Name] = lab.InitSystemd
		case inventory.ServiceManagerRunit:
			out[h.Name] = lab.InitRunit
		default:
			tb.Fatalf("lab inventory: host %s: service_manager %q has no lab init", h.Name, h.ServiceManager)
		}
	}
	return out
}

// Inventory loads the env's inventory (with secrets); edit, when set, rewrites it first.
func (e *Env) Inventory(tb testing.TB) *inventory.Inventory {
	tb.Helper()
	inv, diags := inventory.Load(e.Path, inventory.Options{})
	if diags.HasErrors() {
		tb.Fatalf("lab inventory: %v", diags)
	}
	return inv
}

// Edit rewrites the env's inventory source with fn.
func (e *Env) Edit(tb testing.TB, fn func(string) string) {
	tb.Helper()
	src, err := os.ReadFile(e.Path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(e.Path, []byte(fn(string(src))), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// withEdges rewrites the example's three edge hosts into n edge hosts edge-1..edge-n.
func withEdges(src string, n int) string {
	i := strings.Index(src, `host "edge-1"`)
	if i < 0 || n == 3 {
		return src
	}
	var b strings.Builder
	b.WriteString(src[:i])
	for k := 1; k <= n; k++ {
		zone := "a"
		if k%2 == 0 {
			zone = "b"
		}
		fmt.Fprintf(&b, "host \"edge-%d\" {\n  address = \"198.18.0.%d\"\n  roles   = [\"leaf\", \"wasmcloud\"]\n  labels  = { zone = %q }\n}\n\n", k, 20+k, zone)
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// labName makes a lab name ([a-z0-9-], at most 32 characters) from a test name and this
// process's pid, so the same test run twice at once (two checkouts) gets two labs.
func labName(test string) string {
	s := strings.ToLower(test)
	s = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(s, "-")
	s = strings.Trim(s, "-")
	prefix := fmt.Sprintf("t%d-", os.Getpid()%100000)
	if max := 32 - len(prefix); len(s) > max {
		s = s[len(s)-max:]
	}
	return strings.Trim(prefix+s, "-")
}
