package wire_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

func TestSamplesCoverEveryType(t *testing.T) {
	have := map[wire.Type]bool{}
	for _, m := range samples() {
		if have[m.Type()] {
			t.Errorf("two samples of %s", m.Type())
		}
		have[m.Type()] = true
	}
	for _, typ := range wire.Types() {
		if !have[typ] {
			t.Errorf("no sample of %s", typ)
		}
		if wire.New(typ) == nil || wire.New(typ).Type() != typ {
			t.Errorf("New(%s) does not give a %s", typ, typ)
		}
	}
	if len(have) != len(wire.Types()) {
		t.Errorf("%d samples, %d types", len(have), len(wire.Types()))
	}
}

func TestRoundTripEveryType(t *testing.T) {
	for i, m := range samples() {
		t.Run(m.Type().String(), func(t *testing.T) {
			reqID := uint32(i*7919 + 1)
			b, err := wire.Encode(reqID, m)
			if err != nil {
				t.Fatal(err)
			}
			f, err := wire.ParseFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			if f.Type != m.Type() || f.ReqID != reqID {
				t.Fatalf("frame type %s id %d, want %s %d", f.Type, f.ReqID, m.Type(), reqID)
			}
			got, err := f.Decode()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
			}
			// The same through ReadFrame on a stream with a reused buffer.
			f2, _, err := wire.ReadFrame(bytes.NewReader(b), make([]byte, 0, 16))
			if err != nil || f2.Type != f.Type || f2.ReqID != reqID || !bytes.Equal(f2.Payload, f.Payload) {
				t.Fatalf("ReadFrame: %+v %v", f2, err)
			}
		})
	}
}

func TestReadFrameStream(t *testing.T) {
	var stream []byte
	ms := samples()
	for i, m := range ms {
		var err error
		stream, err = wire.AppendFrame(stream, uint32(i), m)
		if err != nil {
			t.Fatal(err)
		}
	}
	r := bytes.NewReader(stream)
	var buf []byte
	for i, want := range ms {
		f, nb, err := wire.ReadFrame(r, buf)
		buf = nb
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got, err := f.Decode()
		if err != nil || f.ReqID != uint32(i) || !reflect.DeepEqual(got, want) {
			t.Fatalf("frame %d: %#v %v", i, got, err)
		}
	}
	if _, _, err := wire.ReadFrame(r, buf); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func TestErrorImplementsError(t *testing.T) {
	var err error = &wire.Error{Code: wire.CodeStageFull, Message: "quest-1"}
	if err.Error() != "stage full: quest-1" {
		t.Fatalf("Error() = %q", err.Error())
	}
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeStageFull {
		t.Fatal("errors.As")
	}
	if (&wire.Error{Code: wire.CodeDraining}).Error() != "channel draining" {
		t.Fatal("Error() without message")
	}
}

func TestEncodeRefusesOversizedFrame(t *testing.T) {
	dst := []byte("prefix")
	out, err := wire.AppendFrame(dst, 1, &wire.SaveData{Data: make([]byte, wire.MaxFrame)})
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if string(out) != "prefix" {
		t.Fatalf("dst not restored: %d bytes", len(out))
	}
	// The largest payload that fits is accepted.
	if _, err := wire.Encode(1, &wire.SaveData{Data: make([]byte, wire.MaxPayload-4)}); !errors.Is(err, nil) {
		t.Fatalf("payload of MaxPayload bytes: %v", err)
	}
	if _, err := wire.Encode(1, &wire.SaveData{Data: make([]byte, wire.MaxPayload-3)}); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("payload of MaxPayload+1 bytes: %v", err)
	}
}
