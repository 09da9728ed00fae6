package redisreg

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/registry/registrytest"
)

// benchBackends are the Redis servers every registry benchmark runs on, as
// sub-benchmarks: miniredis (in-process; what tests and `guildhall dev`
// use) and a real redis-server (what production uses).
var benchBackends = []struct {
	name    string
	cluster func(testing.TB) *cluster
}{
	{"miniredis", newMiniCluster},
	{"redis-server", newServerCluster},
}

// onBackends runs bench once per backend with two replicas: A hosts
// character 1.
func onBackends(b *testing.B, bench func(b *testing.B, a, other *Registry)) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			a, other := benchPair(b, be.cluster(b))
			bench(b, a, other)
		})
	}
}

// benchPair starts two replicas on c: A hosts character 1.
func benchPair(b *testing.B, c *cluster) (a, other *Registry) {
	c.prefix = "bench"
	a = c.start(b, "A", nil)
	other = c.start(b, "B", nil)
	ctx := context.Background()
	fc := registrytest.NewFakeChannel(registry.ChannelInfo{ID: 1, ReplicaID: "A", Addr: "a:1"})
	if err := a.Register(ctx, fc); err != nil {
		b.Fatal(err)
	}
	s := fc.Snapshot(1, "bench", "town", 0)
	fc.AddSession(s)
	if err := a.SessionOnline(ctx, s); err != nil {
		b.Fatal(err)
	}
	return a, other
}

// BenchmarkFindSession: a remote lookup (one GET) from another replica.
func BenchmarkFindSession(b *testing.B) {
	onBackends(b, func(b *testing.B, _, other *Registry) {
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			if _, err := other.FindSession(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWorldcastPublish: encode and PUBLISH one 64-byte frame.
func BenchmarkWorldcastPublish(b *testing.B) {
	onBackends(b, func(b *testing.B, a, _ *Registry) {
		ctx := context.Background()
		frame := make([]byte, 64)
		b.ResetTimer()
		for b.Loop() {
			if err := a.Worldcast(ctx, frame, 0, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSemaphoreAcquireRelease: obtain, fence and release.
func BenchmarkSemaphoreAcquireRelease(b *testing.B) {
	onBackends(b, func(b *testing.B, a, _ *Registry) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		h := registry.Holder{CharID: 1, ChannelID: 1}
		i := 0
		b.ResetTimer()
		for b.Loop() {
			i++
			name := fmt.Sprint("sem", i%64)
			if _, err := a.AcquireSemaphore(ctx, name, h); err != nil {
				b.Fatal(err)
			}
			if err := a.ReleaseSemaphore(ctx, name, h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
