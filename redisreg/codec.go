package redisreg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// ErrMalformed is returned (wrapped) when bytes read from Redis (a presence
// value, a pub/sub envelope, a lock's metadata) do not decode.
var ErrMalformed = errors.New("redisreg: malformed value")

// Limits of decoded fields. Bytes from Redis are input: every length is
// checked against these and against what remains.
const (
	maxStr      = 1024
	maxFrame    = wire.MaxFrame + 4
	maxListSize = 4096
)

// enc appends big-endian fields.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// str writes a u16 length and the bytes, truncated to maxStr.
func (e *enc) str(s string) {
	if len(s) > maxStr {
		s = s[:maxStr]
	}
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) blob(p []byte) {
	e.u32(uint32(len(p)))
	e.b = append(e.b, p...)
}

// dec reads fields; the first error is sticky.
type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("truncated at byte %d", d.off)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *dec) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *dec) u16() uint16 {
	if p := d.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *dec) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *dec) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *dec) boolean() bool {
	v := d.u8()
	if v > 1 {
		d.fail("bool byte %d", v)
	}
	return v == 1
}

func (d *dec) str() string {
	n := int(d.u16())
	if n > maxStr {
		d.fail("string of %d bytes", n)
		return ""
	}
	p := d.take(n)
	if p == nil {
		return ""
	}
	if !utf8.Valid(p) {
		d.fail("string not UTF-8")
		return ""
	}
	return string(p)
}

func (d *dec) blob(max int) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		d.fail("blob of %d bytes, max %d", n, max)
		return nil
	}
	p := d.take(int(n))
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

// count reads a u16 list length whose elements take at least minSize bytes each.
func (d *dec) count(minSize int) int {
	n := int(d.u16())
	if d.err != nil {
		return 0
	}
	if n > maxListSize || n*minSize > len(d.b)-d.off {
		d.fail("list of %d elements", n)
		return 0
	}
	return n
}

// end reports the sticky error or trailing bytes.
func (d *dec) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

func (e *enc) session(s registry.SessionSnapshot) {
	e.u32(s.CharID)
	e.str(s.Name)
	e.str(s.ReplicaID)
	e.u16(s.ChannelID)
	e.str(s.Addr)
	e.str(s.StageID)
	e.u32(s.GuildID)
}

func (d *dec) session() registry.SessionSnapshot {
	return registry.SessionSnapshot{
		CharID: d.u32(), Name: d.str(), ReplicaID: d.str(), ChannelID: d.u16(),
		Addr: d.str(), StageID: d.str(), GuildID: d.u32(),
	}
}

func encodeSession(s registry.SessionSnapshot) string {
	var e enc
	e.session(s)
	return string(e.b)
}

func decodeSession(b string) (registry.SessionSnapshot, error) {
	d := dec{b: []byte(b)}
	s := d.session()
	return s, d.end()
}

func encodeStage(s registry.StageSnapshot) string {
	var e enc
	e.str(s.StageID)
	e.str(s.ReplicaID)
	e.u16(s.ChannelID)
	e.str(s.Addr)
	e.u32(uint32(s.Players))
	e.u32(uint32(s.MaxPlayers))
	e.boolean(s.Locked)
	e.boolean(s.HasPassword)
	return string(e.b)
}

func decodeStage(b string) (registry.StageSnapshot, error) {
	d := dec{b: []byte(b)}
	s := registry.StageSnapshot{
		StageID: d.str(), ReplicaID: d.str(), ChannelID: d.u16(), Addr: d.str(),
		Players: int(d.u32()), MaxPlayers: int(d.u32()), Locked: d.boolean(), HasPassword: d.boolean(),
	}
	return s, d.end()
}

func encodeChannel(c registry.ChannelInfo) string {
	var e enc
	e.u16(c.ID)
	e.str(c.Name)
	e.str(c.ReplicaID)
	e.str(c.Addr)
	e.u32(uint32(c.Players))
	e.u32(uint32(c.MaxPlayers))
	e.boolean(c.Draining)
	return string(e.b)
}

func decodeChannel(b string) (registry.ChannelInfo, error) {
	d := dec{b: []byte(b)}
	c := registry.ChannelInfo{
		ID: d.u16(), Name: d.str(), ReplicaID: d.str(), Addr: d.str(),
		Players: int(d.u32()), MaxPlayers: int(d.u32()), Draining: d.boolean(),
	}
	return c, d.end()
}

func encodeHolder(h registry.Holder) string {
	var e enc
	e.u32(h.CharID)
	e.str(h.ReplicaID)
	e.u16(h.ChannelID)
	e.str(h.Addr)
	return string(e.b)
}

func decodeHolder(b string) (registry.Holder, error) {
	d := dec{b: []byte(b)}
	h := registry.Holder{CharID: d.u32(), ReplicaID: d.str(), ChannelID: d.u16(), Addr: d.str()}
	return h, d.end()
}
