// Package poll paces a loop that waits for a condition on a live system: a reload to take
// effect, a leaf to link, a bucket's leader to be elected. The first waits are short, so a
// condition met at once costs no fixed delay; they grow, so a long wait costs few tries.
package poll

import (
	"context"
	"time"
)

// Backoff is the wait between two tries: Next the coming one, doubled after each wait up to
// Max. The zero value waits 10ms first and at most 1s.
type Backoff struct {
	Next, Max time.Duration
}

// New returns a Backoff that waits first, then twice as long each time, up to most.
func New(first, most time.Duration) *Backoff { return &Backoff{Next: first, Max: most} }

// Wait sleeps for the coming wait, or until ctx ends: it reports whether the caller should
// try again (false once ctx is done).
func (b *Backoff) Wait(ctx context.Context) bool {
	if b.Next <= 0 {
		b.Next = 10 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = time.Second
	}
	t := time.NewTimer(min(b.Next, b.Max))
	defer t.Stop()
	b.Next = min(2*b.Next, b.Max)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
