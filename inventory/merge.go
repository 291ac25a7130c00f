package inventory

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// Defaults applied before the role and host blocks. They are part of the documented schema
// (README, "Inventory reference"): change them only with the docs.
const (
	DefaultClientPort      = 4222
	DefaultClusterPort     = 6222
	DefaultLeafnodePort    = 7422
	DefaultHTTPPort        = 8222
	DefaultStoreDir        = "/var/lib/nats"
	DefaultNATSBinary      = "/usr/local/bin/nats-server"
	DefaultNATSConfigFile  = "/etc/nats/nats-server.conf"
	DefaultLameDuck        = "30s"
	DefaultLameDuckGrace   = "10s"
	DefaultWasmcloudBinary = "/usr/local/bin/wasmcloud"
	DefaultWasmcloudEnv    = "/etc/wasmcloud/wasmcloud.env"
	DefaultParallelism     = 32
	DefaultSecretsFile     = "secrets.json"
)

// decoded is one inventory file as gohcl decoded it, kept next to the resolved Inventory so
// validation can point at the attribute that set a merged value.
type decoded struct {
	fs    *fileSchema
	roles map[string]*roleBlock // the first block of each known role
	hosts map[*Host]*hostBlock
	diags hcl.Diagnostics // problems found while resolving (duplicate or unknown roles)
	// unknownRoles marks hosts that list a role that does not exist, so validation does not
	// pile consequences onto the "Unknown role" error.
	unknownRoles map[*hostBlock]bool
}

func newDecoded(fs *fileSchema) *decoded {
	return &decoded{
		fs:           fs,
		roles:        map[string]*roleBlock{},
		hosts:        map[*Host]*hostBlock{},
		unknownRoles: map[*hostBlock]bool{},
	}
}

var knownRoles = []string{RoleHub, RoleLeaf, RoleRelay, RoleWasmcloud}

// resolve merges defaults -> role -> host into an Inventory. It never fails: what it cannot
// make sense of is left for the diagnostics it records and for validate.
func (d *decoded) resolve(filename, dir, digest string) *Inventory {
	fs := d.fs
	inv := &Inventory{
		Filename: filename,
		Dir:      dir,
		Digest:   digest,
		Lattice: Lattice{
			Name:             fs.Lattice.Name,
			JSDomain:         fs.Lattice.JSDomain,
			PreviousJSDomain: deref(fs.Lattice.PreviousJSDomain, ""),
			AliasOldDomain:   deref(fs.Lattice.AliasOldDomain, true),
			RouteAuth:        deref(fs.Lattice.RouteAuth, true),
			DeclRange:        fs.Lattice.DeclRange,
			JSDomainRange:    fs.Lattice.JSDomainRange,
		},
		Roles: map[string]*Role{},
	}

	secretsFile := DefaultSecretsFile
	if fs.Secrets != nil && fs.Secrets.File != nil {
		secretsFile = *fs.Secrets.File
	}
	if !filepath.IsAbs(secretsFile) {
		secretsFile = filepath.Join(dir, secretsFile)
	}
	inv.Auth.SecretsFile = secretsFile
	if fs.Secrets != nil && fs.Secrets.Env != nil {
		inv.Auth.SecretsEnv = map[string]string{}
		for k, v := range fs.Secrets.Env {
			if name, old := oldPasswordNames[k]; old {
				if _, both := fs.Secrets.Env[name]; both {
					continue // validate reports the pair
				}
				k = name
			}
			inv.Auth.SecretsEnv[k] = v
		}
	}

	for i := range fs.Roles {
		rb := &fs.Roles[i]
		if !slices.Contains(knownRoles, rb.Name) {
			d.diags = append(d.diags, unknownRole(rb.Name, rb.NameRange))
			continue
		}
		if prev, dup := d.roles[rb.Name]; dup {
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate role block",
				Detail: fmt.Sprintf("Role %q is already declared at %s. Merge the two blocks into one.",
					rb.Name, pos(prev.DeclRange)),
				Subject: rb.NameRange.Ptr(),
			})
			continue
		}
		d.roles[rb.Name] = rb
		inv.Roles[rb.Name] = &Role{Name: rb.Name, DeclRange: rb.DeclRange}
	}

	for i := range fs.Hosts {
		hb := &fs.Hosts[i]
		h := d.resolveHost(hb)
		d.hosts[h] = hb
		inv.Hosts = append(inv.Hosts, h)
	}
	sort.SliceStable(inv.Hosts, func(i, j int) bool { return inv.Hosts[i].Name < inv.Hosts[j].Name })

	for i := range fs.Bastions {
		bb := &fs.Bastions[i]
		b := &Bastion{Name: bb.Name, Address: bb.Address, SSH: SSH{StrictHostKeyChecking: "yes"}, DeclRange: bb.DeclRange}
		if fs.Defaults != nil {
			applySSH(&b.SSH, fs.Defaults.SSH)
		}
		applySSH(&b.SSH, &sshBlock{User: bb.User, Port: bb.Port, IdentityFile: bb.IdentityFile, KnownHosts: bb.KnownHosts,
			StrictHostKeyChecking: bb.StrictHostKeyChecking})
		b.SSH.ProxyJump, b.SSH.Become = "", false
		inv.Bastions = append(inv.Bastions, b)
	}
	sort.SliceStable(inv.Bastions, func(i, j int) bool { return inv.Bastions[i].Name < inv.Bastions[j].Name })
	inv.UpstreamSystem = resolveUpstreamSystem(fs.Upstream)
	return inv
}

func (d *decoded) resolveHost(hb *hostBlock) *Host {
	def := d.fs.Defaults
	if def == nil {
		def = &defaultsBlock{}
	}
	h := &Host{
		Name:           hb.Name,
		Address:        hb.Address,
		Labels:         hb.Labels,
		ServiceManager: deref(def.ServiceManager, ServiceManagerSystemd),
		Parallelism:    deref(def.Parallelism, DefaultParallelism),
		Rollout:        map[string]Rollout{},
		DeclRange:      hb.DeclRange,
		AddressRange:   hb.AddressRange,
		RolesRange:     hb.RolesRange,
		Instance:       hb.Instance.String(),
	}
	set(&h.ServiceManager, hb.ServiceManager)
	if hb.Group != nil {
		h.Group = hb.Group.Name
	}
	if h.Labels == nil {
		h.Labels = map[string]string{}
	}
	for _, r := range hb.Roles {
		if !slices.Contains(knownRoles, r) {
			d.diags = append(d.diags, unknownRole(r, hb.RolesRange))
			d.unknownRoles[hb] = true
			continue
		}
		if !slices.Contains(h.Roles, r) {
			h.Roles = append(h.Roles, r)
		}
	}
	sort.Strings(h.Roles)

	h.SSH = SSH{StrictHostKeyChecking: "yes"}
	applySSH(&h.SSH, def.SSH)
	applySSH(&h.SSH, hb.SSH)

	// A host that is both hub and leaf is an error (validate); it is resolved as a hub.
	switch {
	case h.HasRole(RoleHub):
		h.Hub = d.resolveNATS(hb, RoleHub)
	case h.HasRole(RoleRelay):
		h.Leaf = d.resolveNATS(hb, RoleRelay)
	case h.HasRole(RoleLeaf):
		h.Leaf = d.resolveNATS(hb, RoleLeaf)
	}
	if h.HasRole(RoleWasmcloud) {
		h.Wasmcloud = d.resolveWasmcloud(hb, h)
	}
	for _, r := range h.Roles {
		ro := Rollout{Batch: "1"}
		if rb := d.roles[r]; rb != nil && rb.Rollout != nil {
			b := rb.Rollout
			ro.Batch = deref(b.Batch, ro.Batch)
			ro.MaxFailures = deref(b.MaxFailures, 0)
			ro.MaxUnreachable = deref(b.MaxUnreachable, 0)
			ro.Settle = parseSettle(b.Settle)
			ro.GateTimeout = parseSettle(b.GateTimeout)
			ro.SpreadBy = deref(b.SpreadBy, "")
			ro.DeclRange = b.DeclRange
		}
		h.Rollout[r] = ro
	}
	return h
}

func (d *decoded) resolveNATS(hb *hostBlock, role string) *NATS {
	n := &NATS{
		ServerName:          hb.Name,
		ClusterName:         d.fs.Lattice.Name,
		ClientHost:          "127.0.0.1",
		ClientPort:          DefaultClientPort,
		HTTPHost:            "127.0.0.1",
		HTTPPort:            DefaultHTTPPort,
		StoreDir:            DefaultStoreDir,
		LameDuckDuration:    DefaultLameDuck,
		LameDuckGracePeriod: DefaultLameDuckGrace,
		Binary:              DefaultNATSBinary,
		ConfigFile:          DefaultNATSConfigFile,
		DeclRange:           hb.DeclRange,
	}
	if role == RoleHub {
		n.ClientHost = "0.0.0.0"
		n.ClusterPort = DefaultClusterPort
		n.LeafnodePort = DefaultLeafnodePort
	}
	if role == RoleRelay {
		n.LeafnodePort = DefaultLeafnodePort
		n.ClusterName = "" // a relay joins a relay cluster only when cluster_name says so
	}
	if rb := d.roles[role]; rb != nil && rb.NATS != nil {
		applyNATS(n, rb.NATS)
	}
	applyNATS(n, hb.NATS)
	if role == RoleHub {
		// Hubs serve the lattice's domain (Lattice.JSDomain); validate rejects an own one.
		n.JetStreamDomain = ""
	} else if role == RoleRelay {
		if n.ClusterName != "" && n.ClusterPort == 0 {
			n.ClusterPort = DefaultClusterPort
		} else if n.ClusterName == "" {
			n.ClusterPort = 0
		}
	} else {
		n.ClusterName, n.ClusterPort, n.LeafnodePort = "", 0, 0
	}
	return n
}

func applyNATS(n *NATS, b *natsBlock) {
	if b == nil {
		return
	}
	set(&n.ServerName, b.ServerName)
	set(&n.ClusterName, b.ClusterName)
	set(&n.ClientHost, b.ClientHost)
	set(&n.ClientPort, b.ClientPort)
	set(&n.HTTPHost, b.HTTPHost)
	set(&n.HTTPPort, b.HTTPPort)
	set(&n.ClusterPort, b.ClusterPort)
	set(&n.LeafnodePort, b.LeafnodePort)
	set(&n.JetStreamDomain, b.JetStreamDomain)
	set(&n.StoreDir, b.StoreDir)
	set(&n.MaxFileStore, b.MaxFileStore)
	set(&n.MaxMemoryStore, b.MaxMemoryStore)
	set(&n.LameDuckDuration, b.LameDuckDuration)
	set(&n.LameDuckGracePeriod, b.LameDuckGracePeriod)
	set(&n.Binary, b.Binary)
	set(&n.ConfigFile, b.ConfigFile)
	set(&n.LogFile, b.LogFile)
	set(&n.LeafCompression, b.LeafCompression)
	set(&n.User, b.User)
	applyInstall(n, b)
	set(&n.Upstream, b.Upstream)
	n.DeclRange = b.DeclRange
	if r, ok := attrRange(b.Body, "upstream"); ok {
		n.UpstreamRange = r
	}
	if r, ok := attrRange(b.Body, "jetstream_domain"); ok {
		n.DomainRange = r
	}
}

func (d *decoded) resolveWasmcloud(hb *hostBlock, h *Host) *Wasmcloud {
	w := &Wasmcloud{
		Binary:    DefaultWasmcloudBinary,
		EnvFile:   DefaultWasmcloudEnv,
		Labels:    map[string]string{},
		NATSHost:  "127.0.0.1",
		NATSPort:  DefaultClientPort,
		DeclRange: hb.DeclRange,
	}
	if n := h.NATS(); n != nil {
		w.NATSPort = n.ClientPort
	}
	if rb := d.roles[RoleWasmcloud]; rb != nil {
		applyWasmcloud(w, rb.Wasmcloud)
	}
	applyWasmcloud(w, hb.Wasmcloud)
	for k, v := range hb.Labels {
		w.Labels[k] = v
	}
	return w
}

func applyWasmcloud(w *Wasmcloud, b *wasmcloudBlock) {
	if b == nil {
		return
	}
	set(&w.Binary, b.Binary)
	set(&w.EnvFile, b.EnvFile)
	set(&w.NATSHost, b.NATSHost)
	set(&w.NATSPort, b.NATSPort)
	set(&w.LogLevel, b.LogLevel)
	set(&w.Heartbeat, b.HeartbeatInterval)
	set(&w.User, b.User)
	applyWasmcloudInstall(w, b)
	for k, v := range b.Labels {
		w.Labels[k] = v
	}
	w.DeclRange = b.DeclRange
}

func applySSH(s *SSH, b *sshBlock) {
	if b == nil {
		return
	}
	set(&s.User, b.User)
	set(&s.Port, b.Port)
	set(&s.IdentityFile, b.IdentityFile)
	set(&s.KnownHosts, b.KnownHosts)
	set(&s.ProxyJump, b.ProxyJump)
	set(&s.ConfigFile, b.ConfigFile)
	set(&s.Become, b.Become)
	set(&s.StrictHostKeyChecking, b.StrictHostKeyChecking)
}

// set overwrites *dst with *v when the inventory sets v.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func deref[T any](v *T, def T) T {
	if v == nil {
		return def
	}
	return *v
}

func unknownRole(name string, subject hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unknown role",
		Detail: fmt.Sprintf("There is no role %q.%s Roles are %q, %q, %q and %q.",
			name, didYouMean(name, knownRoles), RoleHub, RoleLeaf, RoleRelay, RoleWasmcloud),
		Subject: subject.Ptr(),
	}
}
