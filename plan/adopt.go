package plan

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/supervisor"
)

// decideAdopt looks at what the supervisor actually runs for the unit's service. A
// definition latticepush did not write (a hand-made runit directory, a packaged systemd unit
// or drop-ins that apply to it), or, for a nats-server that is not running, the same server
// run by another service, is adopted: shown with what runs now and taken over by apply.
// A nats-server process that no service runs is refused: apply could not give it back.
func decideAdopt(h *inventory.Host, u *Unit, f Facts, n *inventory.NATS) error {
	sup, err := supervisor.For(h.ServiceManager)
	if err != nil {
		return nil // the inventory's validation names it
	}
	ad, ok := sup.(supervisor.Adopter)
	if !ok {
		return nil
	}
	sf := f.Services[u.Service]
	managed := ad.Managed(u.Service)
	var why []string
	if sf.Definition != "" && sf.Definition != managed {
		why = append(why, fmt.Sprintf("%s runs %s, not latticepush's %s", sup.Name(), sf.Definition, managed))
	}
	if len(sf.DropIns) > 0 {
		why = append(why, "drop-ins apply to the unit: "+strings.Join(sf.DropIns, ", "))
	}
	var from *Foreign
	switch {
	case len(why) > 0:
		from = &Foreign{Supervisor: sup.Name(), Service: u.Service, Definition: sf.Definition, DropIns: sf.DropIns,
			Running: sf.Running, Enabled: sf.Enabled, PID: sf.PID, Exe: sf.Exe, Cmdline: redactCmdline(sf.Cmdline)}
	case u.Service == ServiceNATS && !sf.Running && len(f.Others) > 0:
		o := f.Others[0]
		switch {
		case o.Unit != "" && sup.Name() == "systemd":
			from = &Foreign{Supervisor: sup.Name(), Service: strings.TrimSuffix(o.Unit, ".service")}
			why = append(why, fmt.Sprintf("the systemd unit %s runs a nats-server, not latticepush's %s", o.Unit, managed))
		case o.RunitDir != "" && sup.Name() == "runit":
			name := o.RunitName
			if name == "" {
				name = path.Base(o.RunitDir)
			}
			from = &Foreign{Supervisor: sup.Name(), Service: name, Definition: o.RunitDir}
			why = append(why, fmt.Sprintf("the runit service %s (%s) runs a nats-server, not latticepush's %s", name, o.RunitDir, managed))
		default:
			return fmt.Errorf("%s: a nats-server (pid %d: %s) runs outside any %s service and would keep the ports: "+
				"stop it, or run it under a service latticepush can take over, then plan again", h.Name, o.PID, redactCmdline(o.Cmdline), sup.Name())
		}
		from.Running, from.Enabled, from.PID, from.Exe, from.Cmdline = true, true, o.PID, o.Exe, redactCmdline(o.Cmdline)
	default:
		return nil
	}
	if nf := f.NATS; nf != nil && n != nil && h.Hub != nil && n.StoreDir != "" && !nf.StoreState && !nf.JetStream {
		from.ClearStore = path.Join(n.StoreDir, "jetstream")
	}
	u.Action = Adopt
	u.Adopt = from
	u.Enable = true
	u.WasRunning = from.Running
	u.Reasons = nil
	now := "runs now: " + from.describe()
	if !from.Running {
		now = "in place, not running: " + from.describe()
	}
	with := managed
	if n != nil && u.Service == ServiceNATS {
		with += fmt.Sprintf(" (%s -c %s, with lame-duck stop and health check)", n.Binary, n.ConfigFile)
	}
	u.Reasons = append(u.Reasons, why...)
	u.Reasons = append(u.Reasons, now, "replaced by latticepush's "+with,
		"why it matters: until then plan, apply and verify would judge a server latticepush does not run; "+
			"apply stops it (lame duck), keeps its definition aside and restores it if the adoption fails")
	return nil
}

// describe names a foreign service and its process for a plan.
func (f *Foreign) describe() string {
	s := fmt.Sprintf("%s service %s", f.Supervisor, f.Service)
	if f.Definition != "" && f.Definition != f.Service {
		s += " (" + f.Definition + ")"
	}
	if f.PID > 0 {
		s += fmt.Sprintf(", pid %d", f.PID)
		if f.Cmdline != "" {
			s += ": " + f.Cmdline
		}
		if f.Exe != "" && !strings.HasPrefix(f.Cmdline, f.Exe+" ") && f.Cmdline != f.Exe {
			s += " [exe " + f.Exe + "]"
		}
	}
	return s
}

// decideProcess restarts a running managed nats-server whose process is not what its
// definition starts: another binary (its /proc/PID/exe is not the managed binary, resolved,
// so a symlinked binary still matches; or that file was replaced since it started) or
// another config file than the managed one.
func decideProcess(u *Unit, f Facts, n *inventory.NATS) {
	sf := f.Services[u.Service]
	if u.Service != ServiceNATS || !sf.Running || u.Action == Adopt || u.Action == Restart || u.Action == Cutover {
		return
	}
	var why []string
	if nf := f.NATS; nf != nil && sf.Exe != "" && nf.BinaryPath != "" && sf.Exe != nf.BinaryPath {
		why = append(why, fmt.Sprintf("the running process runs %s, not the managed binary %s (%s)", sf.Exe, nf.BinaryPath, n.Binary))
	}
	if cfg, ok := configArg(sf.Cmdline); ok && cfg != n.ConfigFile {
		why = append(why, fmt.Sprintf("the running process reads %s, not the managed config %s", cfg, n.ConfigFile))
	}
	if len(why) > 0 {
		u.Action = Restart
		u.Reasons = append(u.Reasons, why...)
	}
}

// configArg finds nats-server's config file argument in a command line (-c, --config,
// -config, with a space or "=").
func configArg(cmdline string) (string, bool) {
	args := strings.Fields(cmdline)
	for i, a := range args {
		for _, flag := range []string{"-c", "--config", "-config"} {
			if a == flag && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, flag+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// secretFlags are nats-server's command-line options whose value is a secret.
var secretFlags = []string{"--pass", "-pass", "--auth", "-auth"}

// redactCmdline hides the secrets a hand-made server may carry on its command line (a
// password or token option, userinfo in a route or cluster URL) before the plan shows it or
// saves it.
func redactCmdline(cmdline string) string {
	args := strings.Fields(cmdline)
	for i := 0; i < len(args); i++ {
		for _, flag := range secretFlags {
			if args[i] == flag && i+1 < len(args) {
				i++
				args[i] = inventory.Redacted
				break
			}
			if _, ok := strings.CutPrefix(args[i], flag+"="); ok {
				args[i] = flag + "=" + inventory.Redacted
				break
			}
		}
		args[i] = urlUserinfo.ReplaceAllString(args[i], "${1}"+inventory.Redacted+"${3}")
	}
	return strings.Join(args, " ")
}

// urlUserinfo matches the password in a URL's userinfo (nats://user:password@host).
var urlUserinfo = regexp.MustCompile(`(://[^:/@\s]+:)([^@\s]+)(@)`)
