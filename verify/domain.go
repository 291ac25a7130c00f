package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/inventory"
)

// probeBucket ensures the probe bucket on the hub, asked from the hub side, with min(3, hubs)
// replicas. The leaves never create it: a leaf that answers for the hub's domain must not be
// able to pass the round trip by creating its own copy.
func (r *round) probeBucket(ctx context.Context) Result {
	r.bucketOnce.Do(func() { r.bucketResult = r.ensureProbeBucket(ctx) })
	return r.bucketResult
}

// EnsureProbeBucket creates the probe bucket on the hub when it is absent, as the domain
// checks do: apply calls it once the hubs run, so that the first gate through a leaf does not
// wait for the bucket's creation on a cluster that has just formed.
func EnsureProbeBucket(ctx context.Context, inv *inventory.Inventory, targets []Target, opts Options) error {
	r := newRound(inv, targets, opts)
	defer r.close()
	if res := r.probeBucket(ctx); !res.OK {
		return errors.New(res.Evidence)
	}
	return nil
}

func (r *round) ensureProbeBucket(ctx context.Context) Result {
	bucket := r.opts.ProbeBucket
	nc, hub, err := r.hubSide(ctx)
	if err != nil {
		return fail(CheckDomainProbeBucket, "", err.Error(), "bring the hub nodes up (see the hub checks)")
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(r.opts.Timeout))
	if err != nil {
		return fail(CheckDomainProbeBucket, hub, err.Error(), "")
	}
	sctx, cancel := r.step(ctx)
	defer cancel()
	kv, err := js.KeyValue(sctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		replicas := min(3, len(r.inv.Hubs()))
		kv, err = js.CreateKeyValue(sctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "latticepush verify: proves the hub's JetStream domain answers through every leaf",
			History:     1,
			MaxBytes:    1 << 20,
			Replicas:    replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // another run created it meanwhile
			kv, err = js.KeyValue(sctx, bucket)
		}
	}
	if err != nil {
		return fail(CheckDomainProbeBucket, hub, fmt.Sprintf("bucket %s via %s: %v", bucket, hub, err),
			"the hub's JetStream must accept requests from latticepush's check user in account "+hubAccount+": see the hub checks")
	}
	st, err := js.Stream(sctx, "KV_"+kv.Bucket())
	if err != nil {
		return fail(CheckDomainProbeBucket, hub, fmt.Sprintf("stream KV_%s via %s: %v", bucket, hub, err), "see the hub checks")
	}
	info := st.CachedInfo()
	ev := fmt.Sprintf("bucket %s, %d replica(s)", bucket, info.Config.Replicas)
	if info.Cluster != nil {
		ev += fmt.Sprintf(" on cluster %s (leader %s)", info.Cluster.Name, info.Cluster.Leader)
	}
	return pass(CheckDomainProbeBucket, hub, ev)
}

// checkDomainReach proves the hub's domain from a client on the leaf, in three requests
// through jetstream.NewWithDomain: the probe stream's info (the domain answers, holds the hub's
// probe bucket, and says on which cluster), a KV put of the leaf's own key (acknowledged by
// that stream) and the read back of what was written. Its second result proves
// it was the hub that answered: the probe stream's cluster is the hub cluster (a leaf given the
// hub's domain answers for it too, and reports the hub's domain).
func (r *round) checkDomainReach(ctx context.Context, leaf *inventory.Host) (reach, proof Result) {
	d, bucket := r.inv.Lattice.JSDomain, r.opts.ProbeBucket
	stream := "KV_" + bucket
	notChecked := func(why string) Result {
		return fail(CheckDomainHubAnswers, leaf.Name, "not checked: "+why, "see "+CheckDomainReach)
	}
	if b := r.probeBucket(ctx); !b.OK {
		why := "the probe bucket is not on the hub (see " + CheckDomainProbeBucket + ")"
		return fail(CheckDomainReach, leaf.Name, "not checked: "+why, "see "+CheckDomainProbeBucket), notChecked(why)
	}
	nc, err := r.connect(ctx, leaf)
	if err != nil {
		return fail(CheckDomainReach, leaf.Name, err.Error(), fixUnreachable(leaf)), notChecked("no client connection to the leaf")
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, d, jetstream.WithDefaultTimeout(r.opts.Timeout))
	if err != nil {
		return fail(CheckDomainReach, leaf.Name, err.Error(), ""), notChecked(err.Error())
	}

	sctx, cancel := r.step(ctx)
	defer cancel()
	start := time.Now()
	st, err := js.Stream(sctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		ev := fmt.Sprintf("domain %q answered but has no bucket %s, which the hub has: another JetStream answers for %q on this leaf", d, bucket, d)
		fix := fmt.Sprintf("a server reachable from %s runs JetStream with domain %q: give it its own domain (see %s)", leaf.Name, d, CheckHygieneDomain)
		return fail(CheckDomainReach, leaf.Name, ev, fix),
			fail(CheckDomainHubAnswers, leaf.Name, fmt.Sprintf("the JetStream answering for %q through %s lacks the hub's probe bucket", d, leaf.Name), fix)
	}
	if err != nil {
		// No responders is what an unreachable domain looks like: the server answers at once
		// that nobody subscribes to $JS.<domain>.API.>.
		ev := fmt.Sprintf("domain %q not reachable from %s's client port: %v", d, leaf.Name, err)
		fix := fmt.Sprintf("check the leaf link (%s, %s) and that the hubs run JetStream with domain %q", CheckLeafRemote, CheckLeafSeenByHub, d)
		if errors.Is(err, context.DeadlineExceeded) {
			fix = "the domain answers but JetStream is degraded (meta quorum?): see the hub checks"
		}
		return fail(CheckDomainReach, leaf.Name, ev, fix), notChecked("domain not reachable")
	}
	info := st.CachedInfo()

	// The put is what a KV put through a domain is: a publish to $JS.<domain>.API.$KV.<bucket>.<key>,
	// which the domain's servers map to $KV.<bucket>.<key>.
	key, val := probeKey(leaf.Name), probeValue(leaf.Name)
	subject := "$KV." + bucket + "." + key
	// A stream made moments ago (the probe bucket, created by the first gate of a first
	// deployment) can leave a write through a new leaf link unanswered: the publish is lost
	// while the stream's interest is still crossing the link, and waiting out the step's whole
	// timeout helps nothing, where a second write a moment later is acknowledged at once.
	var ack *jetstream.PubAck
	err = attempts(sctx, max(time.Second, r.opts.Timeout/4), func(ctx context.Context) (err error) {
		ack, err = js.Publish(ctx, "$JS."+d+".API."+subject, val)
		return err
	})
	// The acknowledgement names the domain that stored the write: another than d when d is an
	// alias (a cutover's old domain, mapped to the new one), so only its stream is compared.
	if err == nil && ack.Stream != stream {
		err = fmt.Errorf("acknowledged by stream %q, want %s", ack.Stream, stream)
	}
	if err == nil {
		// A read can be served by a replica that has not applied the write yet: read again
		// (briefly) until it reaches the written sequence.
		var m *jetstream.RawStreamMsg
		for try := 0; ; try++ {
			m, err = st.GetLastMsgForSubject(sctx, subject)
			if err != nil || m.Sequence >= ack.Sequence || try == 20 {
				break
			}
			select {
			case <-sctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err == nil && (m.Sequence != ack.Sequence || string(m.Data) != string(val)) {
			err = fmt.Errorf("read back revision %d %q, wrote revision %d %q", m.Sequence, m.Data, ack.Sequence, val)
		}
	}
	if err != nil {
		reach = fail(CheckDomainReach, leaf.Name, fmt.Sprintf("KV round trip %s/%s through domain %q: %v", bucket, key, d, err),
			"the domain answers but writes fail: see the hub checks (meta leader, peers current)")
	} else {
		reach = pass(CheckDomainReach, leaf.Name, fmt.Sprintf("domain %q: bucket %s found, KV put/get %s revision %d in %s",
			d, bucket, key, ack.Sequence, time.Since(start).Round(time.Millisecond)))
	}

	want := r.hubCluster()
	if info.Cluster == nil || info.Cluster.Name != want {
		got := "(none: not clustered)"
		if info.Cluster != nil {
			got = fmt.Sprintf("%q (leader %s)", info.Cluster.Name, info.Cluster.Leader)
		}
		return reach, fail(CheckDomainHubAnswers, leaf.Name,
			fmt.Sprintf("the probe stream answering for domain %q through %s is on cluster %s, not the hub cluster %q", d, leaf.Name, got, want),
			fmt.Sprintf("a server other than the hub answers for domain %q: give it its own domain (see %s)", d, CheckHygieneDomain))
	}
	return reach, pass(CheckDomainHubAnswers, leaf.Name,
		fmt.Sprintf("stream %s answered from cluster %q (leader %s)", stream, info.Cluster.Name, info.Cluster.Leader))
}

var keyUnsafe = regexp.MustCompile(`[^-/_=.a-zA-Z0-9]`)

// probeKey is the leaf's own key in the probe bucket, so leaves probing at once never collide.
func probeKey(leaf string) string { return "probe." + keyUnsafe.ReplaceAllString(leaf, "_") }

// probeValue is unique per write, so the read back proves this round trip.
func probeValue(leaf string) []byte {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return []byte(fmt.Sprintf("%s %s %s", leaf, time.Now().UTC().Format(time.RFC3339Nano), hex.EncodeToString(b)))
}

// attempts runs fn with at most per for each try, and again while a try ran out of time and ctx
// has time left: for requests that are either answered at once or lost.
func attempts(ctx context.Context, per time.Duration, fn func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, per)
		err := fn(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
}
