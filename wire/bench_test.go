package wire_test

import (
	"bytes"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

func benchCast() *wire.CastMsg {
	return &wire.CastMsg{Scope: wire.ScopeStage, SenderID: 42, SenderName: "Alice", Payload: bytes.Repeat([]byte("x"), 64)}
}

func BenchmarkEncodeCastMsg(b *testing.B) {
	m := benchCast()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = wire.AppendFrame(buf[:0], 0, m)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCastMsg(b *testing.B) {
	fr, err := wire.Encode(0, benchCast())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(fr)))
	for b.Loop() {
		f, err := wire.ParseFrame(fr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Decode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFrame(b *testing.B) {
	one, err := wire.Encode(0, benchCast())
	if err != nil {
		b.Fatal(err)
	}
	stream := bytes.Repeat(one, 1024)
	r := bytes.NewReader(stream)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(one)))
	for b.Loop() {
		if r.Len() == 0 {
			r.Reset(stream)
		}
		var err error
		_, buf, err = wire.ReadFrame(r, buf)
		if err != nil {
			b.Fatal(err)
		}
	}
}
