package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/latticepush/latticepush/wasmcloud"
)

const (
	// jsTimeout bounds each JetStream call, as the real host's JetStream context does (5 s).
	jsTimeout = 5 * time.Second
	// shutdownTimeout is the real host's budget for a signal or a host.stop (10 s).
	shutdownTimeout = 10 * time.Second
)

// host is one running stand-in: its identity and its single NATS connection (the real host's
// control connection; it also has an RPC connection that nothing here needs).
type host struct {
	cfg          config
	log          *logger
	id           string
	friendlyName string
	labels       map[string]string
	started      time.Time
	nc           *nats.Conn
}

// runHost starts the host, serves until ctx ends or a host.stop arrives, and shuts down the
// way the real host does. A start-up error is returned at once, with no retry: the service
// manager's restart policy is what retries, exactly as with the real host.
func runHost(ctx context.Context, cfg config, log *logger) error {
	h, err := newHost(cfg, log)
	if err != nil {
		return fmt.Errorf("failed to initialize host: %w", err)
	}
	log.info("latticepush stand-in for the wasmCloud host starting (a test double)", "version", version, "host_id", h.id)
	if err := checkNATSHost(cfg.natsHost); err != nil {
		return fmt.Errorf("failed to initialize host: %w", err)
	}
	h.nc, err = nats.Connect(cfg.natsURL(),
		nats.Name("wasmcloud-standin "+h.id),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1), // like async-nats: unlimited, but only after a first connect
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close
				log.warn("NATS connection lost", "error", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.info("NATS connection restored") }),
	)
	if err != nil {
		return fmt.Errorf("failed to initialize host: failed to establish NATS control server connection to %s: %w", cfg.natsURL(), err)
	}
	defer h.nc.Close()
	log.info("connected to NATS", "url", cfg.natsURL())

	// Subscribe before anything is announced. Requests that arrive while the buckets are set up
	// wait in the channel and are answered once the host has started, as in the real host.
	ctl := make(chan *nats.Msg, 1024)
	var subs []*nats.Subscription
	for _, subject := range []string{
		wasmcloud.PingSubject(cfg.lattice),
		wasmcloud.HostCommandsSubject(cfg.lattice, h.id),
	} {
		sub, err := h.nc.ChanSubscribe(subject, ctl)
		if err != nil {
			return fmt.Errorf("failed to initialize host: subscribe %s: %w", subject, err)
		}
		subs = append(subs, sub)
	}
	if err := h.nc.Flush(); err != nil {
		return fmt.Errorf("failed to initialize host: %w", err)
	}

	if err := h.ensureBuckets(ctx); err != nil {
		return fmt.Errorf("failed to initialize host: %w", err)
	}
	if err := h.publish(wasmcloud.EventHostStarted, wasmcloud.HostStarted{
		FriendlyName: h.friendlyName, Labels: h.labels, Version: version,
	}); err != nil {
		return fmt.Errorf("failed to initialize host: %w", err)
	}
	log.info("wasmCloud host started", "host_id", h.id, "friendly_name", h.friendlyName, "lattice", cfg.lattice)

	reason := h.serve(ctx, ctl)
	log.info("stopping host", "reason", reason)

	// Stop answering first, then tell the lattice, then make sure it was sent.
	for _, sub := range subs {
		_ = sub.Unsubscribe()
	}
	if err := h.publish(wasmcloud.EventHostStopped, wasmcloud.HostStopped{Labels: h.labels}); err != nil {
		log.error("failed to publish host_stopped", "error", err)
	}
	if err := h.nc.FlushTimeout(shutdownTimeout); err != nil {
		return fmt.Errorf("host shutdown timed out: %w", err)
	}
	log.info("wasmCloud host stopped", "host_id", h.id)
	return nil
}

func newHost(cfg config, log *logger) (*host, error) {
	kp, err := hostKey(cfg.hostSeed)
	if err != nil {
		return nil, err
	}
	id, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	labels := maps.Clone(cfg.labels)
	labels["hostcore.arch"] = rustArch(runtime.GOARCH)
	labels["hostcore.os"] = runtime.GOOS
	labels["hostcore.osfamily"] = "unix"
	return &host{cfg: cfg, log: log, id: id, friendlyName: friendlyName(), labels: labels, started: time.Now()}, nil
}

// hostKey decodes the configured seed, which must be a server seed (SN…), or makes a random one.
func hostKey(seed string) (nkeys.KeyPair, error) {
	if seed == "" {
		return nkeys.CreateServer()
	}
	prefix, _, err := nkeys.DecodeSeed([]byte(seed))
	if err != nil {
		return nil, errors.New("invalid host seed (WASMCLOUD_HOST_SEED): not an nkey seed")
	}
	if prefix != nkeys.PrefixByteServer {
		return nil, errors.New("host seed (WASMCLOUD_HOST_SEED) must be a server key (SN…)")
	}
	return nkeys.FromSeed([]byte(seed))
}

// ensureBuckets gets or creates the lattice's buckets through the configured domain. Like the
// real host's create_bucket: any get error (not found, no responders, permissions, timeout)
// leads to a create with the defaults (1 replica, file storage, history 1), and a failing
// create is fatal. With a domain unreachable from here both fail at once with
// "jetstream not enabled"; with no domain the JetStream of the server connected to is used,
// which on a leaf with its own JetStream is the leaf's.
func (h *host) ensureBuckets(ctx context.Context) error {
	var js jetstream.JetStream
	var err error
	if h.cfg.jsDomain != "" {
		js, err = jetstream.NewWithDomain(h.nc, h.cfg.jsDomain)
	} else {
		js, err = jetstream.New(h.nc)
	}
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	for _, bucket := range wasmcloud.BucketNames(h.cfg.lattice) {
		getCtx, cancel := context.WithTimeout(ctx, jsTimeout)
		_, err := js.KeyValue(getCtx, bucket)
		cancel()
		if err == nil {
			h.log.debug("found bucket", "bucket", bucket)
			continue
		}
		h.log.debug("bucket lookup failed, creating it", "bucket", bucket, "error", err)
		createCtx, cancel := context.WithTimeout(ctx, jsTimeout)
		_, err = js.CreateKeyValue(createCtx, jetstream.KeyValueConfig{Bucket: bucket, Replicas: 1})
		cancel()
		if err != nil {
			return fmt.Errorf("failed to create bucket '%s': %w", bucket, err)
		}
		h.log.info("created bucket with 1 replica", "bucket", bucket, "js_domain", cmp.Or(h.cfg.jsDomain, "(none)"))
	}
	return nil
}

// serve answers control requests and sends heartbeats until ctx ends or a host.stop is
// handled; it returns why it stopped. The first heartbeat goes out one interval after start.
func (h *host) serve(ctx context.Context, ctl <-chan *nats.Msg) string {
	ticker := time.NewTicker(h.cfg.heartbeat)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return "signal"
		case <-ticker.C:
			if err := h.publish(wasmcloud.EventHostHeartbeat, h.inventory()); err != nil {
				h.log.warn("failed to publish heartbeat", "error", err)
			}
		case msg := <-ctl:
			if h.handle(msg) {
				return "host.stop request"
			}
		}
	}
}

// handle answers one control request and reports whether it asked the host to stop.
func (h *host) handle(msg *nats.Msg) (stop bool) {
	var reply any
	switch msg.Subject {
	case wasmcloud.PingSubject(h.cfg.lattice):
		reply = wasmcloud.OK(h.pingReply())
	case wasmcloud.HostGetSubject(h.cfg.lattice, h.id):
		reply = wasmcloud.OK(h.inventory())
	case wasmcloud.HostStopSubject(h.cfg.lattice, h.id):
		var cmd wasmcloud.StopHostCommand
		if len(msg.Data) > 0 && json.Unmarshal(msg.Data, &cmd) != nil {
			reply = wasmcloud.Failure("failed to deserialize stop command")
		} else if cmd.HostID != "" && cmd.HostID != h.id {
			reply = wasmcloud.Failure(fmt.Sprintf("invalid host_id [%s]", cmd.HostID))
		} else {
			reply, stop = wasmcloud.CtlResponse[struct{}]{Success: true, Message: "successfully handled stop host"}, true
		}
	default:
		reply = wasmcloud.Failure("unsupported subject")
	}
	h.log.debug("handled control request", "subject", msg.Subject)
	if msg.Reply == "" {
		return stop
	}
	body, err := json.Marshal(reply)
	if err == nil {
		err = msg.Respond(body)
	}
	if err != nil {
		h.log.warn("failed to answer control request", "subject", msg.Subject, "error", err)
	}
	return stop
}

func (h *host) pingReply() wasmcloud.Host {
	uptime := h.uptime()
	return wasmcloud.Host{
		ID: h.id, Labels: h.labels, FriendlyName: h.friendlyName, Lattice: h.cfg.lattice,
		JSDomain: h.cfg.jsDomain, CtlHost: h.cfg.natsURL(), RPCHost: h.cfg.natsURL(),
		UptimeHuman: humanUptime(uptime), UptimeSeconds: uint64(uptime.Seconds()), Version: version,
	}
}

func (h *host) inventory() wasmcloud.HostInventory {
	uptime := h.uptime()
	return wasmcloud.HostInventory{
		Components: []wasmcloud.ComponentDescription{}, Providers: []wasmcloud.ProviderDescription{},
		HostID: h.id, FriendlyName: h.friendlyName, Labels: h.labels, Version: version,
		UptimeHuman: humanUptime(uptime), UptimeSeconds: uint64(uptime.Seconds()),
	}
}

func (h *host) uptime() time.Duration { return time.Since(h.started).Truncate(time.Second) }

// publish sends one CloudEvent on wasmbus.evt.<lattice>.<name> with core NATS.
func (h *host) publish(name string, data any) error {
	e, err := wasmcloud.NewEvent(name, h.id, data)
	if err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	h.log.debug("publishing event", "type", e.Type)
	return h.nc.Publish(wasmcloud.EventSubject(h.cfg.lattice, name), body)
}

// humanUptime formats whole seconds the way the host's humantime does: "2m 21s", "1day 3h".
func humanUptime(d time.Duration) string {
	s := int64(d / time.Second)
	if s == 0 {
		return "0s"
	}
	units := []struct {
		secs       int64
		one, other string
	}{{86400, "day", "days"}, {3600, "h", "h"}, {60, "m", "m"}, {1, "s", "s"}}
	var parts []string
	for _, u := range units {
		if n := s / u.secs; n > 0 {
			name := u.other
			if n == 1 {
				name = u.one
			}
			parts = append(parts, fmt.Sprintf("%d%s", n, name))
			s %= u.secs
		}
	}
	return strings.Join(parts, " ")
}

// rustArch names GOARCH the way Rust's std::env::consts::ARCH (the real label) does.
func rustArch(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "x86"
	}
	return goarch
}

var (
	adjectives = []string{"summer", "quiet", "bold", "misty", "ancient", "silent", "frosty", "lively", "rapid", "gentle"}
	nouns      = []string{"timber", "river", "meadow", "forest", "breeze", "canyon", "harbor", "glade", "ember", "summit"}
)

// friendlyName is random on every start, like the real host's ("summer-timber-8052").
func friendlyName() string {
	pick := func(n int) int {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
		return int(v.Int64())
	}
	return fmt.Sprintf("%s-%s-%04d", adjectives[pick(len(adjectives))], nouns[pick(len(nouns))], pick(10000))
}
