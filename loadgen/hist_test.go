package loadgen

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Count() != 0 || h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram: count %d p50 %v max %v mean %v", h.Count(), h.Quantile(0.5), h.Max(), h.Mean())
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.01, 1}, {0.5, 50}, {0.95, 95}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if h.Mean() != 50 { // (1+100)/2 = 50.5 truncated
		t.Errorf("Mean = %v, want 50ns", h.Mean())
	}
}

// exactQuantile is the reference: the ceil(q*n)-th smallest value.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestHistogramRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var vals []int64
	for i := 0; i < 50000; i++ {
		// log-uniform from 1 µs to 10 s
		v := int64(math.Exp(rng.Float64()*math.Log(1e7)) * 1e3)
		vals = append(vals, v)
		h.Record(time.Duration(v))
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.1, 0.5, 0.9, 0.95, 0.99, 0.999} {
		want := exactQuantile(vals, q)
		got := int64(h.Quantile(q))
		if got < want {
			t.Errorf("q%v: %d under-reports exact %d", q, got, want)
		}
		if rel := float64(got-want) / float64(want); rel > 1.0/64 {
			t.Errorf("q%v: %d vs exact %d: relative error %.4f > 1/64", q, got, want, rel)
		}
	}
	if h.Max() != time.Duration(vals[len(vals)-1]) || h.Min() != time.Duration(vals[0]) {
		t.Errorf("min/max %v/%v, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
}

func TestHistogramBucketsContiguous(t *testing.T) {
	// Every bucket's range starts right after the previous one ends, and
	// bucketOf maps both ends back to the bucket.
	prevHi := int64(-1)
	for i := 0; i < histBuckets; i++ {
		lo, hi := bucketBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || (i < histBuckets-1 && bucketOf(hi) != i) {
			t.Fatalf("bucket %d [%d,%d]: bucketOf(lo)=%d bucketOf(hi)=%d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = hi
	}
}

func TestHistogramHugeAndNegative(t *testing.T) {
	var h Histogram
	h.Record(-5 * time.Second)
	h.Record(10 * time.Minute) // beyond the last bucket's start
	if h.Min() != 0 {
		t.Errorf("negative recorded as %v, want 0", h.Min())
	}
	if got := h.Quantile(0.99); got != 10*time.Minute {
		t.Errorf("p99 = %v, want the exact max 10m", got)
	}
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("p50 = %v, want 0", got)
	}
}

func TestHistogramMergeEqualsRecordingAll(t *testing.T) {
	var a, b, all Histogram
	for i := 0; i < 1000; i++ {
		d := time.Duration(i*i) * time.Microsecond
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		all.Record(d)
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(nil)
	m.Merge(&Histogram{})
	if m.Count() != all.Count() || m.Min() != all.Min() || m.Max() != all.Max() || m.Mean() != all.Mean() {
		t.Fatalf("merged count/min/max/mean %d/%v/%v/%v, want %d/%v/%v/%v",
			m.Count(), m.Min(), m.Max(), m.Mean(), all.Count(), all.Min(), all.Max(), all.Mean())
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %v, direct %v", q, m.Quantile(q), all.Quantile(q))
		}
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 1000; i++ {
				r.Record(g, time.Duration(i)*time.Microsecond)
			}
		}(g)
	}
	for g := 0; g < 8; g++ {
		<-done
	}
	s := r.Snapshot()
	if s.Count() != 8000 || s.Max() != 999*time.Microsecond {
		t.Fatalf("count %d max %v, want 8000 and 999µs", s.Count(), s.Max())
	}
}

func TestSummaryMilliseconds(t *testing.T) {
	var h Histogram
	h.Record(2 * time.Millisecond)
	s := h.Summary()
	if s.Count != 1 || s.MaxMs != 2 || s.P50Ms != 2 {
		t.Fatalf("summary %+v, want count 1, p50 and max 2 ms", s)
	}
}
