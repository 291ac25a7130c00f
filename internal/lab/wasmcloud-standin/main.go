// Command wasmcloud-standin is a TEST DOUBLE of the wasmCloud 1.x host binary (`wasmcloud`,
// modelled on 1.9.2). It is not wasmCloud: it runs no components or providers. It exists because
// the real binary cannot be installed in latticepush's lab, and the lab installs it as
// /usr/local/bin/wasmcloud so that deploy and verify meet the same protocol a real host speaks:
//
//   - the same configuration: WASMCLOUD_LATTICE, WASMCLOUD_NATS_HOST (a bare host; a URL is
//     refused), WASMCLOUD_NATS_PORT, WASMCLOUD_JS_DOMAIN, WASMCLOUD_HOST_SEED (an SN… server
//     seed; the host id is its public key, random when unset), WASMCLOUD_LABEL_<key>=<value>
//     (key case preserved), WASMCLOUD_HEARTBEAT_INTERVAL (seconds), WASMCLOUD_LOG_LEVEL, and the
//     matching flags, which override the environment;
//   - the same start-up, with its failure modes: one NATS connection attempt, no retry; then
//     JetStream through the domain when one is set (domain-less otherwise); get-or-create
//     LATTICEDATA_<lattice> and CONFIGDATA_<lattice>, creating with 1 replica on any get error;
//     any failure exits non-zero at once ("jetstream not enabled" for an unreachable domain).
//     Without a domain next to a leaf that runs its own JetStream it silently creates the buckets
//     on the leaf: the real host's split brain, reproduced on purpose;
//   - the same control interface (package wasmcloud): it subscribes before announcing, answers
//     wasmbus.ctl.v1.<lattice>.host.ping and host.get.<id> / host.stop.<id> with the 1.x
//     envelope, publishes host_started, a heartbeat every interval (the first one at one
//     interval, not at start), and on SIGTERM/SIGINT stops answering, publishes host_stopped,
//     flushes and exits 0.
//
// Exit codes: 0 after a clean stop, 1 when the host cannot start or stop in time, 2 for
// invalid flags or environment values.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stderr))
}

func run(args, env []string, stderr io.Writer) int {
	cfg, err := parseConfig(args, env, stderr)
	if errors.Is(err, errHelpShown) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.logLevel)
	for _, w := range cfg.warnings {
		log.warn(w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runHost(ctx, cfg, log); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}
