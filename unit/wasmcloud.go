package unit

import (
	"fmt"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/supervisor"
)

// ServiceWasmcloud is the wasmCloud host service.
const ServiceWasmcloud = "wasmcloud"

// wasmcloudStopTimeout exceeds the wasmCloud host's own 10 s shutdown budget.
const wasmcloudStopTimeout = 30 * time.Second

// wasmcloudHost is the wasmCloud 1.x host kind: configured by its environment file (env.go),
// which it reads only at start, next to the nats-server of its machine.
type wasmcloudHost struct{}

func (wasmcloudHost) Name() string { return ServiceWasmcloud }

func (wasmcloudHost) Role(h *inventory.Host) (Role, bool) { return RoleWasmcloud, h.Wasmcloud != nil }

func (wasmcloudHost) Files(c *Context) ([]File, error) {
	f, err := c.envFile(c.Host.Wasmcloud)
	if err != nil {
		return nil, err
	}
	return []File{f}, nil
}

func (wasmcloudHost) Service(c *Context) (supervisor.Service, error) {
	wc := c.Host.Wasmcloud
	if err := checkPaths(map[string]string{"wasmcloud binary": wc.Binary, "wasmcloud env_file": wc.EnvFile}); err != nil {
		return supervisor.Service{}, err
	}
	svc := supervisor.Service{
		Name:          ServiceWasmcloud,
		Description:   fmt.Sprintf("wasmCloud host %s (lattice %s)", c.Host.Name, c.Inv.Lattice.Name),
		Binary:        wc.Binary,
		EnvFile:       wc.EnvFile,
		KeepTrying:    true,
		KeepTryingWhy: "The host exits at once when NATS or the JetStream domain is not reachable yet: keep trying.",
		RestartAlways: true,
		RestartWhy:    "Always: SIGTERM, a control-interface stop and a lost internal task all exit 0.",
		RestartDelay:  5 * time.Second,
		StopTimeout:   wasmcloudStopTimeout,
		// The host exits at once when it cannot reach NATS: once connected, it started.
		ConnectedPort: wc.NATSPort,
		// wasmCloud 1.x writes only below its temporary directory (the OCI cache,
		// wasmcloud_ocicache, and the provider binaries it runs from there, wasmcloudcache),
		// never below HOME: a private /tmp, which stays writable and executable, is all it needs.
		// No MemoryDenyWriteExecute: Wasmtime compiles components to native code at run time.
		Hardened: true,
		// Its environment file, which holds the host's seed, stays root's: the supervisor
		// reads it (as root) before the host starts as its user.
		User: wc.User,
	}
	if c.Host.NATS() != nil {
		// The host exits at once when its nats-server is not up: start after it.
		svc.After = ServiceNATS
	}
	return svc, nil
}

// Classify: the host reads its environment only at start, so any change restarts it.
func (wasmcloudHost) Classify(ch Change) Decision {
	if len(ch.Files) == 0 {
		return Decision{Effect: None}
	}
	return Decision{Restart, []string{"the wasmCloud host reads its environment only at start"}}
}

// Gates: after a change the host must answer with the new settings; after a rollback it runs
// its previous ones, so it only has to answer.
func (wasmcloudHost) Gates(Role) (apply, rollback Gate) {
	return GateWasmcloud, GateWasmcloudAnswers
}
