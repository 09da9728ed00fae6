package redisreg

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/guildhall/guildhall/registry"
)

// The sweeper tells the other players who left even when it runs after the
// crashed replica's presence keys have expired (presence TTL no longer than
// the lease, or a sweep tick that falls late): the per-channel session index
// outlives both by a sweep interval. Seen in the multi-process kill -9 test,
// where a sweep 4 s after the crash (TTLs 3 s) found no sessions to report.
func TestSweepAfterPresenceExpiredStillReportsLost(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	var mu sync.Mutex
	var lost []uint32
	a := c.start(t, "A", nil)
	b := c.start(t, "B", func(o *Options) {
		o.OnSessionsLost = func(_ context.Context, _ string, l []registry.SessionSnapshot) {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range l {
				lost = append(lost, s.CharID)
			}
		}
	})
	fake(t, ctx, a, 1, 11, 12)

	a.halt() // crash: nothing removed
	// Past both the presence TTL and the lease, before the index TTL.
	c.mini.FastForward(max(DefaultPresenceTTL, DefaultLeaseTTL) + time.Millisecond)
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := b.FindSession(ctx, 11); err == nil {
		t.Fatalf("presence of crashed replica's player still there: %+v", s)
	}
	if got, err := b.SearchSessions(ctx, registry.SessionFilter{}, 0); err != nil || len(got) != 0 {
		t.Fatalf("search before the sweep shows the dead replica's players: %+v %v", got, err)
	}
	if swept, err := b.Sweep(ctx); err != nil || !slices.Equal(swept, []string{"A"}) {
		t.Fatalf("sweep = %v, %v; want [A]", swept, err)
	}
	eventually(t, "OnSessionsLost with 11 and 12", func() error {
		mu.Lock()
		defer mu.Unlock()
		if got := slices.Sorted(slices.Values(lost)); !slices.Equal(got, []uint32{11, 12}) {
			return fmt.Errorf("lost = %v", got)
		}
		return nil
	})
	if n := c.mini.Keys(); slices.ContainsFunc(n, func(k string) bool { return k == c.prefix+":chsess:1" }) {
		t.Fatalf("sweep left the dead channel's session index: %v", n)
	}
}
