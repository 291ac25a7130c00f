package inventory

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var (
	// sizeRE is a storage size nats-server's config parser reads: digits and an optional
	// K/KB/KI/KIB… suffix up to E (conf/parse.go), case-insensitive.
	sizeRE     = regexp.MustCompile(`(?i)^[0-9]+([kmgtpe](b|i|ib)?)?$`)
	batchRE    = regexp.MustCompile(`^([1-9][0-9]{0,5}|([1-9][0-9]?|100)%)$`)
	labelKeyRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

var logLevels = []string{"trace", "debug", "info", "warn", "error", "critical"}

// origin is where a merged setting comes from: the first of bodies that sets it, else host h's
// name label (the value is a default).
func (v *validator) origin(h *Host, name string, bodies ...hcl.Body) hcl.Range {
	for _, b := range bodies {
		if r, ok := attrRange(b, name); ok {
			return r
		}
	}
	return v.d.hosts[h].NameRange
}

// values checks the syntax and range of single settings. A setting written once in a role or
// in defaults is reported once, not once per host.
func (v *validator) values() {
	defer v.on(nil)
	v.on(nil)
	fs := v.d.fs
	if def := fs.Defaults; def != nil {
		v.serviceManager(def.ServiceManager, def.ServiceManagerRange)
		if def.Parallelism != nil && *def.Parallelism < 1 {
			v.errorf(def.ParallelismRange, "Invalid parallelism", "parallelism %d must be at least 1.", *def.Parallelism)
		}
	}
	if s := fs.Secrets; s != nil {
		keys := make([]string, 0, len(s.Env))
		for k := range s.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if name, old := oldPasswordNames[k]; old {
				if _, both := s.Env[name]; both {
					v.errorf(s.EnvRange, "Secret named twice in env",
						"%q and %q name the same secret. Keep %q, the secret's key in the secrets file, and remove %q.", k, name, name, k)
				} else {
					v.warnf(s.EnvRange, "Old secret name in env",
						"%q is now written %q, the secret's key in the secrets file, the name every message uses: env = { %q = %q }.", k, name, name, s.Env[k])
				}
			} else if !slices.Contains(passwordNames(), k) {
				v.errorf(s.EnvRange, "Unknown secret in env",
					"There is no secret %q.%s The environment can supply %s (the keys of the secrets file).", k, secretSuggestion(k), strings.Join(passwordNames(), ", "))
			}
			if !envNameRE.MatchString(s.Env[k]) {
				v.errorf(s.EnvRange, "Invalid environment variable name",
					"%q (for %s) is not a valid environment variable name: use letters, digits and '_', not starting with a digit.", s.Env[k], k)
			}
		}
	}
	for name, rb := range v.d.roles {
		if ro := rb.Rollout; ro != nil {
			if ro.Batch != nil && !batchRE.MatchString(*ro.Batch) {
				v.errorf(ro.BatchRange, "Invalid rollout batch",
					"batch %q in role %q must be a number of hosts (2) or a percentage of the role's hosts (\"25%%\", 1-100).", *ro.Batch, name)
			}
			if ro.MaxFailures != nil && *ro.MaxFailures < 0 {
				v.errorf(ro.MaxFailuresRange, "Invalid max_failures", "max_failures must be 0 or more.")
			}
			if ro.MaxUnreachable != nil && *ro.MaxUnreachable < 0 {
				v.errorf(ro.MaxUnreachableRange, "Invalid max_unreachable", "max_unreachable must be 0 or more.")
			}
			v.rolloutDurations(name, ro)
			v.spreadBy(name, ro)
		}
		if rb.Wasmcloud != nil {
			v.labels(rb.Wasmcloud.Labels, v.wasmLabelsRange(rb.Wasmcloud))
		}
	}
	for _, h := range v.inv.Hosts {
		hb := v.d.hosts[h]
		v.on(h)
		v.hostValues(h, hb)
		if n := h.NATS(); n != nil {
			v.natsValues(h, n)
		}
		if h.Wasmcloud != nil {
			v.wasmcloudValues(h, h.Wasmcloud)
		}
		v.labels(hb.Labels, hb.LabelsRange)
		if hb.Wasmcloud != nil {
			v.labels(hb.Wasmcloud.Labels, v.wasmLabelsRange(hb.Wasmcloud))
		}
	}
}

func (v *validator) wasmLabelsRange(b *wasmcloudBlock) hcl.Range {
	if r, ok := attrRange(b.Body, "labels"); ok {
		return r
	}
	return b.DeclRange
}

// serviceManager checks a service_manager setting (sm, nil when unset) written at r.
func (v *validator) serviceManager(sm *string, r hcl.Range) {
	if sm != nil && *sm != ServiceManagerSystemd && *sm != ServiceManagerRunit {
		v.errorf(r, "Unknown service manager",
			"service_manager %q is not supported.%s Use %q or %q.", *sm,
			didYouMean(*sm, []string{ServiceManagerSystemd, ServiceManagerRunit}), ServiceManagerSystemd, ServiceManagerRunit)
	}
}

func (v *validator) hostValues(h *Host, hb *hostBlock) {
	v.serviceManager(hb.ServiceManager, hb.ServiceManagerRange)
	if hb.AddressRange != (hcl.Range{}) && (h.Address == "" || strings.ContainsFunc(h.Address, isSpace) || strings.Contains(h.Address, "://")) {
		v.errorf(hb.AddressRange, "Invalid address",
			"address %q must be a host name or IP address that SSH reaches, without spaces or a scheme.", h.Address)
	}
	var sshBodies []hcl.Body
	if hb.SSH != nil {
		sshBodies = append(sshBodies, hb.SSH.Body)
	}
	if def := v.d.fs.Defaults; def != nil && def.SSH != nil {
		sshBodies = append(sshBodies, def.SSH.Body)
	}
	if h.SSH.Port < 0 || h.SSH.Port > 65535 {
		v.errorf(v.origin(h, "port", sshBodies...), "Port out of range", "ssh port %d must be between 1 and 65535 (or omitted).", h.SSH.Port)
	}
	if s := h.SSH.StrictHostKeyChecking; s != "yes" && s != "accept-new" {
		v.errorf(v.origin(h, "strict_host_key_checking", sshBodies...), "Invalid strict_host_key_checking",
			"strict_host_key_checking %q must be \"yes\" (the host key must already be in known_hosts) or \"accept-new\" (trust a host's key on first contact).", s)
	}
	if strings.ContainsFunc(h.SSH.User, isSpace) {
		v.errorf(v.origin(h, "user", sshBodies...), "Invalid SSH user", "SSH user %q must not contain spaces.", h.SSH.User)
	}
}

func (v *validator) natsValues(h *Host, n *NATS) {
	hb := v.d.hosts[h]
	var bodies []hcl.Body
	if hb.NATS != nil {
		bodies = append(bodies, hb.NATS.Body)
	}
	if rb := v.d.roles[natsRole(h)]; rb != nil && rb.NATS != nil {
		bodies = append(bodies, rb.NATS.Body)
	}
	at := func(name string) hcl.Range { return v.origin(h, name, bodies...) }

	if h.Hub != nil && (n.ClusterName == "" || strings.ContainsFunc(n.ClusterName, isSpace)) {
		v.errorf(at("cluster_name"), "Invalid cluster_name", "cluster_name %q must be non-empty and without spaces.", n.ClusterName)
	}
	for _, s := range []struct{ attr, val string }{{"client_host", n.ClientHost}, {"http_host", n.HTTPHost}} {
		if s.val == "" || strings.ContainsFunc(s.val, isSpace) || strings.Contains(s.val, "://") {
			v.errorf(at(s.attr), "Invalid listen host", "%s %q must be an IP address or host name, e.g. \"0.0.0.0\" or \"127.0.0.1\".", s.attr, s.val)
		}
	}
	for _, s := range []struct{ attr, val string }{{"max_file_store", n.MaxFileStore}, {"max_memory_store", n.MaxMemoryStore}} {
		if s.val != "" && !sizeRE.MatchString(s.val) {
			v.errorf(at(s.attr), "Invalid size",
				"%s %q is not a size nats-server reads: write digits with an optional unit, e.g. \"20GB\", \"512MB\" or \"1T\" (no spaces, no decimals).", s.attr, s.val)
		}
	}
	for _, s := range []struct{ attr, val string }{{"store_dir", n.StoreDir}, {"log_file", n.LogFile}} {
		if s.val != "" && !path.IsAbs(s.val) {
			v.errorf(at(s.attr), "Relative path", "%s %q is a path on the host and must be absolute.", s.attr, s.val)
		}
	}
	v.servicePaths(at, "binary", n.Binary, "config_file", n.ConfigFile)
	v.serviceUser(at("user"), n.User, "nats")
	if n.User != "" {
		// The store directory and log file are handed to the user by the service definition.
		if n.StoreDir != "" && (h.Hub != nil || n.JetStreamDomain != "") {
			v.servicePaths(at, "store_dir", n.StoreDir)
		}
		if n.LogFile != "" {
			v.servicePaths(at, "log_file", n.LogFile)
		}
	}
	if n.StoreDir == "" && (h.Hub != nil || n.JetStreamDomain != "") {
		v.errorf(at("store_dir"), "Empty store_dir",
			"store_dir is empty, but this server runs JetStream and keeps its streams there. Remove store_dir to use %s, or set an absolute path.", DefaultStoreDir)
	}
	if h.Hub != nil {
		v.hubLimits(h, n)
	}
	v.lameDuck(n, at("lame_duck_duration"), at("lame_duck_grace_period"))
	if c := n.LeafCompression; c != "" && !slices.Contains(LeafCompressionModes, c) {
		v.errorf(at("leaf_compression"), "Invalid leaf_compression",
			"leaf_compression %q is not a compression mode of nats-server.%s Use one of %s: \"off\" where links gain nothing from it (hosts of one site), \"s2_fast\" or \"s2_auto\" (raises the level as the link's round-trip time grows) over slow links.",
			c, didYouMean(c, LeafCompressionModes), strings.Join(LeafCompressionModes, ", "))
	}
}

// serviceUserRE is a system user name useradd accepts on every distribution (and that
// systemd's User= and runit's chpst -u take as is).
var serviceUserRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,30}$`)

// serviceUser checks the user a service runs as: "" is root (the default); root itself is
// refused, so that the setting always means a user of the service's own.
func (v *validator) serviceUser(at hcl.Range, user, example string) {
	switch {
	case user == "":
	case user == "root":
		v.errorf(at, "Service user is root",
			"user = \"root\" is what a service runs as without the setting: remove user to run it as root, or name a user of its own, e.g. %q (created on the host if missing).", example)
	case !serviceUserRE.MatchString(user):
		v.errorf(at, "Invalid user",
			"user %q is not a system user name: use a lower-case letter or '_' followed by up to 30 lower-case letters, digits, '_' or '-', e.g. %q.", user, example)
	}
}

// servicePathRE is what a path written into a service definition (systemd unit, runit run
// script) may look like: absolute, with no character systemd or sh would interpret.
var servicePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@-]+$`)

// servicePaths checks paths the service definition names (attr, value pairs): the renderer
// refuses any other.
func (v *validator) servicePaths(at func(string) hcl.Range, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		attr, val := pairs[i], pairs[i+1]
		switch {
		case val != "" && !path.IsAbs(val):
			v.errorf(at(attr), "Relative path", "%s %q is a path on the host and must be absolute.", attr, val)
		case !servicePathRE.MatchString(val):
			v.errorf(at(attr), "Unsafe path",
				"%s %q is written into the service definition, where systemd and sh would interpret spaces, quotes, '%%', '$' and the like: use an absolute path of letters, digits and . _ / + @ - only.", attr, val)
		}
	}
}

// hubLimits requires both JetStream limits on a hub: without them nats-server sizes JetStream
// from the free disk and memory it finds at start, and no reload can later make such a
// dynamic limit explicit or lower it.
func (v *validator) hubLimits(h *Host, n *NATS) {
	var missing []string
	if n.MaxFileStore == "" {
		missing = append(missing, "max_file_store")
	}
	if n.MaxMemoryStore == "" {
		missing = append(missing, "max_memory_store")
	}
	if len(missing) == 0 {
		return
	}
	subject, where := v.d.hosts[h].NameRange, fmt.Sprintf("host %s's nats block, or to role \"hub\" { nats { ... } } for every hub", h.Name)
	if rb := v.d.roles[RoleHub]; rb != nil {
		subject, where = rb.DeclRange, "role \"hub\" in a nats block"
		if rb.NATS != nil {
			subject, where = rb.NATS.DeclRange, "role \"hub\"'s nats block"
		}
	}
	verb, them := "is", "it"
	if len(missing) > 1 {
		verb, them = "are", "them"
	}
	v.errorf(subject, "Hub without JetStream limits",
		"Hubs need explicit JetStream limits: %s %s not set. Without explicit limits nats-server sizes JetStream from the disk and memory free when it starts, and no reload can later make such a limit explicit or lower it. Add %s to %s, sized for the machines, e.g. max_file_store = \"20GB\" and max_memory_store = \"1GB\".",
		strings.Join(missing, " and "), verb, them, where)
}

// lameDuck applies nats-server's rules: the duration is at least 30s, and the grace period is
// not negative and shorter than the duration (else the server would close every client at once).
func (v *validator) lameDuck(n *NATS, durAt, graceAt hcl.Range) {
	dur, err := time.ParseDuration(n.LameDuckDuration)
	if err != nil {
		v.errorf(durAt, "Invalid duration", "lame_duck_duration %q is not a duration: write e.g. \"30s\" or \"2m\".", n.LameDuckDuration)
	} else if dur < 30*time.Second {
		v.errorf(durAt, "Lame duck duration too short", "lame_duck_duration %q is below nats-server's minimum of 30s, which makes it refuse to start. Use \"30s\" or more.", n.LameDuckDuration)
	}
	durOK := err == nil && dur >= 30*time.Second
	grace, gerr := time.ParseDuration(n.LameDuckGracePeriod)
	switch {
	case gerr != nil:
		v.errorf(graceAt, "Invalid duration", "lame_duck_grace_period %q is not a duration: write e.g. \"10s\".", n.LameDuckGracePeriod)
	case grace <= 0:
		v.errorf(graceAt, "Invalid duration", "lame_duck_grace_period %q must be more than 0: nats-server reads 0 as its default of 10s. Write e.g. \"10s\".", n.LameDuckGracePeriod)
	case durOK && grace >= dur:
		v.errorf(graceAt, "Lame duck grace period too long",
			"lame_duck_grace_period %q must be shorter than lame_duck_duration %q: clients are closed over the time between the two.", n.LameDuckGracePeriod, n.LameDuckDuration)
	}
}

func (v *validator) wasmcloudValues(h *Host, w *Wasmcloud) {
	hb := v.d.hosts[h]
	var bodies []hcl.Body
	if hb.Wasmcloud != nil {
		bodies = append(bodies, hb.Wasmcloud.Body)
	}
	if rb := v.d.roles[RoleWasmcloud]; rb != nil && rb.Wasmcloud != nil {
		bodies = append(bodies, rb.Wasmcloud.Body)
	}
	at := func(name string) hcl.Range { return v.origin(h, name, bodies...) }

	if w.NATSHost == "" || strings.ContainsFunc(w.NATSHost, isSpace) || strings.ContainsFunc(w.NATSHost, isControl) || strings.Contains(w.NATSHost, "://") {
		v.errorf(at("nats_host"), "Invalid nats_host",
			"nats_host %q must be a bare host name or IP address, without spaces, control characters or a scheme: WASMCLOUD_NATS_HOST takes no nats://.", w.NATSHost)
	}
	if w.NATSPort < 1 || w.NATSPort > 65535 {
		v.errorf(at("nats_port"), "Port out of range", "nats_port %d must be between 1 and 65535.", w.NATSPort)
	}
	if w.LogLevel != "" && !slices.Contains(logLevels, w.LogLevel) {
		v.errorf(at("log_level"), "Unknown log level", "log_level %q is not one of %s.%s",
			w.LogLevel, strings.Join(logLevels, ", "), didYouMean(w.LogLevel, logLevels))
	}
	if w.Heartbeat < 0 {
		v.errorf(at("heartbeat_interval"), "Invalid heartbeat_interval", "heartbeat_interval %d must be a number of seconds, 0 or more.", w.Heartbeat)
	}
	v.servicePaths(at, "binary", w.Binary, "env_file", w.EnvFile)
	v.serviceUser(at("user"), w.User, "wasmcloud")
}

// labels checks wasmCloud host labels: each becomes WASMCLOUD_LABEL_<key>=<value>.
func (v *validator) labels(labels map[string]string, subject hcl.Range) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !labelKeyRE.MatchString(k) {
			v.errorf(subject, "Invalid label key",
				"Label key %q becomes the environment variable WASMCLOUD_LABEL_%s: use only letters, digits and '_'.", k, k)
		}
		if val := labels[k]; strings.Contains(val, "=") || strings.ContainsFunc(val, isControl) {
			v.errorf(subject, "Invalid label value",
				"The value of label %q contains '=' or a control character such as a tab or line break, which the wasmCloud host's environment file cannot carry. Remove them.", k)
		}
	}
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// secretSuggestion is didYouMean for a secret's name, also for a misspelt old name.
func secretSuggestion(k string) string {
	if s := didYouMean(k, passwordNames()); s != "" {
		return s
	}
	for _, old := range keysOf(oldPasswordNames) {
		if didYouMean(k, []string{old}) != "" {
			return fmt.Sprintf(" Did you mean %q?", oldPasswordNames[old])
		}
	}
	return ""
}
