package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestCheckIntervalsClean(t *testing.T) {
	ivs := []Interval{
		{Name: "a", Token: 3, Holder: 2, Grant: 30, Release: 40},
		{Name: "a", Token: 1, Holder: 1, Grant: 10, Release: 20},
		{Name: "a", Token: 2, Holder: 3, Grant: 20, Release: 30}, // back to back is fine
		{Name: "b", Token: 1, Holder: 1, Grant: 15, Release: 35}, // other names overlap freely
		{Name: "a", Token: 9, Holder: 1, Grant: 45, Release: 0, Open: true},
		{Name: "a", Token: 10, Holder: 2, Grant: 1000, Release: 1001}, // after an open tenure (lock expired)
	}
	if v := CheckIntervals(ivs); v != nil {
		t.Fatalf("violations on a clean history: %v", v)
	}
}

func TestCheckIntervalsViolations(t *testing.T) {
	for _, c := range []struct {
		name string
		ivs  []Interval
		want string
	}{
		{"overlap", []Interval{
			{Name: "s", Token: 1, Holder: 1, Grant: 10, Release: 30},
			{Name: "s", Token: 2, Holder: 2, Grant: 20, Release: 40},
		}, "before token 1 (holder 1) released"},
		{"token reused", []Interval{
			{Name: "s", Token: 5, Holder: 1, Grant: 10, Release: 20},
			{Name: "s", Token: 5, Holder: 2, Grant: 30, Release: 40},
		}, "granted twice"},
		{"token order against grant order", []Interval{
			{Name: "s", Token: 1, Holder: 1, Grant: 50, Release: 60},
			{Name: "s", Token: 2, Holder: 2, Grant: 10, Release: 20},
		}, "granted 40ns before token 1"},
		{"grant before an open tenure's grant", []Interval{
			{Name: "s", Token: 1, Holder: 1, Grant: 50, Open: true},
			{Name: "s", Token: 2, Holder: 2, Grant: 10, Release: 20},
		}, "before token 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := CheckIntervals(c.ivs)
			if len(v) != 1 || !strings.Contains(v[0], c.want) {
				t.Fatalf("violations %q, want one containing %q", v, c.want)
			}
		})
	}
}

func TestCheckIntervalsDoesNotModifyInput(t *testing.T) {
	ivs := []Interval{{Name: "a", Token: 2, Grant: time.Second, Release: 2 * time.Second}, {Name: "a", Token: 1, Release: time.Second}}
	CheckIntervals(ivs)
	if ivs[0].Token != 2 {
		t.Fatal("input reordered")
	}
}
