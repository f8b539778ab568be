package main

import (
	"fmt"
	"slices"
	"time"
)

// latencies collects durations for percentiles.
type latencies []time.Duration

// pct is the p-th percentile (0 < p <= 100), nearest rank.
func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	k := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(k, len(s)-1))]
}

func (l latencies) max() time.Duration {
	if len(l) == 0 {
		return 0
	}
	return slices.Max(l)
}

// summary is "p50 … p90 … p99 … max …".
func (l latencies) summary() string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", ms(l.pct(50)), ms(l.pct(90)), ms(l.pct(99)), ms(l.max()))
}

// ms formats d in milliseconds with enough digits for sub-millisecond
// figures.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 100:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.0f ms", f)
}

func mib(b float64) string {
	if b < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", b/(1<<20))
}
