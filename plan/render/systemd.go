package render

import (
	"fmt"
	"strings"
	"time"
)

// stopSlack is added to the lame-duck time for systemd's stop timeout: the server first moves
// its Raft leaders away (1 s) and shuts JetStream down before the grace period starts.
const stopSlack = 30 * time.Second

// wasmcloudStopTimeout exceeds the host's own 10 s shutdown budget (wasmCloud 1.x
// DEFAULT_SHUTDOWN_TIMEOUT), so the host, not systemd, ends a slow shutdown.
const wasmcloudStopTimeout = 30 * time.Second

func (r *renderer) systemdFiles() ([]File, error) {
	var files []File
	if n := r.h.NATS(); n != nil {
		ld, err := lameDuck(n)
		if err != nil {
			return nil, err
		}
		if err := checkPaths(map[string]string{"nats binary": n.Binary, "nats config_file": n.ConfigFile}); err != nil {
			return nil, err
		}
		role := "leaf node"
		if r.h.Hub != nil {
			role = "JetStream hub, cluster " + n.ClusterName
		}
		var b strings.Builder
		b.WriteString(r.header())
		fmt.Fprintf(&b, `[Unit]
Description=NATS server %s (%s)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=%s -c %s
# Braced: systemd substitutes a bare $MAINPID only where it is a word of its own.
ExecReload=%s --signal reload=${MAINPID}
# Stopping (and so restarting) is lame duck mode: clients and leaves move to other servers
# over lame_duck_duration, Raft leaders are handed over first; the server then exits 0.
KillSignal=SIGUSR2
TimeoutStopSec=%d
Restart=on-failure
RestartSec=2
LimitNOFILE=65536
NoNewPrivileges=yes
PrivateTmp=yes
ProtectHome=yes
ProtectSystem=full

[Install]
WantedBy=multi-user.target
`, n.ServerName, role, n.Binary, n.ConfigFile, n.Binary, int((ld+stopSlack)/time.Second))
		files = append(files, r.file(SystemdDir+"/"+ServiceNATS+".service", KindUnit, ServiceNATS, []byte(b.String()), 0o644))
	}
	if wc := r.h.Wasmcloud; wc != nil {
		if err := checkPaths(map[string]string{"wasmcloud binary": wc.Binary, "wasmcloud env_file": wc.EnvFile}); err != nil {
			return nil, err
		}
		after := "network-online.target"
		if r.h.NATS() != nil {
			// After= also orders the stop: the host stops (and publishes host_stopped) before
			// its nats-server. Wants=, not Requires=: a server restart does not restart the host,
			// which reconnects.
			after += " " + ServiceNATS + ".service"
		}
		var b strings.Builder
		b.WriteString(r.header())
		fmt.Fprintf(&b, `[Unit]
Description=wasmCloud host %s (lattice %s)
After=%s
Wants=%s
# The host exits at once when NATS or the JetStream domain is not reachable yet: keep trying.
StartLimitIntervalSec=0

[Service]
Type=simple
EnvironmentFile=%s
ExecStart=%s
# Always: SIGTERM, a control-interface stop and a lost internal task all exit 0.
Restart=always
RestartSec=5
TimeoutStopSec=%d
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`, r.h.Name, r.inv.Lattice.Name, after, after, wc.EnvFile, wc.Binary, int(wasmcloudStopTimeout/time.Second))
		files = append(files, r.file(SystemdDir+"/"+ServiceWasmcloud+".service", KindUnit, ServiceWasmcloud, []byte(b.String()), 0o644))
	}
	return files, nil
}
