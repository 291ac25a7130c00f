package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/fleet"
	"github.com/latticepush/latticepush/rollout"
)

// clientOn connects a NATS client to host's client port, as a program on that host would,
// through the host's SSH connection. It reconnects forever (the leaf stays up while the hub
// restarts; this only rides out a lost tunnel).
func clientOn(t *testing.T, ctx context.Context, s *session, host string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	for _, tg := range s.Fleet.Targets(ctx) {
		if tg.Host.Name == host && tg.Err == nil {
			dial = tg.Dial
		}
	}
	if dial == nil {
		t.Fatalf("no SSH connection to %s", host)
	}
	n := s.Inv.Host(host).NATS()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(n.ClientPort))
	nc, err := nats.Connect("nats://"+addr, append([]nats.Option{
		nats.SetCustomDialer(dialer{dial}), nats.Name("e2e " + t.Name()), nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatalf("connect to %s's client port: %v", host, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

type dialer struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d dialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.dial(ctx, network, addr)
}

// kvOn opens (or, with create, creates with 3 replicas) bucket through domain.
func kvOn(t *testing.T, ctx context.Context, nc *nats.Conn, domain, bucket string, create bool) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.NewWithDomain(nc, domain)
	if err != nil {
		t.Fatal(err)
	}
	var kv jetstream.KeyValue
	if create {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Replicas: 3, History: 1})
	} else {
		kv, err = js.KeyValue(ctx, bucket)
	}
	if err != nil {
		t.Fatalf("bucket %s through domain %q: %v", bucket, domain, err)
	}
	return kv
}

const keysPerBucket = 1000

func keyValue(i int) (string, string) {
	return fmt.Sprintf("domaintest.k%04d", i), fmt.Sprintf("value %d written before the domain change", i)
}

func putKeys(t *testing.T, ctx context.Context, kv jetstream.KeyValue) {
	t.Helper()
	for i := range keysPerBucket {
		k, v := keyValue(i)
		if err := putRetried(ctx, kv, k, v); err != nil {
			t.Fatalf("%s put %s: %v", kv.Bucket(), k, err)
		}
	}
}

// putRetried writes k in attempts of 5 s for up to a minute. A write to a stream just created
// is dropped, unanswered, until its replicas elect a leader; the same value written again is
// harmless.
func putRetried(ctx context.Context, kv jetstream.KeyValue, k, v string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := kv.PutString(actx, k, v)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkKeys reads every key back and fails the test on a missing key or a wrong value.
func checkKeys(t *testing.T, ctx context.Context, kv jetstream.KeyValue) {
	t.Helper()
	bad := 0
	for i := range keysPerBucket {
		k, v := keyValue(i)
		e, err := kv.Get(ctx, k)
		if err != nil || string(e.Value()) != v {
			bad++
			if bad <= 5 {
				t.Errorf("%s %s: %v", kv.Bucket(), k, err)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d keys missing or wrong", kv.Bucket(), bad, keysPerBucket)
	}
}

// oldDomainClient writes and reads a key through a domain, over and over, and records every
// failed operation: what a client left on the old domain sees during the change.
type oldDomainClient struct {
	mu    sync.Mutex
	ops   int
	errs  []time.Time // when each failed operation ended
	began []time.Time // and when it began
	why   []error     // and its error
	stop  chan struct{}
	done  chan struct{}
}

func startOldDomainClient(t *testing.T, kv jetstream.KeyValue) *oldDomainClient {
	c := &oldDomainClient{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			began := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			key, val := fmt.Sprintf("live.%d", i%50), fmt.Sprintf("op %d", i)
			rev, err := kv.PutString(ctx, key, val)
			if err == nil {
				var e jetstream.KeyValueEntry
				// A read may be served by a replica that has not applied the write yet
				// (direct get on R3): older revisions are not failures, nor is a key such a
				// replica has not seen at all (the key's first write); other values are.
				e, err = kv.Get(ctx, key)
				switch {
				case errors.Is(err, jetstream.ErrKeyNotFound):
					err = nil
				case err == nil && e.Revision() >= rev && string(e.Value()) != val:
					err = fmt.Errorf("read %q (revision %d) after writing %q (revision %d)", e.Value(), e.Revision(), val, rev)
				}
			}
			cancel()
			c.mu.Lock()
			c.ops++
			if err != nil {
				c.errs = append(c.errs, time.Now())
				c.began = append(c.began, began)
				c.why = append(c.why, err)
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(c.halt)
	return c
}

func (c *oldDomainClient) halt() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// longestOutage is the longest run of failed operations, from the first failure to the last
// of that run (failures less than 1.5 s apart belong to one run).
func (c *oldDomainClient) longestOutage() (time.Duration, time.Time, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best time.Duration
	var bs, be time.Time
	for i := 0; i < len(c.errs); {
		j := i
		for j+1 < len(c.errs) && c.errs[j+1].Sub(c.errs[j]) < 1500*time.Millisecond {
			j++
		}
		if d := c.errs[j].Sub(c.errs[i]); d >= best {
			best, bs, be = d, c.errs[i], c.errs[j]
		}
		i = j + 1
	}
	return best, bs, be
}

// eventTime returns when the first event matching pred was emitted.
func eventTime(t *testing.T, events []rollout.Event, what string, pred func(rollout.Event) bool) time.Time {
	t.Helper()
	for _, e := range events {
		if pred(e) {
			return e.Time
		}
	}
	t.Fatalf("no event: %s", what)
	return time.Time{}
}

// snapshotOf reads the one snapshot file of bucket taken on domain in dir: mode 0600.
func snapshotOf(t *testing.T, dir, bucket, domain string) fleet.BucketSnapshot {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, bucket+"-"+domain+"-*.json"))
	if len(files) != 1 {
		t.Fatalf("snapshot files of %s on %s in %s: %v", bucket, domain, dir, files)
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot %s: mode %v, %v", files[0], fi.Mode(), err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var snap fleet.BucketSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Bucket != bucket || snap.Domain != domain {
		t.Fatalf("snapshot %s: bucket %q domain %q", files[0], snap.Bucket, snap.Domain)
	}
	return snap
}

// checkSnapshot: every key putKeys wrote is in the snapshot with its value.
func checkSnapshot(t *testing.T, snap fleet.BucketSnapshot) {
	t.Helper()
	have := map[string]string{}
	for _, e := range snap.Entries {
		have[e.Key] = string(e.Value)
	}
	bad := 0
	for i := range keysPerBucket {
		if k, v := keyValue(i); have[k] != v {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("snapshot of %s: %d of %d keys missing or wrong", snap.Bucket, bad, keysPerBucket)
	}
}
