package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// isSentinel reports whether err wraps one of the documented decode errors.
func isSentinel(err error) bool {
	for _, s := range []error{wire.ErrFrameTooLarge, wire.ErrShort, wire.ErrTrailing, wire.ErrLimit, wire.ErrUTF8, wire.ErrUnknownType} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkDecode decodes payload as typ. A refusal must wrap a sentinel; an
// accepted payload must re-encode to the same bytes (the encoding is
// canonical) and decode again to an equal message.
func checkDecode(t *testing.T, typ wire.Type, payload []byte) {
	m := wire.New(typ)
	if m == nil {
		return
	}
	if err := wire.DecodeInto(payload, m); err != nil {
		if !isSentinel(err) {
			t.Fatalf("decode %s: error %v wraps no sentinel", typ, err)
		}
		return
	}
	if len(payload) > wire.MaxPayload {
		return // decodable, but no frame can carry it
	}
	b, err := wire.Encode(1, m)
	if err != nil {
		t.Fatalf("re-encode %s: %v", typ, err)
	}
	if !bytes.Equal(b[wire.HeaderSize:], payload) {
		t.Fatalf("re-encoding %s changed the payload:\n in  %x\n out %x", typ, payload, b[wire.HeaderSize:])
	}
	m2 := wire.New(typ)
	if err := wire.DecodeInto(b[wire.HeaderSize:], m2); err != nil {
		t.Fatalf("decode of re-encoded %s: %v", typ, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("%s: %#v != %#v after a round trip", typ, m, m2)
	}
}

func samplePayload(m wire.Message) []byte {
	b, err := wire.Encode(0, m)
	if err != nil {
		panic(err)
	}
	return b[wire.HeaderSize:]
}

// FuzzDecode: the first 2 bytes choose the type, the rest is the payload.
func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		f.Add(append(binary.BigEndian.AppendUint16(nil, uint16(m.Type())), samplePayload(m)...))
	}
	f.Add([]byte{0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		typ := wire.Type(binary.BigEndian.Uint16(data))
		frameBytes := append(binary.BigEndian.AppendUint32(nil, uint32(len(data)+4)), data[:2]...)
		frameBytes = append(frameBytes, 0, 0, 0, 9)
		frameBytes = append(frameBytes, data[2:]...)
		fr, err := wire.ParseFrame(frameBytes)
		if err != nil {
			if !errors.Is(err, wire.ErrFrameTooLarge) {
				t.Fatalf("ParseFrame of an honest frame: %v", err)
			}
			return
		}
		if _, err := fr.Decode(); err != nil && !isSentinel(err) {
			t.Fatalf("Decode: %v wraps no sentinel", err)
		}
		checkDecode(t, typ, data[2:])
	})
}

// FuzzParseFrame: any bytes as one frame.
func FuzzParseFrame(f *testing.F) {
	for i, m := range samples() {
		b, _ := wire.Encode(uint32(i), m)
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 6, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := wire.ParseFrame(b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("ParseFrame: %v wraps no sentinel", err)
			}
			return
		}
		if len(b) != wire.HeaderSize+len(fr.Payload) || len(b)-4 > wire.MaxFrame {
			t.Fatalf("accepted a frame of %d bytes with a %d-byte payload", len(b), len(fr.Payload))
		}
		m, err := fr.Decode()
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Decode: %v wraps no sentinel", err)
			}
			return
		}
		out, err := wire.Encode(fr.ReqID, m)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoded frame differs (%v):\n in  %x\n out %x", err, b, out)
		}
	})
}

// FuzzReadFrame: bytes as a stream of frames.
func FuzzReadFrame(f *testing.F) {
	var stream []byte
	for i, m := range samples() {
		stream, _ = wire.AppendFrame(stream, uint32(i), m)
	}
	f.Add(stream)
	f.Add(stream[:len(stream)-3])
	f.Add([]byte{0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		buf := make([]byte, 0, 16)
		off := 0
		for range 1000 {
			fr, nb, err := wire.ReadFrame(r, buf)
			buf = nb
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, wire.ErrFrameTooLarge) {
					t.Fatalf("ReadFrame: unexpected error %v", err)
				}
				if cap(buf) > wire.HeaderSize+wire.MaxFrame {
					t.Fatalf("buffer grew to %d", cap(buf))
				}
				return
			}
			n := wire.HeaderSize + len(fr.Payload)
			if n-4 > wire.MaxFrame || n-4 < 6 {
				t.Fatalf("frame length %d out of range", n-4)
			}
			if !bytes.Equal(fr.Payload, data[off+wire.HeaderSize:off+n]) ||
				uint16(fr.Type) != binary.BigEndian.Uint16(data[off+4:]) ||
				fr.ReqID != binary.BigEndian.Uint32(data[off+6:]) {
				t.Fatalf("frame at %d does not match the stream", off)
			}
			off += n
			if m, err := fr.Decode(); err == nil {
				checkDecode(t, m.Type(), fr.Payload)
			} else if !isSentinel(err) {
				t.Fatalf("Decode: %v wraps no sentinel", err)
			}
		}
	})
}

// fuzzType is the body of the FuzzDecode<Type> targets (fuzz_types_test.go).
func fuzzType(f *testing.F, typ wire.Type) {
	for _, m := range samples() {
		if m.Type() == typ {
			f.Add(samplePayload(m))
			if m2 := wire.New(typ); m2 != nil {
				f.Add(samplePayload(m2)) // the zero message
			}
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) { checkDecode(t, typ, payload) })
}

// TestFuzzTargetsCoverEveryType checks that fuzz_types_test.go declares a
// FuzzDecode<Type> target for every type of wire.Types().
func TestFuzzTargetsCoverEveryType(t *testing.T) {
	src, err := os.ReadFile("fuzz_types_test.go")
	if err != nil {
		t.Fatal(err)
	}
	// gofmt aligns the one-line declarations: compare without spaces.
	flat := strings.Join(strings.Fields(string(src)), "")
	for _, typ := range wire.Types() {
		decl := fmt.Sprintf("funcFuzzDecode%s(f*testing.F){fuzzType(f,wire.T%s)}", typ, typ)
		if !strings.Contains(flat, decl) {
			t.Errorf("missing fuzz target FuzzDecode%s", typ)
		}
	}
}
