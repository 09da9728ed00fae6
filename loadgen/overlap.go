package loadgen

import (
	"fmt"
	"sort"
	"time"
)

// Interval is one tenure of a global semaphore as its holder saw it: Grant is
// when the acquire's OK arrived, Release when the holder decided to release
// (before sending SemaRelease), both as offsets on the run's monotonic clock.
// Open marks a tenure whose end is unknown (the release failed or the
// connection died while holding); its end is not checked for overlap.
type Interval struct {
	Name    string        `json:"name"`
	Token   uint64        `json:"token"`
	Holder  int           `json:"holder"`
	Grant   time.Duration `json:"grant_ns"`
	Release time.Duration `json:"release_ns"`
	Open    bool          `json:"open,omitempty"`
}

// CheckIntervals verifies mutual exclusion and fencing for the tenures of
// each semaphore: ordered by token, tokens must strictly increase (no token
// issued twice), each tenure must begin at or after the previous one ended,
// and grants must happen in token order. It returns one human-readable line
// per violation (nil when all is well). ivs is not modified.
func CheckIntervals(ivs []Interval) []string {
	byName := make(map[string][]Interval)
	for _, iv := range ivs {
		byName[iv.Name] = append(byName[iv.Name], iv)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		list := byName[name]
		sort.SliceStable(list, func(i, j int) bool { return list[i].Token < list[j].Token })
		for i := 1; i < len(list); i++ {
			prev, cur := list[i-1], list[i]
			if cur.Token == prev.Token {
				out = append(out, fmt.Sprintf("semaphore %q: token %d granted twice (holders %d and %d)",
					name, cur.Token, prev.Holder, cur.Holder))
				continue
			}
			if cur.Grant < prev.Grant {
				out = append(out, fmt.Sprintf("semaphore %q: token %d (holder %d) granted %v before token %d (holder %d)",
					name, cur.Token, cur.Holder, prev.Grant-cur.Grant, prev.Token, prev.Holder))
				continue
			}
			if !prev.Open && cur.Grant < prev.Release {
				out = append(out, fmt.Sprintf("semaphore %q: token %d (holder %d) granted %v before token %d (holder %d) released",
					name, cur.Token, cur.Holder, prev.Release-cur.Grant, prev.Token, prev.Holder))
			}
		}
	}
	return out
}
