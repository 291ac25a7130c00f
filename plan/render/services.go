package render

import (
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/supervisor"
)

// stopSlack is added to the lame-duck time for the supervisor's stop timeout: the server first
// moves its Raft leaders away (1 s) and shuts JetStream down before the grace period starts.
const stopSlack = 30 * time.Second

// wasmcloudStopTimeout exceeds the wasmCloud host's own 10 s shutdown budget.
const wasmcloudStopTimeout = 30 * time.Second

// natsStopWhy explains, per supervisor, that stopping nats-server is lame duck mode.
var natsStopWhy = map[string]string{
	"systemd": "Stopping (and so restarting) is lame duck mode: clients and leaves move to other servers\n" +
		"over lame_duck_duration, Raft leaders are handed over first; the server then exits 0.",
	"runit": "runsv runs this instead of sending SIGTERM (sv stop, sv restart): lame duck mode, so\n" +
		"clients and leaves move to other servers over lame_duck_duration before the server exits.\n" +
		"If it fails (no process), runsv sends SIGTERM itself.",
}

// Services returns the services host h runs, as its supervisor needs them: nats-server for a
// hub or leaf, the wasmCloud host for a wasmcloud role. Errors say which setting to fix.
func Services(inv *inventory.Inventory, h *inventory.Host) ([]supervisor.Service, error) {
	var out []supervisor.Service
	if n := h.NATS(); n != nil {
		ld, err := lameDuck(n)
		if err != nil {
			return nil, err
		}
		if err := checkPaths(map[string]string{"nats binary": n.Binary, "nats config_file": n.ConfigFile}); err != nil {
			return nil, err
		}
		role := "leaf node"
		if h.Hub != nil {
			role = "JetStream hub, cluster " + n.ClusterName
		}
		out = append(out, supervisor.Service{
			Name:        ServiceNATS,
			Description: fmt.Sprintf("NATS server %s (%s)", n.ServerName, role),
			Binary:      n.Binary,
			Args:        []string{"-c", n.ConfigFile},
			Reload:      []string{n.Binary, "--signal", "reload=" + supervisor.PIDWord},
			// Lame duck mode: clients and leaves move to other servers, Raft leaders are
			// handed over, then the server exits 0.
			StopSignal:   "USR2",
			StopTimeout:  ld + stopSlack,
			StopWhy:      natsStopWhy,
			RestartDelay: 2 * time.Second,
			Hardened:     true,
			// Healthy once the monitoring endpoint answers: every listener is up.
			Check: &supervisor.HTTPCheck{Host: inventory.LocalHost(n.HTTPHost), Port: n.HTTPPort, Path: "/healthz?js-server-only=true"},
		})
	}
	if wc := h.Wasmcloud; wc != nil {
		if err := checkPaths(map[string]string{"wasmcloud binary": wc.Binary, "wasmcloud env_file": wc.EnvFile}); err != nil {
			return nil, err
		}
		svc := supervisor.Service{
			Name:          ServiceWasmcloud,
			Description:   fmt.Sprintf("wasmCloud host %s (lattice %s)", h.Name, inv.Lattice.Name),
			Binary:        wc.Binary,
			EnvFile:       wc.EnvFile,
			KeepTrying:    true,
			KeepTryingWhy: "The host exits at once when NATS or the JetStream domain is not reachable yet: keep trying.",
			RestartAlways: true,
			RestartWhy:    "Always: SIGTERM, a control-interface stop and a lost internal task all exit 0.",
			RestartDelay:  5 * time.Second,
			StopTimeout:   wasmcloudStopTimeout,
		}
		if h.NATS() != nil {
			// The host exits at once when its nats-server is not up: start after it.
			svc.After = ServiceNATS
		}
		out = append(out, svc)
	}
	return out, nil
}

// serviceFiles renders the definition of every service of the host under its supervisor.
func (r *renderer) serviceFiles() ([]File, error) {
	sup, err := supervisor.For(r.h.ServiceManager)
	if err != nil {
		return nil, err
	}
	services, err := Services(r.inv, r.h)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, svc := range services {
		defs, err := sup.Definition(r.header(), svc)
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			kind := KindUnit
			if d.Script {
				kind = KindRunit
			}
			files = append(files, File{Path: d.Path, Mode: d.Mode, Content: d.Content, Service: svc.Name, Kind: kind})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// safePathRE is what a path written into a service definition may look like: absolute, with
// no character that systemd (specifiers, quoting) or sh would interpret.
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@-]+$`)

func checkPaths(paths map[string]string) error {
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, setting := range keys {
		if p := paths[setting]; !safePathRE.MatchString(p) {
			return fmt.Errorf("%s = %q: want an absolute path of letters, digits and . _ / + @ -", setting, p)
		}
	}
	return nil
}
