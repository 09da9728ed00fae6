package redisreg

import (
	"errors"
	"testing"

	"github.com/guildhall/guildhall/registry"
)

// The values the registry reads back from Redis (presence, stage index,
// channel info, semaphore holder) are input like any other: whatever bytes a
// key holds, the decoders return a value or an error wrapping ErrMalformed,
// never a panic, and what decodes re-encodes to the same bytes.

func fuzzRecord[T any](f *testing.F, seeds []string, decode func(string) (T, error), encode func(T) string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(string(b))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if again := encode(v); again != string(b) {
			t.Fatalf("re-encode differs:\n in %x\nout %x", b, again)
		}
	})
}

func FuzzDecodeSession(f *testing.F) {
	fuzzRecord(f, []string{
		encodeSession(registry.SessionSnapshot{CharID: 7, Name: "Alice", ReplicaID: "r1", ChannelID: 2, Addr: "127.0.0.1:54002", StageID: "town", GuildID: 3}),
		encodeSession(registry.SessionSnapshot{}),
	}, decodeSession, encodeSession)
}

func FuzzDecodeStage(f *testing.F) {
	fuzzRecord(f, []string{
		encodeStage(registry.StageSnapshot{StageID: "raid", ReplicaID: "r2", ChannelID: 3, Addr: "a:1", Players: 4, MaxPlayers: 8, Locked: true, HasPassword: true}),
	}, decodeStage, encodeStage)
}

func FuzzDecodeChannel(f *testing.F) {
	fuzzRecord(f, []string{
		encodeChannel(registry.ChannelInfo{ID: 1, Name: "Channel 1", ReplicaID: "r1", Addr: "127.0.0.1:54001", Players: 10, MaxPlayers: 100, Draining: true}),
	}, decodeChannel, encodeChannel)
}

func FuzzDecodeHolder(f *testing.F) {
	fuzzRecord(f, []string{
		encodeHolder(registry.Holder{CharID: 9, ReplicaID: "r3", ChannelID: 5, Addr: "127.0.0.1:54005"}),
	}, decodeHolder, encodeHolder)
}
