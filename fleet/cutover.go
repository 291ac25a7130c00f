package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/internal/atomicfile"
	"github.com/latticepush/latticepush/plan"
	"github.com/latticepush/latticepush/rollout"
	"github.com/latticepush/latticepush/verify"
	"github.com/latticepush/latticepush/wasmcloud"
)

// DomainScan scans every reachable JetStream domain (the hub's through a hub node, each
// leaf's own through its client port) for streams whose mirror or sources store the API
// prefix of from, the domain the hubs run now (plan.DomainChange). It returns nil unless
// from names exactly one domain: the planner then says the scan was not done.
func (f *Fleet) DomainScan(ctx context.Context, from []string) *plan.DomainScan {
	if len(from) != 1 {
		return nil
	}
	vs := verify.ScanAPIPrefix(ctx, f.inv, f.Targets(ctx), from[0], verify.Options{})
	ps := &plan.DomainScan{Domain: from[0], Scanned: vs.Scanned, Unscanned: vs.Unscanned}
	for _, s := range vs.Streams {
		ps.Streams = append(ps.Streams, s.String())
	}
	return ps
}

// BucketSnapshot is the file SnapshotBuckets writes for one bucket: every key's latest value.
type BucketSnapshot struct {
	FormatVersion string        `json:"format_version"`
	Bucket        string        `json:"bucket"`
	Domain        string        `json:"domain"` // the JetStream domain it was read from
	Taken         time.Time     `json:"taken"`
	Entries       []BucketEntry `json:"entries"`
}

// BucketEntry is one key of a snapshot; Value is base64 in the JSON.
type BucketEntry struct {
	Key      string    `json:"key"`
	Value    []byte    `json:"value"`
	Revision uint64    `json:"revision"`
	Created  time.Time `json:"created"`
}

// SnapshotBuckets saves the lattice's buckets (LATTICEDATA_<l>, CONFIGDATA_<l>), read through
// a hub node on domain, into dir: one JSON file per bucket, mode 0600 (component
// configuration can hold secrets), written to a temporary name and renamed. A bucket that
// does not exist yet is skipped. It returns the files written.
func (g *Gates) SnapshotBuckets(ctx context.Context, dir string, exp rollout.Expect) ([]string, error) {
	inv := view(g.f.inv, exp)
	domain := inv.Lattice.JSDomain
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	nc, err := g.f.connectHub(ctx, inv)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, domain)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, name := range wasmcloud.BucketNames(g.f.inv.Lattice.Name) {
		snap, err := readBucket(ctx, js, name, domain)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			continue
		}
		if err != nil {
			return files, fmt.Errorf("snapshot of bucket %s: %w", name, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.json", name, domain, snap.Taken.Format("20060102T150405Z")))
		if err := writeSnapshot(path, snap); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

func readBucket(ctx context.Context, js jetstream.JetStream, name, domain string) (*BucketSnapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	kv, err := js.KeyValue(ctx, name)
	if err != nil {
		return nil, err
	}
	snap := &BucketSnapshot{FormatVersion: "1.0", Bucket: name, Domain: domain, Taken: time.Now().UTC(), Entries: []BucketEntry{}}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil { // the initial values are all delivered
			return snap, nil
		}
		snap.Entries = append(snap.Entries, BucketEntry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Created: e.Created().UTC()})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("the watch ended before every key was read")
}

func writeSnapshot(path string, snap *BucketSnapshot) error {
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// RestoreBuckets puts every entry of the snapshot files into their buckets on the lattice's
// current domain (creating a missing bucket with replicas), in revision order. It returns
// the number of keys put.
func (g *Gates) RestoreBuckets(ctx context.Context, files []string, replicas int) (int, error) {
	nc, err := g.f.ConnectHub(ctx)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, g.f.inv.Lattice.JSDomain)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return n, err
		}
		var snap BucketSnapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
		if snap.FormatVersion != "1.0" || snap.Bucket == "" {
			return n, fmt.Errorf("%s: not a latticepush bucket snapshot (format %q)", path, snap.FormatVersion)
		}
		if _, err := ensureBucket(ctx, js, snap.Bucket, replicas); err != nil {
			return n, fmt.Errorf("bucket %s: %w", snap.Bucket, err)
		}
		kv, err := js.KeyValue(ctx, snap.Bucket)
		if err != nil {
			return n, err
		}
		sort.Slice(snap.Entries, func(i, j int) bool { return snap.Entries[i].Revision < snap.Entries[j].Revision })
		for _, e := range snap.Entries {
			if _, err := kv.Put(ctx, e.Key, e.Value); err != nil {
				return n, fmt.Errorf("%s: put %s: %w", snap.Bucket, e.Key, err)
			}
			n++
		}
	}
	return n, nil
}
