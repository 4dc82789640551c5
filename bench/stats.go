package main

import (
	"fmt"
	"slices"
	"time"
)

// dist is a sorted sample of durations.
type dist []time.Duration

func newDist(ds []time.Duration) dist {
	d := slices.Clone(ds)
	slices.Sort(d)
	return d
}

// pct is the p-th percentile (0 < p <= 100) by nearest rank: the smallest
// value with at least p% of the sample at or below it. Zero for no sample.
func (d dist) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	rank := int(float64(len(d))*p/100+0.999999999) - 1
	return d[min(max(rank, 0), len(d)-1)]
}

// perSecond is n over d, zero when d is not positive.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// peakPerSecond is the most events in any one-second window starting at an
// event, for times sorted or not.
func peakPerSecond(times []time.Time) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	peak, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return peak
}

// ms formats a duration in milliseconds, with a decimal below 10 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// seconds formats a longer duration in seconds, or in milliseconds below one.
func seconds(d time.Duration) string {
	if d < time.Second {
		return ms(d)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// ratio formats a/b as "0.93×", or "n/a" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// megabytes formats bytes in decimal megabytes, as the targets are given.
func megabytes(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
