package channel

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// FuzzSessionInput feeds arbitrary bytes as a connection's input (after a
// valid or invalid handshake) and checks that the server never panics, that
// the session ends and is cleaned up, and that the channel keeps serving.
func FuzzSessionInput(f *testing.F) {
	h := newHarness(f)
	srv := h.start(f, 1, nil)
	tok := h.store.addChar(1, "fuzzer")
	h.store.addChar(2, "target")

	frame := func(reqID uint32, m wire.Message) []byte {
		b, err := wire.Encode(reqID, m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	hello := frame(1, &wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: tok})
	join := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	f.Add(hello)
	f.Add(join(hello, frame(2, &wire.Ping{ClientTime: 1})))
	f.Add(join(hello, frame(2, &wire.StageCreate{StageID: "r", MaxPlayers: 2}), frame(3, &wire.StageEnter{StageID: "r"}),
		frame(4, &wire.Cast{Scope: wire.ScopeStage, Payload: []byte("x")}), frame(5, &wire.StageBack{})))
	f.Add(join(hello, frame(2, &wire.SemaAcquire{Name: "s", Capacity: 3}), frame(3, &wire.SemaWrite{Name: "s"})))
	f.Add(join(hello, frame(2, &wire.MailSend{ToName: "target", Subject: "s"}), frame(3, &wire.GuildCreate{Name: "g"}),
		frame(4, &wire.Cast{Scope: wire.ScopeGuild})))
	f.Add(join(hello, frame(2, &wire.Logout{})))
	f.Add(join(hello, []byte{0, 1, 0, 0, 0, 0x10, 0, 0, 0, 1}))
	f.Add([]byte{0, 0, 0, 6, 0, 1, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, input []byte) {
		client, server := net.Pipe()
		srv.startSession(server)
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			_, _ = io.Copy(io.Discard, client)
		}()
		_, _ = client.Write(input)
		_ = client.Close()
		<-drained
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := srv.waitEmpty(ctx); err != nil {
			t.Fatalf("session not cleaned up: %v", err)
		}
		if n := counter(h.met.PanicsRecovered); n != 0 {
			t.Fatalf("%d panics recovered:\n%s", n, h.logs.String())
		}
		if p := srv.Info().Players; p != 0 {
			t.Fatalf("players = %d after the session ended", p)
		}
	})
}
