package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// frame builds a raw frame with an honest length.
func frame(t wire.Type, reqID uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(6+len(payload)))
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint32(b, reqID)
	return append(b, payload...)
}

// lenFrame builds a frame header with an arbitrary length field.
func lenFrame(length uint32, rest []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, length), rest...)
}

func str(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestParseFrameErrors(t *testing.T) {
	ok := frame(wire.TPing, 1, make([]byte, 8))
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, wire.ErrShort},
		{"short header", ok[:wire.HeaderSize-1], wire.ErrShort},
		{"length below 6", lenFrame(5, make([]byte, 6)), wire.ErrFrameTooLarge},
		{"length zero", lenFrame(0, make([]byte, 6)), wire.ErrFrameTooLarge},
		{"length over MaxFrame", lenFrame(wire.MaxFrame+1, make([]byte, 6)), wire.ErrFrameTooLarge},
		{"length 0xFFFFFFFF", lenFrame(0xFFFFFFFF, make([]byte, 6)), wire.ErrFrameTooLarge},
		{"body shorter than length", ok[:len(ok)-1], wire.ErrShort},
		{"trailing bytes", append(append([]byte{}, ok...), 0), wire.ErrTrailing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := wire.ParseFrame(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("ParseFrame = %v, want %v", err, tc.want)
			}
		})
	}
	f, err := wire.ParseFrame(ok)
	if err != nil || f.Type != wire.TPing || f.ReqID != 1 || len(f.Payload) != 8 {
		t.Fatalf("valid frame: %+v %v", f, err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	ok := frame(wire.TPing, 1, make([]byte, 8))
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty stream", nil, io.EOF},
		{"partial header", ok[:5], io.ErrUnexpectedEOF},
		{"partial body", ok[:len(ok)-1], io.ErrUnexpectedEOF},
		{"length below 6", lenFrame(3, make([]byte, 100)), wire.ErrFrameTooLarge},
		{"length over MaxFrame", lenFrame(wire.MaxFrame+1, make([]byte, 100)), wire.ErrFrameTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := wire.ReadFrame(bytes.NewReader(tc.b), nil); !errors.Is(err, tc.want) {
				t.Fatalf("ReadFrame = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReadFrameHostileLength: a length over MaxFrame is refused after the
// header, before anything is allocated for the body or read from it.
func TestReadFrameHostileLength(t *testing.T) {
	r := bytes.NewReader(lenFrame(0xFFFFFFF0, make([]byte, 1000)))
	buf := make([]byte, 0, 64)
	_, nb, err := wire.ReadFrame(r, buf)
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if cap(nb) != 64 {
		t.Fatalf("buffer grown to %d for a refused frame", cap(nb))
	}
	if read := 4 + 1000 - r.Len(); read != wire.HeaderSize {
		t.Fatalf("read %d bytes, want only the %d-byte header", read, wire.HeaderSize)
	}
	// A legal length grows the buffer to exactly the frame, never more.
	b := frame(wire.TSaveData, 1, cat(u32(wire.MaxSaveData), make([]byte, wire.MaxSaveData)))
	_, nb, err = wire.ReadFrame(bytes.NewReader(b), buf)
	if err != nil || cap(nb) > wire.HeaderSize+wire.MaxFrame || len(nb) != len(b) {
		t.Fatalf("legal big frame: cap %d len %d err %v", cap(nb), len(nb), err)
	}
}

func TestDecodeErrors(t *testing.T) {
	bad := string([]byte{0xff, 0xfe})
	cases := []struct {
		name    string
		typ     wire.Type
		payload []byte
		want    error
	}{
		{"unknown type", wire.Type(0x7777), nil, wire.ErrUnknownType},
		{"trailing byte", wire.TPing, make([]byte, 9), wire.ErrTrailing},
		{"trailing on empty message", wire.TLogout, []byte{0}, wire.ErrTrailing},
		{"short u64", wire.TPing, make([]byte, 7), wire.ErrShort},
		{"bad UTF-8", wire.TStageClients, str(bad), wire.ErrUTF8},
		{"bad UTF-8 in list element", wire.TGuildInfo, cat(u32(1), str("g"), u32(2), u16(1), u32(3), str(bad), []byte{0}), wire.ErrUTF8},
		{"bool byte 2", wire.TStageLock, cat(str("s"), []byte{2}), wire.ErrLimit},
		{"bool byte 255", wire.TStageList, cat(str("s"), u16(1), []byte{255}), wire.ErrLimit},
		{"stage ID over MaxStageID", wire.TStageClients, str(strings.Repeat("a", wire.MaxStageID+1)), wire.ErrLimit},
		{"name over MaxName", wire.TGuildCreate, str(strings.Repeat("n", wire.MaxName+1)), wire.ErrLimit},
		{"token over MaxShort", wire.THello, cat(u32(wire.Magic), u16(1), str(strings.Repeat("t", wire.MaxShort+1))), wire.ErrLimit},
		{"notice over MaxText", wire.TNotice, str(strings.Repeat("x", wire.MaxText+1)), wire.ErrLimit},
		{"string length beyond payload", wire.TStageClients, cat(u16(10), []byte("abc")), wire.ErrShort},
		{"cast payload over MaxCastPayload", wire.TCast, cat([]byte{1}, u16(0), u32(wire.MaxCastPayload+1), make([]byte, wire.MaxCastPayload+1)), wire.ErrLimit},
		{"blob length 0xFFFFFFFF", wire.TSaveData, u32(0xFFFFFFFF), wire.ErrLimit},
		{"blob length beyond payload", wire.TSaveData, cat(u32(100), []byte("abc")), wire.ErrShort},
		{"list count over MaxList", wire.TCast, cat([]byte{4}, u16(wire.MaxList+1), make([]byte, 4*(wire.MaxList+1)), u32(0)), wire.ErrLimit},
		{"list count beyond remaining bytes", wire.TCast, cat([]byte{4}, u16(3), u32(1), u32(2)), wire.ErrShort},
		{"member count beyond remaining bytes", wire.TGuildInfo, cat(u32(1), str("g"), u32(2), u16(2), u32(3), str("a"), []byte{0}), wire.ErrShort},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := wire.ParseFrame(frame(tc.typ, 1, tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			m, err := f.Decode()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want %v", m, err, tc.want)
			}
			if m != nil {
				t.Fatalf("Decode returned a message with an error")
			}
		})
	}
}

// TestDecodeTruncated: every proper prefix of every sample fails with ErrShort.
func TestDecodeTruncated(t *testing.T) {
	for _, m := range samples() {
		b, err := wire.Encode(1, m)
		if err != nil {
			t.Fatal(err)
		}
		payload := b[wire.HeaderSize:]
		for n := range len(payload) {
			err := wire.DecodeInto(payload[:n], wire.New(m.Type()))
			if !errors.Is(err, wire.ErrShort) {
				t.Fatalf("%s cut at %d of %d: %v, want ErrShort", m.Type(), n, len(payload), err)
			}
		}
	}
}

func TestReaderStickyError(t *testing.T) {
	r := wire.NewReader([]byte{0, 5, 'a'})
	if s := r.String(10); s != "" || !errors.Is(r.Err(), wire.ErrShort) {
		t.Fatalf("String = %q, %v", s, r.Err())
	}
	if v := r.U8(); v != 0 || !errors.Is(r.Err(), wire.ErrShort) {
		t.Fatalf("read after an error = %d, %v", v, r.Err())
	}
	r.Fail(wire.ErrLimit)
	if !errors.Is(r.Err(), wire.ErrShort) {
		t.Fatal("Fail replaced the first error")
	}
}

func TestCountRefusesHostileCounts(t *testing.T) {
	// 100 bytes remain: 1024 elements of at least 4 bytes cannot fit.
	r := wire.NewReader(cat(u16(1024), make([]byte, 100)))
	if n := r.Count(wire.MaxList, 4); n != 0 || !errors.Is(r.Err(), wire.ErrShort) {
		t.Fatalf("Count = %d, %v", n, r.Err())
	}
	r = wire.NewReader(cat(u16(25), make([]byte, 100)))
	if n := r.Count(wire.MaxList, 4); n != 25 || r.Err() != nil {
		t.Fatalf("Count of an honest list = %d, %v", n, r.Err())
	}
	r = wire.NewReader(cat(u16(wire.MaxList+1), make([]byte, 8*wire.MaxList)))
	if n := r.Count(wire.MaxList, 1); n != 0 || !errors.Is(r.Err(), wire.ErrLimit) {
		t.Fatalf("Count over max = %d, %v", n, r.Err())
	}
}

// allocBytes returns the average heap bytes allocated by f.
func allocBytes(runs int, f func()) uint64 {
	var before, after runtime.MemStats
	f() // warm up
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestHostileCountsDoNotAllocate: a list count or byte-string length that
// the frame cannot hold is refused before the decoder allocates for it.
// Honest decoding of the same list would allocate tens of kilobytes.
func TestHostileCountsDoNotAllocate(t *testing.T) {
	hostile := []struct {
		name string
		typ  wire.Type
		b    []byte
	}{
		{"player list", wire.TPlayerList, cat(u16(wire.MaxList), make([]byte, 64))},
		{"stage list", wire.TStageListResp, cat(u16(wire.MaxList), make([]byte, 64))},
		{"mail list", wire.TMailListResp, cat(u16(wire.MaxList), make([]byte, 64))},
		{"guild members", wire.TGuildInfo, cat(u32(1), str("g"), u32(2), u16(wire.MaxList), make([]byte, 64))},
		{"stage members", wire.TStageInfo, cat(str("s"), u32(1), u16(4), []byte{0, 0}, u16(wire.MaxList), make([]byte, 64))},
		{"cast targets", wire.TCast, cat([]byte{4}, u16(wire.MaxList), make([]byte, 64))},
		{"save data blob", wire.TSaveData, cat(u32(wire.MaxSaveData), make([]byte, 64))},
		{"cast payload blob", wire.TCast, cat([]byte{1}, u16(0), u32(0xFFFFFFFF))},
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			b := frame(h.typ, 1, h.b)
			var derr error
			n := allocBytes(50, func() {
				f, err := wire.ParseFrame(b)
				if err == nil {
					_, derr = f.Decode()
				}
			})
			if derr == nil {
				t.Fatal("hostile frame decoded")
			}
			// The message struct and the wrapped error: far below what the
			// claimed count would cost (>= 7 KiB for any list above).
			if n > 2048 {
				t.Fatalf("decoding a %d-byte hostile frame allocated %d bytes", len(b), n)
			}
		})
	}
}

// TestTypeString covers names of known and unknown types.
func TestTypeString(t *testing.T) {
	if wire.TCastMsg.String() != "CastMsg" || wire.Type(0xBEEF).String() != "Type(0xbeef)" {
		t.Fatalf("%s %s", wire.TCastMsg, wire.Type(0xBEEF))
	}
	if wire.CodeStaleToken.String() != "stale fencing token" || wire.ErrorCode(999).String() != "error 999" {
		t.Fatal("ErrorCode.String")
	}
}
