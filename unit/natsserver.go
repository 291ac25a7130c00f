package unit

import (
	"fmt"
	"strings"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/supervisor"
)

// ServiceNATS is the nats-server service: the systemd unit without ".service", the runit
// service directory, the service in unit IDs.
const ServiceNATS = "nats-server"

// stopSlack is added to the lame-duck time for the supervisor's stop timeout: the server first
// moves its Raft leaders away (1 s) and shuts JetStream down before the grace period starts.
const stopSlack = 30 * time.Second

// natsStopWhy explains, per supervisor, that stopping nats-server is lame duck mode.
var natsStopWhy = map[string]string{
	"systemd": "Stopping (and so restarting) is lame duck mode: clients and leaves move to other servers\n" +
		"over lame_duck_duration, Raft leaders are handed over first; the server then exits 0.",
	"runit": "runsv runs this instead of sending SIGTERM (sv stop, sv restart): lame duck mode, so\n" +
		"clients and leaves move to other servers over lame_duck_duration before the server exits.\n" +
		"If it fails (no process), runsv sends SIGTERM itself.",
}

// natsServer is the nats-server kind: a hub node or a leaf node, configured by one file
// (nats.go renders it), reloaded by SIGHUP for the keys a reload applies (natsreload.go),
// stopped in lame duck mode. What the lattice needs of its servers beyond that (the
// JetStream domain, hub identity, leaf links) is plan's.
type natsServer struct{}

func (natsServer) Name() string { return ServiceNATS }

func (natsServer) Role(h *inventory.Host) (Role, bool) {
	switch {
	case h.Hub != nil:
		return RoleHub, true
	case h.IsRelay():
		return RoleRelay, true
	case h.Leaf != nil:
		return RoleLeaf, true
	}
	return "", false
}

func (natsServer) Files(c *Context) ([]File, error) {
	tf, err := c.hostTLS(c.Host.NATS())
	if err != nil {
		return nil, err
	}
	f, err := c.natsFile(c.Host.NATS(), tf)
	if err != nil {
		return nil, err
	}
	files := []File{f}
	if tf != nil {
		files = append(files, tf.files...)
	}
	if u := c.Host.NATS().User; u != "" {
		// The server reads its config and keys as its user: root's files, in the user's
		// group, which the server can read but not change.
		for i := range files {
			files[i].Group, files[i].Mode = u, 0o640
		}
	}
	return files, nil
}

func (natsServer) Service(c *Context) (supervisor.Service, error) {
	n := c.Host.NATS()
	ld, err := lameDuck(n)
	if err != nil {
		return supervisor.Service{}, err
	}
	if err := checkPaths(map[string]string{"nats binary": n.Binary, "nats config_file": n.ConfigFile}); err != nil {
		return supervisor.Service{}, err
	}
	role := "leaf node"
	switch {
	case c.Host.Hub != nil:
		role = "JetStream hub, cluster " + n.ClusterName
	case c.Host.IsRelay():
		role = "relay"
	}
	svc := supervisor.Service{
		Name:        ServiceNATS,
		Description: fmt.Sprintf("NATS server %s (%s)", n.ServerName, role),
		Binary:      n.Binary,
		Args:        []string{"-c", n.ConfigFile},
		Reload:      []string{n.Binary, "--signal", "reload=" + supervisor.PIDWord},
		// Lame duck mode: clients and leaves move to other servers, Raft leaders are handed
		// over, then the server exits 0.
		StopSignal:   "USR2",
		StopTimeout:  ld + stopSlack,
		StopWhy:      natsStopWhy,
		RestartDelay: 2 * time.Second,
		Hardened:     true,
		// Healthy once the monitoring endpoint answers: every listener is up.
		Check: &supervisor.HTTPCheck{Host: inventory.LocalHost(n.HTTPHost), Port: n.HTTPPort, Path: "/healthz?js-server-only=true"},
	}
	if n.User != "" {
		// What the server writes is handed to its user; the paths go into the definition.
		svc.User, svc.RuntimeDir = n.User, NATSRuntimeDir
		paths := map[string]string{}
		if c.Host.Hub != nil || n.JetStreamDomain != "" {
			svc.StateDirs, paths["nats store_dir"] = []string{n.StoreDir}, n.StoreDir
		}
		if n.LogFile != "" {
			svc.StateFiles, paths["nats log_file"] = []string{n.LogFile}, n.LogFile
		}
		if err := checkPaths(paths); err != nil {
			return supervisor.Service{}, err
		}
	}
	return svc, nil
}

// Classify tells a reload from a restart by the keys that differ between the config the
// server holds and the desired one. Other files of the unit are service definitions, whose
// change restarts the service before it is classified.
func (natsServer) Classify(ch Change) Decision {
	certs := false
	for _, f := range ch.Files {
		if f.Kind == FileTLS && f.Op != "mode" {
			certs = true
		}
		if f.Kind != FileNATSConfig || f.Op == "mode" {
			continue
		}
		if f.Old == nil {
			return Decision{Restart, []string{"the current config could not be read to tell a reload from a restart"}}
		}
		diff, err := diffNATSConfig(f.Old, f.New, ch.Version)
		if err != nil {
			return Decision{Restart, []string{err.Error()}}
		}
		if len(diff.NeedsStop) > 0 {
			return Decision{Restart, diff.NeedsStop}
		}
		if len(diff.Keys) > 0 {
			return Decision{Reload, []string{"reloadable: " + strings.Join(redactKeys(diff.Keys), ", ")}}
		}
		return Decision{Reload, []string{"formatting only: same parsed config"}}
	}
	if certs {
		return Decision{Reload, []string{"TLS files change: a reload loads them"}}
	}
	return Decision{Effect: None}
}

func (natsServer) Gates(role Role) (apply, rollback Gate) {
	if role == RoleHub {
		return GateHubNode, GateHubNode
	}
	return GateLeaf, GateLeaf
}

// redactKeys keeps changed key names readable without hinting at secret values: keys are
// names only, never values, so they are safe; this only shortens account user lists.
func redactKeys(keys []string) []string {
	out := make([]string, 0, len(keys))
	seen := map[string]bool{}
	for _, k := range keys {
		if strings.HasPrefix(k, "accounts.") {
			parts := strings.SplitN(k, ".", 3)
			if len(parts) >= 2 {
				k = parts[0] + "." + parts[1]
			}
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
