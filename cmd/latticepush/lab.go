package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latticepush/latticepush/internal/lab"
	"github.com/latticepush/latticepush/internal/natsbin"
	"github.com/latticepush/latticepush/inventory"
	"github.com/spf13/cobra"
)

func newLabCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Bring up an inventory's hosts on this machine, to try latticepush (root)",
		Long: `Lab runs the hosts an inventory names on this Linux machine: each host is a set of
namespaces with its own address on a bridge (198.18.0.0/15 only) and a real OpenSSH sshd. A
host whose service_manager is "runit" has runit as its process 1 and its own /etc, /var,
/root, /etc/nats, /var/lib/nats and /etc/wasmcloud over the machine's files; one whose
service_manager is "systemd" boots a cached Debian tree under systemd-nspawn, with systemd as
its process 1 (` + "`make deps`" + ` builds the tree). Hosts may differ: a host or hosts block's
own service_manager overrides the defaults' (examples/lab-mixed). /usr/local/bin on every host holds
nats-server and the wasmCloud stand-in.

Root logs in with the lab's key; so does the user "lab", with passwordless sudo. The lab
writes the key, a known_hosts file and an ssh_config into its state directory, by default
/run/latticepush-lab/<name>, where examples/lab/inventory.hcl expects them.

Needs root and the Debian packages of ` + "`make prereqs`" + `.`,
	}
	cmd.AddCommand(newLabUpCommand(g), newLabDownCommand(g), newLabStatusCommand(g))
	return cmd
}

type labUpArgs struct {
	inventory, name, state string
	natsServer, wasmcloud  string
	natsVersion            string
}

func newLabUpCommand(g *globals) *cobra.Command {
	var a labUpArgs
	cmd := &cobra.Command{
		Use:   "up INVENTORY",
		Short: "Bring up the inventory's hosts at its addresses",
		Long: `Up brings up every host of the inventory at its address (all in one /24 of
198.18.0.0/15) and returns once sshd answers on each. The lab's name defaults to the directory
of the inventory's identity_file when that is /run/latticepush-lab/<name>, so the key and
known_hosts land where the inventory looks for them; else to the inventory's directory name.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.inventory = args[0]
			return g.runLabUp(cmd.Context(), a)
		},
	}
	cmd.Flags().StringVar(&a.name, "name", "", "lab name (default: from the inventory)")
	cmd.Flags().StringVar(&a.state, "state", "", "state directory (default /run/latticepush-lab/<name>)")
	cmd.Flags().StringVar(&a.natsServer, "nats-server", "", "nats-server binary for the hosts (default $LATTICEPUSH_NATS_SERVER, then the `make nats-server` build)")
	cmd.Flags().StringVar(&a.natsVersion, "nats-version", "", "start the hosts on this cached nats-server release instead, e.g. v2.14.10 (built by make nats-server)")
	g.addVarFlags(cmd)
	cmd.Flags().StringVar(&a.wasmcloud, "wasmcloud", "", "wasmCloud host binary for the hosts (default: wasmcloud-standin next to latticepush)")
	return cmd
}

func (g *globals) runLabUp(ctx context.Context, a labUpArgs) error {
	if err := lab.CheckPrerequisites(); err != nil {
		return err
	}
	inv, err := g.loadInventory(a.inventory, inventory.Options{SkipSecrets: true})
	if err != nil {
		return err
	}
	spec := lab.Spec{Name: a.name, StateDir: a.state, Persistent: true, Binaries: map[string]string{}}
	if spec.Name == "" {
		spec.Name = labName(inv)
	}
	if spec.Hosts, err = labHosts(inv); err != nil {
		return err
	}
	var notes []string
	nats := firstNonEmpty(a.natsServer, natsbin.Path())
	if v := a.natsVersion; v != "" && a.natsServer == "" {
		if !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		if nats = natsbin.PathFor(v); nats == "" {
			return fmt.Errorf("no nats-server %s build in the cache: `make nats-server` builds %s; pass --nats-server PATH for another",
				v, strings.Join(append([]string{natsbin.Version}, natsbin.Upgrades...), ", "))
		}
	}
	if nats == "" {
		return errors.New("no nats-server binary: run `make nats-server`, or pass --nats-server PATH")
	}
	spec.Binaries["nats-server"] = nats
	wasm := a.wasmcloud
	if wasm == "" {
		if exe, err := os.Executable(); err == nil {
			wasm = filepath.Join(filepath.Dir(exe), "wasmcloud-standin")
		}
		if _, err := os.Stat(wasm); err != nil {
			notes = append(notes, "no wasmCloud binary: hosts have no /usr/local/bin/wasmcloud. Build the stand-in with\n  go build -o bin/wasmcloud-standin ./internal/lab/wasmcloud-standin\nor pass --wasmcloud PATH.")
			wasm = ""
		}
	}
	if wasm != "" {
		spec.Binaries["wasmcloud"] = wasm
	}
	for name, p := range spec.Binaries {
		if abs, err := filepath.Abs(p); err == nil {
			spec.Binaries[name] = abs
		}
	}
	notes = append(notes, binaryNotes(inv, spec.Binaries)...)

	start := time.Now()
	f, err := lab.Up(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: lab up: %v", errCanceled, err)
		}
		return err
	}
	fmt.Fprintf(g.stdout, "Lab %s is up: %s on %s, sshd answering on each (%.1fs).\n",
		f.Name, plural(len(f.Hosts), "host", "hosts"), f.Subnet, time.Since(start).Seconds())
	if dropped, err := dropBehindRelays(f, inv); err != nil {
		return err
	} else if len(dropped) > 0 {
		fmt.Fprintf(g.stdout, "Below relays, these hosts' traffic to the hubs is dropped (they only dial their relays): %s.\n", strings.Join(dropped, ", "))
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	for _, h := range f.Hosts {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Name, h.Addr, h.Init)
	}
	tw.Flush()
	names := make([]string, 0, len(spec.Binaries))
	for n := range spec.Binaries {
		names = append(names, "/usr/local/bin/"+n)
	}
	sort.Strings(names)
	fmt.Fprintf(g.stdout, "SSH key:      %s\nknown_hosts:  %s\nssh_config:   %s  (ssh -F %[3]s %s)\nsudo user:    %s (same key, passwordless sudo)\nbinaries:     %s\n",
		f.KeyPath, f.KnownHostsPath, f.SSHConfigPath, f.Hosts[0].Name, f.SudoUser, strings.Join(names, ", "))
	notes = append(notes, sshNotes(inv, f)...)
	for _, c := range f.MachineChanges {
		notes = append(notes, "the lab "+c+".")
	}
	for _, n := range notes {
		fmt.Fprintf(g.stderr, "Note: %s\n", n)
	}
	fmt.Fprintf(g.stdout, "Take it down with: latticepush lab down %s\n", f.Name)
	return nil
}

// labHosts are the lab hosts of an inventory: each at its address, with the init its
// service_manager names (hosts may differ).
func labHosts(inv *inventory.Inventory) ([]lab.HostSpec, error) {
	var out []lab.HostSpec
	for _, h := range inv.Hosts {
		addr, err := netip.ParseAddr(h.Address)
		if err != nil {
			return nil, fmt.Errorf("host %s: address %q: the lab needs IP addresses (in %s)", h.Name, h.Address, lab.LabRange)
		}
		var init string
		switch h.ServiceManager {
		case inventory.ServiceManagerSystemd:
			init = lab.InitSystemd
		case inventory.ServiceManagerRunit:
			init = lab.InitRunit
		default:
			return nil, fmt.Errorf("host %s: service_manager %q: the lab runs %q or %q hosts", h.Name, h.ServiceManager,
				inventory.ServiceManagerSystemd, inventory.ServiceManagerRunit)
		}
		out = append(out, lab.HostSpec{Name: h.Name, Addr: addr, Init: init})
	}
	return out, nil
}

var labNameUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// labName derives a lab name from an inventory: the directory of its identity_file when that
// is a lab state directory (so the lab writes the key where the inventory reads it), else the
// inventory's directory name.
func labName(inv *inventory.Inventory) string {
	for _, h := range inv.Hosts {
		if d := filepath.Dir(h.SSH.IdentityFile); filepath.Dir(d) == lab.BaseDir {
			return filepath.Base(d)
		}
	}
	name := strings.Trim(labNameUnsafe.ReplaceAllString(strings.ToLower(filepath.Base(inv.Dir)), "-"), "-")
	if name == "" || name == "." {
		return "lab"
	}
	return name
}

// binaryNotes warns about hosts whose inventory expects a binary where the lab has none.
func binaryNotes(inv *inventory.Inventory, bins map[string]string) []string {
	var notes []string
	seen := map[string]bool{}
	for _, h := range inv.Hosts {
		var want []string
		if n := h.NATS(); n != nil {
			want = append(want, n.Binary)
		}
		if h.Wasmcloud != nil {
			want = append(want, h.Wasmcloud.Binary)
		}
		for _, p := range want {
			_, ok := bins[filepath.Base(p)]
			if (ok && filepath.Dir(p) == "/usr/local/bin") || seen[p] {
				continue
			}
			seen[p] = true
			notes = append(notes, fmt.Sprintf("the inventory runs %s (host %s and maybe others), which the lab does not provide.", p, h.Name))
		}
	}
	return notes
}

// sshNotes warns when the inventory's SSH settings do not point at the lab's files.
func sshNotes(inv *inventory.Inventory, f *lab.Fleet) []string {
	for _, h := range inv.Hosts {
		if h.SSH.IdentityFile != f.KeyPath || h.SSH.KnownHosts != f.KnownHostsPath {
			return []string{fmt.Sprintf("the inventory's ssh settings (host %s: identity_file %q, known_hosts %q) are not the lab's; set\n  identity_file = %q\n  known_hosts   = %q\nin its defaults { ssh { ... } }.",
				h.Name, h.SSH.IdentityFile, h.SSH.KnownHosts, f.KeyPath, f.KnownHostsPath)}
		}
	}
	return nil
}

func newLabDownCommand(g *globals) *cobra.Command {
	var all bool
	var state string
	cmd := &cobra.Command{
		Use:   "down [NAME | STATE_DIR | INVENTORY]",
		Short: "Stop a lab and remove everything it created",
		Long: `Down stops the lab's services (runit hosts: sv; systemd hosts: a clean power-off),
then its hosts, and removes their overlay mounts, cgroups, network namespaces, links and
state directory. It works on a half-built or crashed lab, and does
nothing when the lab is not up. With --all it takes down every lab on this machine.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if all {
				names, err := lab.DownAll(context.WithoutCancel(ctx))
				for _, n := range names {
					fmt.Fprintf(g.stdout, "Lab %s is down.\n", n)
				}
				if len(names) == 0 && err == nil {
					fmt.Fprintln(g.stdout, "No lab is up.")
				}
				return err
			}
			ref, err := g.labRef(args, state)
			if err != nil {
				return err
			}
			f, err := lab.Open(ref)
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(g.stdout, "No lab %s is up.\n", ref)
				return nil
			}
			if err != nil {
				return err
			}
			// Finish even after Ctrl-C: a half-removed lab is worse than a slow exit.
			if err := f.Down(context.WithoutCancel(ctx)); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Lab %s is down: %s stopped, namespaces, links and %s removed.\n", f.Name, plural(len(f.Hosts), "host", "hosts"), f.StateDir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "take down every lab on this machine")
	cmd.Flags().StringVar(&state, "state", "", "the lab's state directory, if `lab up` was given one")
	return cmd
}

func newLabStatusCommand(g *globals) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "status [NAME | STATE_DIR | INVENTORY]",
		Short: "List labs, or show one lab's hosts and services",
		Long: `Without an argument, status lists the labs on this machine. With one, it shows each host
of that lab: its init, whether it runs, whether its sshd answers, and its services (runit:
sv status; systemd: the system state and failed units). It exits 1 when
a host does not run or its sshd does not answer.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && state == "" {
				return g.listLabs()
			}
			ref, err := g.labRef(args, state)
			if err != nil {
				return err
			}
			f, err := lab.Open(ref)
			if err != nil {
				return err
			}
			return g.labStatus(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "the lab's state directory, if `lab up` was given one")
	return cmd
}

// labRef turns the argument of `lab down|status` into a name or state directory for lab.Open.
func (g *globals) labRef(args []string, state string) (string, error) {
	if state != "" {
		return filepath.Abs(state)
	}
	if len(args) == 0 {
		return "", errors.New("name the lab (or its inventory, or --state DIR); `latticepush lab status` lists labs")
	}
	arg := args[0]
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		inv, err := g.loadInventory(arg, inventory.Options{SkipSecrets: true})
		if err != nil {
			return "", err
		}
		return labName(inv), nil
	}
	if strings.Contains(arg, "/") {
		return filepath.Abs(arg)
	}
	return arg, nil
}

func (g *globals) listLabs() error {
	labs := lab.List()
	if len(labs) == 0 {
		fmt.Fprintln(g.stdout, "No lab is up.")
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOSTS\tSUBNET\tSTATE\tDIRECTORY")
	for _, f := range labs {
		running := 0
		for _, h := range f.Hosts {
			if f.Running(h.Name) {
				running++
			}
		}
		st := fmt.Sprintf("%d/%d running", running, len(f.Hosts))
		if !f.Ready() {
			st += ", never finished coming up"
		}
		if f.Stale() {
			st += ", stale (its creator exited)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", f.Name, len(f.Hosts), f.Subnet, st, f.StateDir)
	}
	return tw.Flush()
}

func (g *globals) labStatus(ctx context.Context, f *lab.Fleet) error {
	fmt.Fprintf(g.stdout, "Lab %s: %s on %s, state in %s\n", f.Name, plural(len(f.Hosts), "host", "hosts"), f.Subnet, f.StateDir)
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tINIT\tRUNNING\tSSHD\tSERVICES")
	bad := 0
	for _, h := range f.Hosts {
		running, sshd, services := "no", "-", "-"
		if f.Running(h.Name) {
			running = "yes"
			if err := f.Probe(ctx, h.Name); err != nil {
				sshd = "no answer"
				bad++
			} else {
				sshd = "answers"
			}
			if h.Init == lab.InitSystemd {
				out, _ := f.Exec(ctx, h.Name, "/bin/sh", "-c", "systemctl is-system-running; systemctl --failed --plain --no-legend | cut -d' ' -f1")
				services = summarizeSystemd(string(out))
			} else {
				out, _ := f.Exec(ctx, h.Name, "/bin/sh", "-c", "sv status /etc/service/* 2>&1")
				services = summarizeSV(string(out))
			}
		} else {
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Addr, h.Init, running, sshd, services)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range f.MachineChanges {
		fmt.Fprintf(g.stdout, "Note: the lab %s.\n", c)
	}
	if bad > 0 {
		return silentExit(exitError)
	}
	return nil
}

// summarizeSV turns `sv status` lines ("run: /etc/service/sshd: (pid 9) 5s; ...") into
// "sshd run, nats-server down".
func summarizeSV(out string) string {
	var parts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		state, rest, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		svc, _, _ := strings.Cut(rest, ":")
		parts = append(parts, filepath.Base(svc)+" "+state)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// summarizeSystemd turns the output of `systemctl is-system-running` followed by the failed
// units' names into "system running" or "system degraded, failed: a.service b.service".
func summarizeSystemd(out string) string {
	lines := strings.Fields(out)
	if len(lines) == 0 {
		return "-"
	}
	s := "system " + lines[0]
	if len(lines) > 1 {
		s += ", failed: " + strings.Join(lines[1:], " ")
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// dropBehindRelays drops the traffic of every leaf or relay below relays to the hub addresses, inside
// its own network namespace: in the lab, such a leaf reaches the hubs only through its relays,
// as a machine behind NAT would. It returns the hosts it did this for.
func dropBehindRelays(f *lab.Fleet, inv *inventory.Inventory) ([]string, error) {
	var hubs []netip.Addr
	for _, h := range inv.Hubs() {
		if a, err := netip.ParseAddr(h.Address); err == nil {
			hubs = append(hubs, a)
		}
	}
	var out []string
	for _, h := range inv.LeafServers() {
		if u, err := inv.UpstreamOf(h); err != nil || u.Hub {
			continue
		}
		if err := f.DropTraffic(h.Name, hubs...); err != nil {
			return out, err
		}
		out = append(out, h.Name)
	}
	return out, nil
}
