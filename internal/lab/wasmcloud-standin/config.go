package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/latticepush/latticepush/wasmcloud"
)

// version is the wasmCloud release whose behaviour the stand-in reproduces; it is reported in
// ping replies, inventories, host.get and host_started like the real host's version, and by
// --version. A variable, so that a build can report another release (go build -ldflags
// "-X main.version=1.9.3"), as the lab's upgrade tests need.
var version = "1.9.2"

// labelEnvPrefix starts every label variable; the rest of the name is the key, case preserved.
const labelEnvPrefix = "WASMCLOUD_LABEL_"

var errHelpShown = errors.New("help shown")

// config is the stand-in's resolved configuration. hostSeed is a secret: never log it.
type config struct {
	lattice   string
	natsHost  string
	natsPort  int
	jsDomain  string // "" = no domain: JetStream of the server the host connects to
	hostSeed  string // "" = random host id
	labels    map[string]string
	heartbeat time.Duration
	logLevel  level
	warnings  []string // reported once the logger exists
}

// natsURL is the address the host connects to, built exactly as the real host does.
func (c config) natsURL() string { return fmt.Sprintf("nats://%s:%d", c.natsHost, c.natsPort) }

const usageHeader = `wasmcloud (latticepush stand-in %s) — a TEST DOUBLE of the wasmCloud 1.x host

This is not wasmCloud. It speaks the wasmCloud 1.x control interface (ping, host.get,
host.stop, host_started / host_stopped / host_heartbeat events), gets or creates the
LATTICEDATA_<lattice> and CONFIGDATA_<lattice> buckets like the real host, and runs no
components or providers. It exists for latticepush's lab and tests.

Usage: wasmcloud [flags]     (each flag has an environment variable; the flag wins)

  -x, --lattice NAME                 WASMCLOUD_LATTICE             [A-Za-z0-9_-]+ ("default")
      --nats-host HOST               WASMCLOUD_NATS_HOST           bare host name or IP, no scheme (127.0.0.1)
      --nats-port PORT               WASMCLOUD_NATS_PORT           (4222)
      --js-domain DOMAIN             WASMCLOUD_JS_DOMAIN           JetStream domain of the lattice's buckets
                                                                   (alias --wasmcloud-js-domain; unset = none)
      --host-seed SEED               WASMCLOUD_HOST_SEED           SN… server seed; host id = its public key
                                                                   (random on every start when unset)
  -l, --label KEY=VALUE              WASMCLOUD_LABEL_<KEY>=VALUE   repeatable; key case preserved
      --heartbeat-interval-seconds N WASMCLOUD_HEARTBEAT_INTERVAL  (30)
      --log-level LEVEL              WASMCLOUD_LOG_LEVEL           trace|debug|info|warn|error (info)
  -V, --version                                                    print the version

Exit codes: 0 stopped cleanly (SIGTERM, SIGINT, host.stop); 1 could not start (NATS or the
JetStream domain unreachable, bad seed) or stop in time; 2 invalid flags or environment.
`

// parseConfig reads env (KEY=VALUE pairs) and then args, the way the real host's clap
// arguments do. Help output goes to stderr.
func parseConfig(args, env []string, stderr io.Writer) (config, error) {
	vars := map[string]string{}
	cfg := config{labels: map[string]string{}}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if key, ok := strings.CutPrefix(k, labelEnvPrefix); ok && key != "" {
			if strings.Contains(v, "=") {
				return cfg, fmt.Errorf("invalid label %s: the value must not contain '='", k)
			}
			cfg.labels[key] = v
			continue
		}
		// An empty optional variable counts as unset; leave it unset rather than rely on this.
		if v != "" {
			vars[k] = v
		}
	}
	get := func(k, def string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return def
	}

	fs := flag.NewFlagSet("wasmcloud", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller
	var (
		lattice, natsHost, jsDomain, logLevel string
		natsPort, heartbeat                   string
		showVersion                           bool
		cliLabels                             []string
	)
	strFlag := func(p *string, env, def string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, get(env, def), "")
		}
	}
	strFlag(&lattice, "WASMCLOUD_LATTICE", "default", "lattice", "x")
	strFlag(&natsHost, "WASMCLOUD_NATS_HOST", "127.0.0.1", "nats-host")
	strFlag(&natsPort, "WASMCLOUD_NATS_PORT", "4222", "nats-port")
	strFlag(&jsDomain, "WASMCLOUD_JS_DOMAIN", "", "js-domain", "wasmcloud-js-domain")
	fs.StringVar(&cfg.hostSeed, "host-seed", vars["WASMCLOUD_HOST_SEED"], "")
	strFlag(&heartbeat, "WASMCLOUD_HEARTBEAT_INTERVAL", "30", "heartbeat-interval-seconds")
	strFlag(&logLevel, "WASMCLOUD_LOG_LEVEL", "info", "log-level", "structured-log-level")
	labelFlag := func(v string) error { cliLabels = append(cliLabels, v); return nil }
	fs.Func("label", "", labelFlag)
	fs.Func("l", "", labelFlag)
	fs.BoolVar(&showVersion, "version", false, "")
	fs.BoolVar(&showVersion, "V", false, "")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// A fixed text: PrintDefaults would show defaults taken from the environment,
			// the host seed among them.
			fmt.Fprintf(stderr, usageHeader, version)
			return cfg, errHelpShown
		}
		return cfg, fmt.Errorf("%w (see --help)", err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if showVersion {
		// As the real host's --version prints it: "wasmcloud <version>".
		fmt.Fprintf(stderr, "wasmcloud %s\n", version)
		return cfg, errHelpShown
	}

	if err := wasmcloud.ValidateLattice(lattice); err != nil {
		return cfg, err
	}
	cfg.lattice = lattice
	port, err := strconv.ParseUint(natsPort, 10, 16)
	if err != nil || port == 0 {
		return cfg, fmt.Errorf("invalid NATS port %q", natsPort)
	}
	cfg.natsHost, cfg.natsPort, cfg.jsDomain = natsHost, int(port), jsDomain
	secs, err := strconv.ParseUint(heartbeat, 10, 32)
	if err != nil || secs == 0 {
		return cfg, fmt.Errorf("invalid heartbeat interval %q: want whole seconds > 0", heartbeat)
	}
	cfg.heartbeat = time.Duration(secs) * time.Second
	lv, ok := levelNames[strings.ToLower(logLevel)]
	if !ok {
		return cfg, fmt.Errorf("invalid log level %q: want trace, debug, info, warn or error", logLevel)
	}
	cfg.logLevel = lv
	for _, l := range cliLabels {
		parts := strings.Split(l, "=")
		if len(parts) != 2 || parts[0] == "" {
			return cfg, fmt.Errorf("invalid label %q: want key=value, the value without '='", l)
		}
		if _, dup := cfg.labels[parts[0]]; dup {
			cfg.warnings = append(cfg.warnings, fmt.Sprintf("label %q from --label overrides the environment", parts[0]))
		}
		cfg.labels[parts[0]] = parts[1]
	}
	return cfg, nil
}

// checkNATSHost refuses what the real host cannot use once it has built
// nats://<host>:<port>: a scheme, a port, credentials, a path or a server list (and, as there,
// an IPv6 literal).
func checkNATSHost(host string) error {
	if host == "" || strings.ContainsAny(host, ":/@,?# ") {
		return fmt.Errorf("failed to parse NATS address nats://%s:<port>: WASMCLOUD_NATS_HOST takes a bare host name or IP, no scheme or port", host)
	}
	return nil
}
