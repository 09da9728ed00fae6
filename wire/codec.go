// Package wire is guildhall's binary protocol v1: framing, the version
// handshake, every message and its encoding. docs/protocol.md is the
// normative description; this package is its reference implementation.
//
// All integers are big-endian. A frame is
//
//	u32 length | u16 type | u32 request ID | payload
//
// where length counts the bytes after itself (6 + len(payload)) and is at
// most MaxFrame. The package has no state; it is safe for concurrent use.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Protocol constants.
const (
	// Magic opens every Hello: "GHL1".
	Magic uint32 = 0x47484C31
	// Version is the protocol version this package speaks.
	Version uint16 = 1
	// HeaderSize is the length prefix plus type plus request ID.
	HeaderSize = 4 + 2 + 4
	// MaxFrame is the largest value of the length field.
	MaxFrame = 64 * 1024
	// MaxPayload is the largest payload a frame may carry.
	MaxPayload = MaxFrame - 6
	// MaxName bounds character, guild and account names (bytes).
	MaxName = 32
	// MaxStageID bounds stage IDs (bytes).
	MaxStageID = 64
	// MaxShort bounds short strings: passwords, subjects, reasons, tokens.
	MaxShort = 256
	// MaxText bounds long strings: mail bodies, notices.
	MaxText = 4096
	// MaxCastPayload bounds the opaque payload of a cast.
	MaxCastPayload = 4096
	// MaxStageBinary bounds one stage binary value.
	MaxStageBinary = 4096
	// MaxSaveData bounds a character's save data.
	MaxSaveData = 48 * 1024
	// MaxList bounds the element count of any list.
	MaxList = 1024
)

// Sentinel errors returned (wrapped) by decoders.
var (
	// ErrFrameTooLarge: the length field exceeds MaxFrame or is below 6.
	ErrFrameTooLarge = errors.New("wire: frame length out of range")
	// ErrShort: the payload ended before a field was complete.
	ErrShort = errors.New("wire: truncated payload")
	// ErrTrailing: bytes remained after the last field.
	ErrTrailing = errors.New("wire: trailing bytes after message")
	// ErrLimit: a string, byte string or list exceeds its documented limit.
	ErrLimit = errors.New("wire: field exceeds limit")
	// ErrUTF8: a string is not valid UTF-8.
	ErrUTF8 = errors.New("wire: string is not valid UTF-8")
	// ErrUnknownType: the message type is not defined in this version.
	ErrUnknownType = errors.New("wire: unknown message type")
	// ErrBadHello: the first frame is not a valid Hello (magic or version).
	ErrBadHello = errors.New("wire: bad hello")
)

// Frame is one decoded frame: its type, request ID and raw payload.
type Frame struct {
	Type    Type
	ReqID   uint32
	Payload []byte
}

// Message is one protocol message.
type Message interface {
	// Type is the message's type code.
	Type() Type
	// Encode appends the payload to w.
	Encode(w *Writer)
	// Decode reads the payload from r; errors are sticky in r.
	Decode(r *Reader)
}

// AppendFrame appends a complete frame carrying m to dst.
func AppendFrame(dst []byte, reqID uint32, m Message) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Type()))
	dst = binary.BigEndian.AppendUint32(dst, reqID)
	w := Writer{buf: dst}
	m.Encode(&w)
	dst = w.buf
	n := len(dst) - start - 4
	if n > MaxFrame {
		return dst[:start], fmt.Errorf("wire: encode %s: %d bytes: %w", m.Type(), n, ErrFrameTooLarge)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

// Encode returns a new frame carrying m.
func Encode(reqID uint32, m Message) ([]byte, error) {
	return AppendFrame(make([]byte, 0, 64), reqID, m)
}

// ReadFrame reads one frame from r into buf (grown if needed, never beyond
// HeaderSize+MaxFrame) and returns it. Frame.Payload aliases the returned
// buffer, so it is valid until the next call that reuses the buffer.
func ReadFrame(r io.Reader, buf []byte) (Frame, []byte, error) {
	if cap(buf) < HeaderSize {
		buf = make([]byte, 0, 512)
	}
	hdr := buf[:HeaderSize]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return Frame{}, buf, err
	}
	n := binary.BigEndian.Uint32(hdr)
	if n < 6 || n > MaxFrame {
		return Frame{}, buf, fmt.Errorf("wire: length %d: %w", n, ErrFrameTooLarge)
	}
	total := 4 + int(n)
	if cap(buf) < total {
		nb := make([]byte, total)
		copy(nb, hdr)
		buf = nb
	}
	buf = buf[:total]
	if _, err := io.ReadFull(r, buf[HeaderSize:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, buf, err
	}
	return Frame{
		Type:    Type(binary.BigEndian.Uint16(buf[4:])),
		ReqID:   binary.BigEndian.Uint32(buf[6:]),
		Payload: buf[HeaderSize:],
	}, buf, nil
}

// ParseFrame decodes one complete frame held in b (exactly one frame).
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < HeaderSize {
		return Frame{}, fmt.Errorf("wire: frame header: %w", ErrShort)
	}
	n := binary.BigEndian.Uint32(b)
	if n < 6 || n > MaxFrame {
		return Frame{}, fmt.Errorf("wire: length %d: %w", n, ErrFrameTooLarge)
	}
	if int(n) != len(b)-4 {
		if int(n) > len(b)-4 {
			return Frame{}, fmt.Errorf("wire: frame body: %w", ErrShort)
		}
		return Frame{}, fmt.Errorf("wire: frame: %w", ErrTrailing)
	}
	return Frame{
		Type:    Type(binary.BigEndian.Uint16(b[4:])),
		ReqID:   binary.BigEndian.Uint32(b[6:]),
		Payload: b[HeaderSize:],
	}, nil
}

// Decode decodes the frame's payload into a new message of its type.
func (f Frame) Decode() (Message, error) {
	m := New(f.Type)
	if m == nil {
		return nil, fmt.Errorf("wire: type 0x%04x: %w", uint16(f.Type), ErrUnknownType)
	}
	if err := DecodeInto(f.Payload, m); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeInto decodes payload into m, requiring that every byte is consumed.
func DecodeInto(payload []byte, m Message) error {
	r := Reader{buf: payload}
	m.Decode(&r)
	if r.err == nil && r.off != len(r.buf) {
		r.err = ErrTrailing
	}
	if r.err != nil {
		return fmt.Errorf("wire: decode %s: %w", m.Type(), r.err)
	}
	return nil
}

// Writer appends encoded fields to a buffer.
type Writer struct{ buf []byte }

// Bytes returns the encoded bytes.
func (w *Writer) Bytes() []byte { return w.buf }

func (w *Writer) U8(v uint8)   { w.buf = append(w.buf, v) }
func (w *Writer) U16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }
func (w *Writer) U32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }
func (w *Writer) U64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }
func (w *Writer) I64(v int64)  { w.U64(uint64(v)) }

// Bool writes 1 or 0.
func (w *Writer) Bool(v bool) {
	if v {
		w.U8(1)
	} else {
		w.U8(0)
	}
}

// String writes a u16 length and the bytes.
func (w *Writer) String(s string) {
	w.U16(uint16(len(s)))
	w.buf = append(w.buf, s...)
}

// Blob writes a u32 length and the bytes.
func (w *Writer) Blob(b []byte) {
	w.U32(uint32(len(b)))
	w.buf = append(w.buf, b...)
}

// Reader decodes fields from a payload. The first error is sticky: later
// reads return zero values, and Err reports it.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err returns the first error met.
func (r *Reader) Err() error { return r.err }

// Fail records err if no error is recorded yet.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.buf)-r.off < n {
		r.err = ErrShort
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

func (r *Reader) U8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *Reader) U16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *Reader) U32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *Reader) U64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *Reader) I64() int64 { return int64(r.U64()) }

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	v := r.U8()
	if v > 1 {
		r.Fail(fmt.Errorf("wire: bool byte %d: %w", v, ErrLimit))
		return false
	}
	return v == 1
}

// String reads a u16-length UTF-8 string of at most max bytes.
func (r *Reader) String(max int) string {
	n := int(r.U16())
	if r.err != nil {
		return ""
	}
	if n > max {
		r.Fail(fmt.Errorf("wire: string of %d bytes, max %d: %w", n, max, ErrLimit))
		return ""
	}
	b := r.take(n)
	if b == nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.Fail(ErrUTF8)
		return ""
	}
	return string(b)
}

// Blob reads a u32-length byte string of at most max bytes. The result is a
// copy, safe to keep after the frame buffer is reused.
func (r *Reader) Blob(max int) []byte {
	n := r.U32()
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		r.Fail(fmt.Errorf("wire: blob of %d bytes, max %d: %w", n, max, ErrLimit))
		return nil
	}
	b := r.take(int(n))
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// Count reads a u16 list length of at most max elements that could each
// take at least minSize bytes of what remains (so a hostile count cannot make
// the decoder allocate more than the frame holds).
func (r *Reader) Count(max, minSize int) int {
	n := int(r.U16())
	if r.err != nil {
		return 0
	}
	if n > max {
		r.Fail(fmt.Errorf("wire: list of %d, max %d: %w", n, max, ErrLimit))
		return 0
	}
	if minSize > 0 && n*minSize > len(r.buf)-r.off {
		r.Fail(ErrShort)
		return 0
	}
	return n
}
