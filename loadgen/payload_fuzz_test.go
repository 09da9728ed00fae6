package loadgen

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// FuzzParsePayload: cast payloads come from the network. ParsePayload never
// panics; what it accepts encodes back (Put) to the same first PayloadSize
// bytes; what it refuses is errNotLoad.
//
//	go test -run '^$' -fuzz FuzzParsePayload -fuzztime 30s ./loadgen/
func FuzzParsePayload(f *testing.F) {
	for _, p := range []Payload{
		{},
		{Stream: 1, Seq: 2, SentNs: 3, Sender: 4, Replica: 5},
		{Stream: math.MaxUint32, Seq: math.MaxUint64, SentNs: math.MinInt64, Sender: math.MaxUint32, Replica: math.MaxUint16},
	} {
		b := make([]byte, PayloadSize+8)
		p.Put(b)
		f.Add(b)
		f.Add(b[:PayloadSize])
		f.Add(b[:PayloadSize-1])
		bad := bytes.Clone(b)
		bad[31] = 1 // reserved
		f.Add(bad)
	}
	f.Add([]byte{})
	f.Add([]byte("LOAD"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		p, err := ParsePayload(b)
		if !bytes.Equal(in, b) {
			t.Fatal("ParsePayload modified its input")
		}
		if err != nil {
			if !errors.Is(err, errNotLoad) {
				t.Fatalf("error %v is not errNotLoad", err)
			}
			if p != (Payload{}) {
				t.Fatalf("refused payload returned non-zero %+v", p)
			}
			return
		}
		if len(b) < PayloadSize {
			t.Fatalf("accepted %d bytes, shorter than PayloadSize", len(b))
		}
		out := make([]byte, PayloadSize)
		p.Put(out)
		if !bytes.Equal(out, b[:PayloadSize]) {
			t.Fatalf("re-encoded %x, parsed from %x", out, b[:PayloadSize])
		}
		again, err := ParsePayload(out)
		if err != nil || again != p {
			t.Fatalf("re-parse of the re-encoding: %+v, %v; want %+v", again, err, p)
		}
	})
}
