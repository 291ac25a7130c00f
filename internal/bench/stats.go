package bench

import (
	"fmt"
	"slices"
	"time"
)

// Series is the wall times of repeated runs of one case.
type Series []time.Duration

// Median is the middle run (the mean of the two middle runs for an even count); 0 when empty.
func (s Series) Median() time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	if n := len(c); n%2 == 0 {
		return (c[n/2-1] + c[n/2]) / 2
	}
	return c[len(c)/2]
}

// Sum is the runs' total.
func (s Series) Sum() time.Duration {
	var t time.Duration
	for _, d := range s {
		t += d
	}
	return t
}

// Min is the fastest run; 0 when empty.
func (s Series) Min() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

// Max is the slowest run; 0 when empty.
func (s Series) Max() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// Spread is "min–max" in seconds, for tables.
func (s Series) Spread() string {
	if len(s) == 0 {
		return "—"
	}
	return secs(s.Min()) + "–" + secs(s.Max())
}

func secs(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
}

// ratio is a/b as "N.N×", or "—" when either is missing.
func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f×", float64(a)/float64(b))
}
