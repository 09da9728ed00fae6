package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram geometry. Values below histExact nanoseconds are counted
// exactly; above, each power-of-two octave is split into histSub equal
// buckets, so a bucket is at most 1/histSub (about 1.6 %) of its value wide.
// Values of histMaxShift octaves and more (about 137 s) share the last bucket;
// Max still reports them exactly.
const (
	histSubBits  = 7
	histExact    = 1 << histSubBits // 128
	histSub      = histExact / 2    // 64 buckets per octave
	histMaxShift = 30               // top bucket starts near 2^37 ns
	histBuckets  = histExact + histMaxShift*histSub
)

// Histogram is a log-bucketed latency histogram in the spirit of HDR
// Histogram: constant relative precision (at most 1/64 of the value) over a
// range of 1 ns to about 137 s, fixed memory, O(1) Record. The zero value is
// ready to use. A Histogram is not safe for concurrent use; use one per
// goroutine or guard it, and Merge them at the end.
type Histogram struct {
	counts []uint64
	total  uint64
	min    int64
	max    int64
	sum    float64
}

// bucketOf returns the bucket index of v (v >= 0).
func bucketOf(v int64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits // >= 1
	if shift > histMaxShift {
		return histBuckets - 1
	}
	top := int(uint64(v) >> uint(shift)) // in [histSub, histExact)
	return histExact + (shift-1)*histSub + (top - histSub)
}

// bucketBounds returns the smallest and largest value counted in bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < histExact {
		return int64(i), int64(i)
	}
	shift := (i-histExact)/histSub + 1
	top := int64((i-histExact)%histSub + histSub)
	lo = top << uint(shift)
	if i == histBuckets-1 {
		return lo, math.MaxInt64
	}
	return lo, lo + (int64(1) << uint(shift)) - 1
}

// Record adds one observation. Negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// Merge adds every observation of o to h. o is not modified.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.total }

// Min returns the smallest observation (0 when empty).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max returns the largest observation, exactly (0 when empty).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the arithmetic mean (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the q-quantile (q in [0, 1], clamped): the smallest
// bucket upper bound at or below which at least ceil(q*Count) observations
// lie, clamped to [Min, Max]. It never under-reports by more than the bucket
// width, and never exceeds Max. An empty histogram returns 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q != q || q <= 0 { // NaN or non-positive
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			_, hi := bucketBounds(i)
			if hi > h.max {
				hi = h.max
			}
			if hi < h.min {
				hi = h.min
			}
			return time.Duration(hi)
		}
	}
	return time.Duration(h.max)
}

// LatencySummary is the figures a report shows for one histogram, in
// milliseconds (fractional) so JSON stays readable and comparable.
type LatencySummary struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summary returns the histogram's summary figures.
func (h *Histogram) Summary() LatencySummary {
	return LatencySummary{
		Count:  h.total,
		MeanMs: ms(h.Mean()),
		P50Ms:  ms(h.Quantile(0.50)),
		P95Ms:  ms(h.Quantile(0.95)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(h.Max()),
	}
}
