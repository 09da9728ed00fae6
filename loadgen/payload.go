package loadgen

import (
	"encoding/binary"
	"errors"
)

// payloadMagic opens every cast payload the load generator sends ("LOAD").
const payloadMagic uint32 = 0x4C4F4144

// PayloadSize is the size of the fixed part of a load payload; a configured
// payload size above it is padded with zeros.
const PayloadSize = 32

// errNotLoad: a cast payload that the load generator did not send.
var errNotLoad = errors.New("loadgen: not a load payload")

// Payload is what every load cast carries, so that a receiver can compute
// end-to-end latency and account for loss and duplicates without asking
// anyone. Layout (big-endian, 32 bytes, then zero padding):
//
//	u32 magic "LOAD" | u32 stream | u64 seq | i64 sent (unix ns) | u32 sender bot | u16 sender replica | u16 reserved
type Payload struct {
	Stream  uint32
	Seq     uint64
	SentNs  int64
	Sender  uint32
	Replica uint16
}

// Put writes p into b, which must hold at least PayloadSize bytes.
func (p *Payload) Put(b []byte) {
	_ = b[PayloadSize-1]
	binary.BigEndian.PutUint32(b[0:], payloadMagic)
	binary.BigEndian.PutUint32(b[4:], p.Stream)
	binary.BigEndian.PutUint64(b[8:], p.Seq)
	binary.BigEndian.PutUint64(b[16:], uint64(p.SentNs))
	binary.BigEndian.PutUint32(b[24:], p.Sender)
	binary.BigEndian.PutUint16(b[28:], p.Replica)
	binary.BigEndian.PutUint16(b[30:], 0)
}

// ParsePayload decodes a load payload. b comes from the network: anything
// that is not exactly what Put writes in its first PayloadSize bytes (too
// short, another magic, non-zero reserved bytes) is refused with an error
// (errNotLoad), never a panic. Bytes past PayloadSize (padding) are ignored.
// What it accepts, Put encodes back to the same PayloadSize bytes.
func ParsePayload(b []byte) (Payload, error) {
	if len(b) < PayloadSize || binary.BigEndian.Uint32(b) != payloadMagic || binary.BigEndian.Uint16(b[30:]) != 0 {
		return Payload{}, errNotLoad
	}
	return Payload{
		Stream:  binary.BigEndian.Uint32(b[4:]),
		Seq:     binary.BigEndian.Uint64(b[8:]),
		SentNs:  int64(binary.BigEndian.Uint64(b[16:])),
		Sender:  binary.BigEndian.Uint32(b[24:]),
		Replica: binary.BigEndian.Uint16(b[28:]),
	}, nil
}
