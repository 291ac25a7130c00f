package verify

import (
	"context"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latticepush/latticepush/inventory"
)

// ExternalStream is a stream whose mirror or source reaches its upstream through a JetStream
// API prefix stored in the stream's configuration (External.APIPrefix, "$JS.<domain>.API").
// Such a stream silently stops copying once that domain is gone, and the server refuses to
// edit its mirror (err 10055): it has to be deleted and created again.
type ExternalStream struct {
	// Domain is the JetStream domain holding the stream, as its server reports it.
	Domain string `json:"domain"`
	// Via is the inventory host the stream was listed through.
	Via      string `json:"via"`
	Stream   string `json:"stream"`
	Kind     string `json:"kind"` // "mirror" or "source"
	Upstream string `json:"upstream"`
	// APIPrefix is the prefix as stored, e.g. "$JS.hub.API".
	APIPrefix string `json:"api_prefix"`
}

func (s ExternalStream) String() string {
	return fmt.Sprintf("stream %s in domain %q (via %s) %ss %s through %s", s.Stream, s.Domain, s.Via, s.Kind, s.Upstream, s.APIPrefix)
}

// DomainScan is what ScanAPIPrefix found.
type DomainScan struct {
	Streams []ExternalStream `json:"streams,omitempty"`
	// Scanned names each JetStream that was listed, with the host it was listed through:
	// `"hub" via hub-1`.
	Scanned []string `json:"scanned,omitempty"`
	// Unscanned names each JetStream that could not be listed, and why: the scan is then
	// incomplete, and the operator has to look there by hand.
	Unscanned []string `json:"unscanned,omitempty"`
}

// ScanAPIPrefix lists, in every JetStream domain reachable through targets, the streams whose
// mirror or sources store the API prefix of domain ("$JS.<domain>.API"). Those are the
// streams a change of that domain breaks, and they mostly live outside the hub: the hub's
// JetStream is listed through a hub node (as user latticepush in account LATTICE), and each
// leaf that runs JetStream of its own through that leaf's client port (account $G). Every
// reachable domain is listed once; failures are reported in Unscanned, never as an error.
func ScanAPIPrefix(ctx context.Context, inv *inventory.Inventory, targets []Target, domain string, opts Options) DomainScan {
	r := newRound(inv, targets, opts)
	defer r.close()
	return r.scanAPIPrefix(ctx, domain)
}

func (r *round) scanAPIPrefix(ctx context.Context, domain string) DomainScan {
	prefix := "$JS." + domain + ".API"
	var scan DomainScan
	if nc, hub, err := r.hubSide(ctx); err != nil {
		scan.Unscanned = append(scan.Unscanned, "the hub: "+err.Error())
	} else if err := r.scanStreams(ctx, nc, hub, prefix, &scan); err != nil {
		scan.Unscanned = append(scan.Unscanned, fmt.Sprintf("the hub (via %s): %v", hub, err))
	}
	for _, leaf := range r.leaves() {
		if leaf.Leaf.JetStreamDomain == "" {
			continue // no JetStream of its own: nothing stored there
		}
		nc, err := r.connect(ctx, leaf)
		if err == nil {
			err = r.scanStreams(ctx, nc, leaf.Name, prefix, &scan)
			nc.Close()
		}
		if err != nil {
			scan.Unscanned = append(scan.Unscanned, fmt.Sprintf("leaf %s (domain %q): %v", leaf.Name, leaf.Leaf.JetStreamDomain, err))
		}
	}
	sort.Slice(scan.Streams, func(i, j int) bool { return scan.Streams[i].String() < scan.Streams[j].String() })
	return scan
}

// scanStreams lists the streams of the JetStream nc is connected to (no domain: the local one)
// and appends those whose mirror or sources use prefix.
func (r *round) scanStreams(ctx context.Context, nc *nats.Conn, via, prefix string, scan *DomainScan) error {
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(r.opts.Timeout))
	if err != nil {
		return err
	}
	sctx, cancel := r.step(ctx)
	defer cancel()
	ai, err := js.AccountInfo(sctx)
	if err != nil {
		return fmt.Errorf("account info: %w", err)
	}
	scan.Scanned = append(scan.Scanned, fmt.Sprintf("%q via %s", ai.Domain, via))
	found := func(si *jetstream.StreamInfo, kind string, src *jetstream.StreamSource) {
		if src == nil || src.External == nil || src.External.APIPrefix != prefix {
			return
		}
		scan.Streams = append(scan.Streams, ExternalStream{Domain: ai.Domain, Via: via, Stream: si.Config.Name,
			Kind: kind, Upstream: src.Name, APIPrefix: src.External.APIPrefix})
	}
	streams := js.ListStreams(sctx)
	for si := range streams.Info() {
		found(si, "mirror", si.Config.Mirror)
		for _, src := range si.Config.Sources {
			found(si, "source", src)
		}
	}
	if err := streams.Err(); err != nil {
		return fmt.Errorf("list streams: %w", err)
	}
	return nil
}
