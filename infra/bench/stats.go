package main

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Summary describes a set of latency samples.
type Summary struct {
	N   int           `json:"n"`
	Min time.Duration `json:"-"`
	P50 time.Duration `json:"-"`
	P99 time.Duration `json:"-"`
	Max time.Duration `json:"-"`
}

// Summarize computes the summary of samples (which it does not modify).
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return Summary{N: len(s), Min: s[0], P50: Percentile(s, 50), P99: Percentile(s, 99), Max: s[len(s)-1]}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted:
// the smallest sample such that at least p% of the samples are <= it. p <= 0
// gives the minimum. sorted must be in ascending order; empty gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Ratio is a/b, or NaN when b is not positive (no baseline).
func Ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(b) || math.IsNaN(a) {
		return math.NaN()
	}
	return a / b
}

// DurationRatio is a/b for durations.
func DurationRatio(a, b time.Duration) float64 { return Ratio(float64(a), float64(b)) }

// Millis is d in milliseconds, for the JSON report.
func Millis(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// jsonRatio rounds a ratio to 3 decimals and maps NaN to nil (JSON has no NaN).
func jsonRatio(r float64) *float64 {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return nil
	}
	v := math.Round(r*1000) / 1000
	return &v
}

// fmtRatio formats a ratio for the table ("×1.84", "-" when unknown).
func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	switch {
	case r >= 100:
		return "×" + trimFloat(r, 0)
	case r >= 10:
		return "×" + trimFloat(r, 1)
	}
	return "×" + trimFloat(r, 2)
}

// fmtMillis formats a duration as milliseconds with 2 significant decimals
// below 10 ms ("0.84ms", "12.3ms", "153ms").
func fmtMillis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "-"
	case ms >= 100:
		return trimFloat(ms, 0) + "ms"
	case ms >= 10:
		return trimFloat(ms, 1) + "ms"
	}
	return trimFloat(ms, 2) + "ms"
}

// fmtBytes formats a size in MiB with one decimal.
func fmtBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return trimFloat(float64(n)/(1<<20), 1) + " MiB"
}

func trimFloat(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
