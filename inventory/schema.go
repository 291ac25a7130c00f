package inventory

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The structs below are the inventory file as written, decoded by gohcl. Optional settings are
// pointers so the merge (defaults -> role -> host) can tell "not set here" from a zero value.
// Each block keeps its body, so a diagnostic about a merged value can point at the attribute
// that set it (see attrRange).

type fileSchema struct {
	Lattice  latticeBlock   `hcl:"lattice,block"`
	Secrets  *secretsBlock  `hcl:"secrets,block"`
	Defaults *defaultsBlock `hcl:"defaults,block"`
	Roles    []roleBlock    `hcl:"role,block"`
	Hosts    []hostBlock    `hcl:"host,block"`
	Bastions []bastionBlock `hcl:"bastion,block"`
	// Groups are the `hosts "<name>" { for_each = ... }` blocks; expand turns each of their
	// instances into a hostBlock appended to Hosts.
	Groups []hostsBlock `hcl:"hosts,block"`
	// Upstream is the NATS system above the hubs (upstream.go).
	Upstream *upstreamBlock `hcl:"upstream,block"`
}

// bastionBlock is a jump host outside the fleet, which ssh blocks name in proxy_jump as
// bastion.<name> (an expression: the block's [user@]address[:port]).
type bastionBlock struct {
	Name                  string  `hcl:"name,label"`
	Address               string  `hcl:"address"`
	User                  *string `hcl:"user,optional"`
	Port                  *int    `hcl:"port,optional"`
	IdentityFile          *string `hcl:"identity_file,optional"`
	KnownHosts            *string `hcl:"known_hosts,optional"`
	StrictHostKeyChecking *string `hcl:"strict_host_key_checking,optional"`

	DeclRange    hcl.Range `hcl:",def_range"`
	NameRange    hcl.Range `hcl:"name,label_range"`
	AddressRange hcl.Range `hcl:"address,attr_range"`
	UserRange    hcl.Range `hcl:"user,attr_range"`
	PortRange    hcl.Range `hcl:"port,attr_range"`
	StrictRange  hcl.Range `hcl:"strict_host_key_checking,attr_range"`
}

type latticeBlock struct {
	Name             string    `hcl:"name,label"`
	JSDomain         string    `hcl:"js_domain"`
	PreviousJSDomain *string   `hcl:"previous_js_domain,optional"`
	AliasOldDomain   *bool     `hcl:"alias_old_domain,optional"`
	RouteAuth        *bool     `hcl:"route_auth,optional"`
	TLS              *tlsBlock `hcl:"tls,block"`

	DeclRange     hcl.Range `hcl:",def_range"`
	NameRange     hcl.Range `hcl:"name,label_range"`
	JSDomainRange hcl.Range `hcl:"js_domain,attr_range"`
	PreviousRange hcl.Range `hcl:"previous_js_domain,attr_range"`
}

type secretsBlock struct {
	File *string           `hcl:"file,optional"`
	Env  map[string]string `hcl:"env,optional"`

	DeclRange hcl.Range `hcl:",def_range"`
	FileRange hcl.Range `hcl:"file,attr_range"`
	EnvRange  hcl.Range `hcl:"env,attr_range"`
}

type defaultsBlock struct {
	SSH            *sshBlock `hcl:"ssh,block"`
	ServiceManager *string   `hcl:"service_manager,optional"`
	Parallelism    *int      `hcl:"parallelism,optional"`

	DeclRange           hcl.Range `hcl:",def_range"`
	ServiceManagerRange hcl.Range `hcl:"service_manager,attr_range"`
	ParallelismRange    hcl.Range `hcl:"parallelism,attr_range"`
}

type sshBlock struct {
	User                  *string `hcl:"user,optional"`
	Port                  *int    `hcl:"port,optional"`
	IdentityFile          *string `hcl:"identity_file,optional"`
	KnownHosts            *string `hcl:"known_hosts,optional"`
	ProxyJump             *string `hcl:"proxy_jump,optional"`
	ConfigFile            *string `hcl:"config_file,optional"`
	Become                *bool   `hcl:"become,optional"`
	StrictHostKeyChecking *string `hcl:"strict_host_key_checking,optional"`

	Body      hcl.Body  `hcl:",body"`
	DeclRange hcl.Range `hcl:",def_range"`
}

type roleBlock struct {
	Name      string          `hcl:"name,label"`
	NATS      *natsBlock      `hcl:"nats,block"`
	Wasmcloud *wasmcloudBlock `hcl:"wasmcloud,block"`
	Rollout   *rolloutBlock   `hcl:"rollout,block"`

	DeclRange hcl.Range `hcl:",def_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
}

type hostBlock struct {
	Name      string            `hcl:"name,label"`
	Address   string            `hcl:"address"`
	Roles     []string          `hcl:"roles"`
	Labels    map[string]string `hcl:"labels,optional"`
	SSH       *sshBlock         `hcl:"ssh,block"`
	NATS      *natsBlock        `hcl:"nats,block"`
	Wasmcloud *wasmcloudBlock   `hcl:"wasmcloud,block"`
	// ServiceManager overrides the defaults' service_manager for this host.
	ServiceManager *string `hcl:"service_manager,optional"`

	DeclRange           hcl.Range `hcl:",def_range"`
	NameRange           hcl.Range `hcl:"name,label_range"`
	AddressRange        hcl.Range `hcl:"address,attr_range"`
	RolesRange          hcl.Range `hcl:"roles,attr_range"`
	LabelsRange         hcl.Range `hcl:"labels,attr_range"`
	ServiceManagerRange hcl.Range `hcl:"service_manager,attr_range"`

	// Generated hosts only (Group set): the instance that made this host, and the range of
	// the whole generating block, for diagnostics.
	Group    *hostsBlock
	Instance instance
	GenRange hcl.Range
}

// hostsBlock generates one host per element of for_each; the rest of its body is a host
// body evaluated with each.key and each.value.
type hostsBlock struct {
	Name    string         `hcl:"name,label"`
	ForEach hcl.Expression `hcl:"for_each"`
	Rest    hcl.Body       `hcl:",remain"`

	DeclRange hcl.Range `hcl:",def_range"`
	NameRange hcl.Range `hcl:"name,label_range"`
}

// generatedHost is the body of a hosts block, decoded once per instance. name defaults to
// each.key.
type generatedHost struct {
	Name      *string           `hcl:"name,optional"`
	Address   string            `hcl:"address"`
	Roles     []string          `hcl:"roles"`
	Labels    map[string]string `hcl:"labels,optional"`
	SSH       *sshBlock         `hcl:"ssh,block"`
	NATS      *natsBlock        `hcl:"nats,block"`
	Wasmcloud *wasmcloudBlock   `hcl:"wasmcloud,block"`
	// ServiceManager overrides the defaults' service_manager for the generated hosts.
	ServiceManager *string `hcl:"service_manager,optional"`

	NameRange           hcl.Range `hcl:"name,attr_range"`
	AddressRange        hcl.Range `hcl:"address,attr_range"`
	RolesRange          hcl.Range `hcl:"roles,attr_range"`
	LabelsRange         hcl.Range `hcl:"labels,attr_range"`
	ServiceManagerRange hcl.Range `hcl:"service_manager,attr_range"`
}

type natsBlock struct {
	ServerName          *string `hcl:"server_name,optional"`
	ClusterName         *string `hcl:"cluster_name,optional"`
	ClientHost          *string `hcl:"client_host,optional"`
	ClientPort          *int    `hcl:"client_port,optional"`
	HTTPHost            *string `hcl:"http_host,optional"`
	HTTPPort            *int    `hcl:"http_port,optional"`
	ClusterPort         *int    `hcl:"cluster_port,optional"`
	LeafnodePort        *int    `hcl:"leafnode_port,optional"`
	JetStreamDomain     *string `hcl:"jetstream_domain,optional"`
	StoreDir            *string `hcl:"store_dir,optional"`
	MaxFileStore        *string `hcl:"max_file_store,optional"`
	MaxMemoryStore      *string `hcl:"max_memory_store,optional"`
	LameDuckDuration    *string `hcl:"lame_duck_duration,optional"`
	LameDuckGracePeriod *string `hcl:"lame_duck_grace_period,optional"`
	Binary              *string `hcl:"binary,optional"`
	ConfigFile          *string `hcl:"config_file,optional"`
	LogFile             *string `hcl:"log_file,optional"`
	LeafCompression     *string `hcl:"leaf_compression,optional"`
	User                *string `hcl:"user,optional"`
	Upstream            *string `hcl:"upstream,optional"`
	// Version and Artifacts pin the nats-server release (artifact.go).
	Version   *string         `hcl:"version,optional"`
	Artifacts []artifactBlock `hcl:"artifact,block"`

	Body      hcl.Body  `hcl:",body"`
	DeclRange hcl.Range `hcl:",def_range"`
}

type wasmcloudBlock struct {
	Binary            *string           `hcl:"binary,optional"`
	EnvFile           *string           `hcl:"env_file,optional"`
	Labels            map[string]string `hcl:"labels,optional"`
	NATSHost          *string           `hcl:"nats_host,optional"`
	NATSPort          *int              `hcl:"nats_port,optional"`
	LogLevel          *string           `hcl:"log_level,optional"`
	HeartbeatInterval *int              `hcl:"heartbeat_interval,optional"`
	User              *string           `hcl:"user,optional"`
	// Version and Artifacts pin the wasmCloud host release (artifact.go).
	Version   *string         `hcl:"version,optional"`
	Artifacts []artifactBlock `hcl:"artifact,block"`

	Body      hcl.Body  `hcl:",body"`
	DeclRange hcl.Range `hcl:",def_range"`
}

type rolloutBlock struct {
	Batch          *string `hcl:"batch,optional"`
	MaxFailures    *int    `hcl:"max_failures,optional"`
	MaxUnreachable *int    `hcl:"max_unreachable,optional"`
	Settle         *string `hcl:"settle,optional"`
	GateTimeout    *string `hcl:"gate_timeout,optional"`
	SpreadBy       *string `hcl:"spread_by,optional"`

	DeclRange           hcl.Range `hcl:",def_range"`
	BatchRange          hcl.Range `hcl:"batch,attr_range"`
	MaxFailuresRange    hcl.Range `hcl:"max_failures,attr_range"`
	MaxUnreachableRange hcl.Range `hcl:"max_unreachable,attr_range"`
	SettleRange         hcl.Range `hcl:"settle,attr_range"`
	GateTimeoutRange    hcl.Range `hcl:"gate_timeout,attr_range"`
	SpreadByRange       hcl.Range `hcl:"spread_by,attr_range"`
}

// attrRange returns the range of the attribute name in body, and whether body sets it.
// body may be nil (the block is absent).
func attrRange(body hcl.Body, name string) (hcl.Range, bool) {
	switch b := body.(type) {
	case nil:
		return hcl.Range{}, false
	case *hclsyntax.Body:
		if a, ok := b.Attributes[name]; ok {
			return a.SrcRange, true
		}
		return hcl.Range{}, false
	default:
		attrs, _ := body.JustAttributes()
		if a, ok := attrs[name]; ok {
			return a.Range, true
		}
		return hcl.Range{}, false
	}
}
