package unit

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"
)

// A configChange is what changed between the config a nats-server runs and the one wanted,
// and whether a reload can apply it. nats-server refuses to reload, among others, server_name,
// listen hosts and ports, the JetStream domain, store_dir, lowered or newly explicit JetStream
// limits, the lame-duck settings and any field of an existing leaf remote but TLS.
type configChange struct {
	Keys      []string // dotted keys that differ, sorted
	NeedsStop []string // the subset that a reload cannot apply, each with a reason
}

// restartKeys are config keys a nats-server cannot take by reload. Matching is by prefix on
// the dotted, lower-cased key. Anything not listed here or in reloadableKeys needs a restart
// too: an unknown change is never assumed to be reloadable.
var restartKeys = []string{
	"server_name", "listen", "host", "net", "port", "client_advertise",
	"http", "http_port", "monitor_port", "https", "https_port", "http_base_path",
	"store_dir", "jetstream.domain", "jetstream.store_dir", "jetstream.store", "jetstream.storedir",
	"cluster.name", "cluster.listen", "cluster.host", "cluster.port",
	"leafnodes.listen", "leafnodes.host", "leafnodes.port", "leafnodes.authorization",
	"system_account", "system", "no_system_account",
	"lame_duck_duration", "lame_duck_grace_period", "pid_file",
	"allow_non_tls",
}

// reloadableKeys are config keys a reload applies.
var reloadableKeys = []string{
	"accounts", "authorization", "no_auth_user",
	"cluster.routes", "cluster.authorization", "cluster.pool_size", "cluster.compression",
	"debug", "trace", "logtime", "log_file", "log_size_limit", "max_payload",
	"max_connections", "max_subscriptions", "ping_interval", "ping_max", "write_deadline",
	"server_tags", "server_metadata",
	"tls", "cluster.tls", "leafnodes.tls", "leafnodes.compression",
}

// leafRemotesReloadableSince is the first nats-server minor whose reload adds and removes
// leaf remotes (2.14; before it a changed remotes list needs a restart).
const leafRemotesReloadableSince = 14

// diffNATSConfig compares two nats-server configs and classifies the change. version is the
// running server's version ("2.15.2"); it decides whether leaf remotes can be reloaded.
func diffNATSConfig(old, new []byte, version string) (configChange, error) {
	om, err := conf.Parse(string(old))
	if err != nil {
		return configChange{}, fmt.Errorf("parse current config: %w", err)
	}
	nm, err := conf.Parse(string(new))
	if err != nil {
		return configChange{}, fmt.Errorf("parse desired config: %w", err)
	}
	of, nf := map[string]string{}, map[string]string{}
	flatten("", om, of)
	flatten("", nm, nf)
	keys := map[string]bool{}
	for k, v := range of {
		if nf[k] != v {
			keys[k] = true
		}
	}
	for k, v := range nf {
		if of[k] != v {
			keys[k] = true
		}
	}
	var ch configChange
	for k := range keys {
		ch.Keys = append(ch.Keys, k)
	}
	sort.Strings(ch.Keys)
	for _, k := range ch.Keys {
		if reason := restartReason(k, of, nf, version); reason != "" && !slices.Contains(ch.NeedsStop, reason) {
			ch.NeedsStop = append(ch.NeedsStop, reason)
		}
	}
	return ch, nil
}

// restartReason says why changing key needs a restart, or "" when a reload applies it.
func restartReason(key string, old, new map[string]string, version string) string {
	switch key {
	case "jetstream.max_memory_store", "jetstream.max_mem_store", "jetstream.max_mem",
		"jetstream.max_file_store", "jetstream.max_file":
		o, okO := parseSize(old[key])
		n, okN := parseSize(new[key])
		if okO && okN && n >= o {
			return "" // raising an explicit limit reloads
		}
		return key + " (lowered, or moved between dynamic and explicit: not reloadable)"
	}
	if reason := tlsToggled(key, old, new); reason != "" {
		return reason
	}
	if hasKeyPrefix(key, "leafnodes.remotes") {
		if minorOf(version) >= leafRemotesReloadableSince {
			return ""
		}
		return key + " (leaf remotes reload only on nats-server 2.14+; running " + orUnknown(version) + ")"
	}
	for _, p := range restartKeys {
		if hasKeyPrefix(key, p) {
			return key + " (not reloadable)"
		}
	}
	for _, p := range reloadableKeys {
		if hasKeyPrefix(key, p) {
			return ""
		}
	}
	return key + " (not known to be reloadable)"
}

func hasKeyPrefix(key, prefix string) bool {
	return key == prefix || strings.HasPrefix(key, prefix+".")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown version"
	}
	return s
}

// minorOf returns the minor version of "2.15.2" (15), or 0 when unknown.
func minorOf(version string) int {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	parts := strings.Split(v, ".")
	if len(parts) < 2 || parts[0] != "2" {
		return 0
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0
	}
	return n
}

// flatten writes every leaf value of m into out under its dotted, lower-cased key. Arrays are
// leaves: a changed route list is one changed key. Values are JSON, so types compare too.
func flatten(prefix string, m map[string]any, out map[string]string) {
	for k, v := range m {
		key := strings.ToLower(k)
		if prefix != "" {
			key = prefix + "." + key
		}
		if sub, ok := v.(map[string]any); ok {
			if len(sub) == 0 {
				out[key] = "{}"
			}
			flatten(key, sub, out)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		out[key] = string(b)
	}
}

// parseSize reads a NATS size as flatten stored it: a JSON number of bytes, or a string like
// "20GB" / "256MB" / "1G". It reports false for anything else, including an absent value.
func parseSize(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	var str string
	if err := json.Unmarshal([]byte(s), &str); err != nil {
		return 0, false
	}
	str = strings.ToUpper(strings.TrimSpace(str))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(str, u.suffix) {
			str = strings.TrimSuffix(str, u.suffix)
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(str), 10, 64)
	if err != nil {
		return 0, false
	}
	return n * mult, true
}
