package verify

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/latticepush/latticepush/inventory"
	"github.com/latticepush/latticepush/verify/natsmon"
)

// Check names: stable identifiers, shown in reports and in -json output. The part before the
// first dot is the check's group.
const (
	CheckHubHealthz      = "hub.healthz"         // /healthz 200 on the node
	CheckHubMetaLeader   = "hub.meta-leader"     // the node knows the one meta leader all nodes agree on
	CheckHubPeersCurrent = "hub.peers-current"   // asked of the meta leader: every peer current
	CheckHubRoutes       = "hub.routes"          // a route to every other hub node
	CheckHubDomain       = "hub.domain"          // the node's JetStream domain is the lattice's
	CheckHubRouteAuth    = "hub.route-auth"      // the node's cluster port requires the route credentials
	CheckHubStreams      = "hub.stream-replicas" // every stream on the hub's domain has its replicas placed and current

	CheckLeafRemote    = "leaf.remote-connected" // the leaf's own /leafz shows its remote up
	CheckLeafSeenByHub = "leaf.seen-by-hub"      // some hub's /leafz lists the leaf

	CheckDomainProbeBucket = "domain.probe-bucket"    // the probe bucket exists on the hub
	CheckDomainReach       = "domain.reach"           // the probe stream, a KV put and its read back, through the leaf
	CheckDomainHubAnswers  = "domain.answered-by-hub" // the stream that answered is the hub's

	CheckHygieneDomain      = "hygiene.leaf-domain"  // the leaf does not claim the hub's domain
	CheckHygieneStrayBucket = "hygiene.stray-bucket" // no lattice bucket in the leaf's own JetStream

	CheckWasmcloudHostGet    = "wasmcloud.host-get"   // host.get.<id> answered from the hub side
	CheckWasmcloudPing       = "wasmcloud.ping"       // ping reply: lattice, js_domain, labels
	CheckWasmcloudMembership = "wasmcloud.membership" // hosts answering ping == inventory

	// After a domain cutover (previous_js_domain set): who still uses the old domain.
	CheckPreviousStreams = "previous-domain.streams"   // mirrors and sources through $JS.<old>.API
	CheckPreviousHosts   = "previous-domain.wasmcloud" // wasmCloud hosts pinging with the old domain
)

// checkOrder is the order checks appear in a report: the order a reader reasons in, each
// group building on the ones before it.
var checkOrder = []string{
	CheckHubHealthz, CheckHubMetaLeader, CheckHubPeersCurrent, CheckHubStreams, CheckHubRoutes, CheckHubDomain, CheckHubTLS, CheckHubUpstream,
	CheckLeafRemote, CheckLeafSeenByHub, CheckLeafSeenByRelay, CheckLeafRelayBelow, CheckLeafRelayRoutes, CheckLeafRelayTLS, CheckLeafTLS,
	CheckDomainProbeBucket, CheckDomainReach, CheckDomainHubAnswers, CheckDomainPath,
	CheckHygieneDomain, CheckHygieneStrayBucket,
	CheckWasmcloudHostGet, CheckWasmcloudPing, CheckWasmcloudMembership,
	CheckPreviousStreams, CheckPreviousHosts, CheckNATSUser, CheckWasmcloudUser,
}

// Result is the outcome of one check on one host (Host is empty for lattice-wide checks).
// Evidence says what was observed, pass or fail; Fix, set only when failing or warning, says
// what to do. A warning passes (OK) with a finding the operator has to act on, in time: a
// user of the domain the hubs left, still served by the alias.
type Result struct {
	Check    string `json:"check"`
	Group    string `json:"group"`
	Host     string `json:"host,omitempty"`
	OK       bool   `json:"ok"`
	Warning  bool   `json:"warning,omitempty"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix,omitempty"`
	// Reused is set on a result taken from a gate that passed earlier in the same apply,
	// nothing having changed since on the machine or on any hub node (Proven).
	Reused bool `json:"reused,omitempty"`
}

func pass(check, host, evidence string) Result {
	return Result{Check: check, Group: groupOf(check), Host: host, OK: true, Evidence: evidence}
}

func fail(check, host, evidence, fix string) Result {
	return Result{Check: check, Group: groupOf(check), Host: host, Evidence: evidence, Fix: fix}
}

func groupOf(check string) string {
	g, _, _ := strings.Cut(check, ".")
	return g
}

// Report holds every result of a run, ordered by group, check and host.
type Report struct {
	Results []Result `json:"results"`
}

// OK reports whether every check passed. An empty report is not OK: nothing was proven.
func (r Report) OK() bool {
	return len(r.Results) > 0 && allOK(r.Results)
}

// Warnings returns the results that pass with a finding, in report order.
func (r Report) Warnings() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Warning {
			out = append(out, res)
		}
	}
	return out
}

// Failed returns the failing results, in report order.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if !res.OK {
			out = append(out, res)
		}
	}
	return out
}

func allOK(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}

func sortResults(rs []Result) {
	slices.SortStableFunc(rs, func(a, b Result) int {
		return cmp.Or(
			cmp.Compare(slices.Index(checkOrder, a.Check), slices.Index(checkOrder, b.Check)),
			cmp.Compare(a.Host, b.Host),
		)
	})
}

// Dialer opens a connection to addr as seen from a host (network is "tcp"). It has the
// signature of net.Dialer.DialContext and of the SSH client's DialContext.
type Dialer = natsmon.Dialer

// Target is how verify reaches one inventory host.
type Target struct {
	Host *inventory.Host
	// Dial connects to addresses as seen on the host (its monitoring and client ports).
	Dial Dialer
	// Run, when set, runs argv on the host (through its SSH connection) and returns its
	// standard output: how checks read /proc there.
	Run func(ctx context.Context, argv []string) ([]byte, error)
	// Err, when set, is why the host cannot be reached at all (e.g. the SSH connection failed):
	// every check on the host fails with it and nothing is dialed.
	Err error
}

// Options tune a run. The zero value is usable: every field has a default.
type Options struct {
	// Timeout bounds each network step (a dial, an HTTP request, a NATS request). Default 5s.
	Timeout time.Duration
	// Parallelism bounds the checks running at once. Default 64: a check mostly waits on a
	// reply through a connection already open, so many can wait together.
	Parallelism int
	// ProbeBucket is the KV bucket the domain round trip writes to, created on the hub with
	// min(3, hubs) replicas when absent. Default "latticepush_probe".
	ProbeBucket string
	// PingWait is how long replies to a wasmCloud ping are gathered. Default 2s.
	PingWait time.Duration
	// GateTimeout bounds how long a gate polls. Unset, a gate polls until ctx's deadline, or
	// for 60s when ctx has none.
	GateTimeout time.Duration
	// Now is the clock certificate expiry is judged by; nil means the current time.
	Now func() time.Time
	// Leaving are server_names the hub cluster's JetStream meta group may hold beside the
	// inventory's hubs, running or not (apply's gate of a hub node renamed in place, whose
	// old name apply removes once the gate passed): the peers check counts them out.
	Leaving []string
}

// DefaultProbeBucket is the probe bucket's name unless Options.ProbeBucket says otherwise.
const DefaultProbeBucket = "latticepush_probe"

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 64
	}
	if o.ProbeBucket == "" {
		o.ProbeBucket = DefaultProbeBucket
	}
	if o.PingWait <= 0 {
		o.PingWait = 2 * time.Second
	}
	if o.GateTimeout <= 0 {
		o.GateTimeout = 60 * time.Second
	}
	return o
}
