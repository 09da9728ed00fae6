package registry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/registry/registrytest"
)

// benchLocal returns a Local with nChannels channels of perChannel sessions.
func benchLocal(b *testing.B, nChannels, perChannel int) *registry.Local {
	b.Helper()
	ctx := context.Background()
	reg := registry.NewLocal("r1", nil)
	b.Cleanup(func() { _ = reg.Close(ctx) })
	for c := 1; c <= nChannels; c++ {
		fc := registrytest.NewFakeChannel(registry.ChannelInfo{ID: uint16(c), ReplicaID: "r1"})
		if err := reg.Register(ctx, fc); err != nil {
			b.Fatal(err)
		}
		for i := range perChannel {
			s := fc.Snapshot(uint32(c*100000+i), fmt.Sprintf("player%d", c*100000+i), "town", 0)
			if err := reg.SessionOnline(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
	}
	return reg
}

func BenchmarkLocalFindSession(b *testing.B) {
	reg := benchLocal(b, 4, 1000)
	ctx := context.Background()
	for b.Loop() {
		if _, err := reg.FindSession(ctx, 200500); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalCast(b *testing.B) {
	reg := benchLocal(b, 4, 1000)
	ctx := context.Background()
	targets := []uint32{100001, 200002, 300003, 400004, 100005}
	frame := []byte("whisper")
	for b.Loop() {
		if _, err := reg.Cast(ctx, targets, frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalSearchSessionsByName(b *testing.B) {
	reg := benchLocal(b, 4, 1000)
	ctx := context.Background()
	f := registry.SessionFilter{NamePrefix: "PLAYER2005"}
	for b.Loop() {
		if _, err := reg.SearchSessions(ctx, f, 20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalSemaphoreAcquireRelease(b *testing.B) {
	reg := benchLocal(b, 1, 0)
	ctx := context.Background()
	h := registry.Holder{CharID: 1, ReplicaID: "r1", ChannelID: 1}
	for b.Loop() {
		if _, err := reg.AcquireSemaphore(ctx, "raid", h); err != nil {
			b.Fatal(err)
		}
		if err := reg.ReleaseSemaphore(ctx, "raid", h); err != nil {
			b.Fatal(err)
		}
	}
}
