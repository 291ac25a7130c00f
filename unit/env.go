package unit

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/latticepush/latticepush/inventory"
)

// labelKeyRE is what a label key may be: it becomes part of an environment variable name that
// both systemd and a POSIX shell accept. The key keeps its case (wasmCloud reads
// WASMCLOUD_LABEL_zone as label "zone").
var labelKeyRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// envFile renders the wasmCloud host's environment file. It is read by systemd
// (EnvironmentFile=) and by a POSIX shell (`set -a; . file` in the runit run script); every
// value is double-quoted with \ " $ ` escaped, which both read the same way (see envQuote).
func (r *Context) envFile(wc *inventory.Wasmcloud) (File, error) {
	seed, err := r.Secret(wc.HostSeed, inventory.HostSeedName(r.Host.Name))
	if err != nil {
		return File{}, err
	}
	vars := [][2]string{
		{"WASMCLOUD_LATTICE", r.Inv.Lattice.Name},
		{"WASMCLOUD_JS_DOMAIN", r.Inv.Lattice.JSDomain},
		{"WASMCLOUD_NATS_HOST", wc.NATSHost},
		{"WASMCLOUD_NATS_PORT", strconv.Itoa(wc.NATSPort)},
		{"WASMCLOUD_HOST_SEED", seed},
	}
	if wc.LogLevel != "" {
		vars = append(vars, [2]string{"WASMCLOUD_LOG_LEVEL", wc.LogLevel})
	}
	if wc.Heartbeat > 0 {
		vars = append(vars, [2]string{"WASMCLOUD_HEARTBEAT_INTERVAL", strconv.Itoa(wc.Heartbeat)})
	}
	keys := make([]string, 0, len(wc.Labels))
	for k := range wc.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !labelKeyRE.MatchString(k) {
			return File{}, fmt.Errorf("wasmCloud label %q: keys may hold only letters, digits and _ "+
				"(they become WASMCLOUD_LABEL_<key> variables)", k)
		}
		if strings.Contains(wc.Labels[k], "=") {
			return File{}, fmt.Errorf("wasmCloud label %q: the value may not contain \"=\" (wasmCloud rejects it)", k)
		}
		vars = append(vars, [2]string{"WASMCLOUD_LABEL_" + k, wc.Labels[k]})
	}
	if strings.Contains(wc.NATSHost, "://") {
		return File{}, fmt.Errorf("wasmCloud nats_host %q: a bare host name or address, without a scheme", wc.NATSHost)
	}

	var b strings.Builder
	b.WriteString(r.Header())
	for _, v := range vars {
		q, err := envQuote(v[0], v[1])
		if err != nil {
			return File{}, err
		}
		if v[0] == "WASMCLOUD_HOST_SEED" && !r.Opts.RevealSecrets {
			q = `"` + seed + `"` // the placeholder as is, for reading; never sourced
		}
		b.WriteString(v[0] + "=" + q + "\n")
	}
	return r.File(wc.EnvFile, FileEnv, ServiceWasmcloud, []byte(b.String()), 0o644), nil
}

// envQuote double-quotes v for an environment file. systemd's EnvironmentFile parser and a
// POSIX shell agree on double quotes: a backslash escapes exactly " \ ` $ and is kept before
// anything else. Control characters (newlines included) are refused: the two disagree on them.
func envQuote(name, v string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range v {
		switch {
		case c < 0x20 || c == 0x7f:
			return "", fmt.Errorf("%s: the value holds a control character", name)
		case c == '"' || c == '\\' || c == '`' || c == '$':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String(), nil
}
