package unit

import (
	"fmt"
	"sync"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/supervisor"
)

// A unit is one service on one host. A Kind is one kind of service latticepush deploys, in
// one place: which hosts run it and in which role, the files it renders, how its supervisor
// runs it, how a change to its files is applied (reload or restart), and which health checks
// apply waits for after changing it and after rolling it back.
//
// nats-server (natsserver.go) and the wasmCloud host (wasmcloud.go) are the kinds today.
// Adding one (wadm, a NATS account server) is a new file with a type implementing Kind and
// one line in the registry below; plan gives it a wave of its own after the wasmCloud wave.
type Kind interface {
	// Name is the service's name: in unit IDs, supervisor definitions, file ownership.
	Name() string
	// Role reports whether host h runs this kind, and in which role: the wave it changes in.
	Role(h *inventory.Host) (Role, bool)
	// Files renders the kind's own files for c.Host (configs, environments); the supervisor
	// renders the service definition from Service.
	Files(c *Context) ([]File, error)
	// Service describes the kind's service on c.Host to its supervisor.
	Service(c *Context) (supervisor.Service, error)
	// Classify decides how changed files of a running service are applied, when no restart
	// is already due (a changed service definition, a stopped service).
	Classify(ch Change) Decision
	// Gates are the checks apply waits for after changing a unit of this kind in role, and
	// after rolling one back.
	Gates(role Role) (apply, rollback Gate)
}

// Role is the part a unit plays, and so the wave it changes in.
type Role string

// The roles of the built-in kinds, named as in the inventory. A kind may add its own.
const (
	RoleHub       Role = inventory.RoleHub
	RoleLeaf      Role = inventory.RoleLeaf
	RoleRelay     Role = inventory.RoleRelay
	RoleWasmcloud Role = inventory.RoleWasmcloud
)

// Gate names a health check that apply waits for; rollout.Gates implements each (over
// package verify).
type Gate string

// The gates.
const (
	// GateHubNode: the node answers /healthz, the cluster has one meta leader whose peers are
	// current, and every node runs the lattice's domain.
	GateHubNode Gate = "hub-node"
	// GateLeaf: the leaf's link is up and the hub's domain answers through it.
	GateLeaf Gate = "leaf"
	// GateWasmcloud: the host answers host.get from the hub side with the inventory's
	// lattice, domain and labels.
	GateWasmcloud Gate = "wasmcloud"
	// GateWasmcloudAnswers: the host answers host.get, whatever its settings (after a
	// rollback it runs its previous ones).
	GateWasmcloudAnswers Gate = "wasmcloud-answers"
	// GateRunning: the service runs and keeps running (the same process for a few seconds).
	GateRunning Gate = "running"
)

// Passed says in words what passing the gate means, for progress lines.
func (g Gate) Passed() string {
	switch g {
	case GateWasmcloudAnswers:
		return "the host answers again"
	case GateRunning:
		return "the service runs again"
	}
	return "healthy again"
}

// Change is what a kind is told to classify: the running service's version (when known) and
// every file of the unit that differs from what the host holds.
type Change struct {
	Version string
	Files   []ChangedFile
}

// ChangedFile is one file of a unit that differs.
type ChangedFile struct {
	Path string
	Kind FileKind
	// Op is "create", "update" or "mode" (permissions only).
	Op string
	// Old is what the host holds, nil when it could not be read; New is the desired bytes.
	Old, New []byte
}

// Effect is how a change is applied.
type Effect int

// The effects, from least to most disruptive.
const (
	None    Effect = iota // nothing to do for the running service (a file's mode only)
	Reload                // the running service takes the change by reload
	Restart               // the service must restart
)

// Decision is a kind's classification of a change, with the reasons shown in the plan.
type Decision struct {
	Effect  Effect
	Reasons []string
}

var (
	registryMu sync.RWMutex
	registry   []Kind
)

func init() {
	Register(natsServer{})
	Register(wasmcloudHost{})
}

// Register adds a kind. Kinds render, plan and roll out in registration order; a second kind
// with the same name is a programming error.
func Register(k Kind) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, have := range registry {
		if have.Name() == k.Name() {
			panic(fmt.Sprintf("unit kind %q registered twice", k.Name()))
		}
	}
	registry = append(registry, k)
}

// Unregister removes the kind named name (tests that register a kind of their own).
func Unregister(name string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for i, k := range registry {
		if k.Name() == name {
			registry = append(registry[:i:i], registry[i+1:]...)
			return
		}
	}
}

// Kinds returns every registered kind, in registration order.
func Kinds() []Kind {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return append([]Kind(nil), registry...)
}

// Named returns the kind named name, or nil.
func Named(name string) Kind {
	for _, k := range Kinds() {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

// OnHost is a kind that host h runs, with its role there.
type OnHost struct {
	Kind Kind
	Role Role
}

// On returns the kinds host h runs, in registration order.
func On(h *inventory.Host) []OnHost {
	var out []OnHost
	for _, k := range Kinds() {
		if role, ok := k.Role(h); ok {
			out = append(out, OnHost{Kind: k, Role: role})
		}
	}
	return out
}

// Services returns the services host h runs, as its supervisor needs them, in registration
// order. Errors name the setting to fix.
func Services(inv *inventory.Inventory, h *inventory.Host) ([]supervisor.Service, error) {
	c := &Context{Inv: inv, Host: h}
	var out []supervisor.Service
	for _, on := range On(h) {
		svc, err := on.Kind.Service(c)
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	return out, nil
}
