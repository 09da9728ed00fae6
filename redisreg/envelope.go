package redisreg

import (
	"fmt"

	"github.com/guildhall/guildhall/registry"
)

// envelopeVersion is the first byte of every pub/sub message.
const envelopeVersion = 1

// kind is the type of a pub/sub envelope.
type kind uint8

const (
	kindWorld   kind = 1 // world channel: a worldcast frame
	kindCast    kind = 2 // directed: a frame for some characters
	kindMail    kind = 3 // directed: a mail notice for one character
	kindKick    kind = 4 // directed: disconnect a character, then confirm
	kindKickAck kind = 5 // directed: confirmation of a kick
	kindLeave   kind = 6 // world channel: sessions lost with a dead replica
)

func (k kind) String() string {
	switch k {
	case kindWorld:
		return "world"
	case kindCast:
		return "cast"
	case kindMail:
		return "mail"
	case kindKick:
		return "kick"
	case kindKickAck:
		return "kick_ack"
	case kindLeave:
		return "leave"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// envelope is one pub/sub message. Which fields are meaningful depends on Kind:
//
//	world:    ExceptChar, ExceptChannel, Frame
//	cast:     Chars, Frame
//	mail:     Chars[0], Mail
//	kick:     ReqID, Chars[0], Reason
//	kick_ack: ReqID, Chars[0], Closed, Reason (an error text, "" when none)
//	leave:    Dead (the dead replica), Sessions
//
// Encoding: u8 version | u8 kind | str origin | kind-specific fields, where a
// str is a u16 length and bytes and a blob a u32 length and bytes.
type envelope struct {
	Kind          kind
	Origin        string
	ExceptChar    uint32
	ExceptChannel uint16
	Chars         []uint32
	Frame         []byte
	Mail          registry.MailNotice
	ReqID         uint64
	Reason        string
	Closed        bool
	Dead          string
	Sessions      []registry.SessionSnapshot
}

func (v *envelope) encode() []byte {
	e := enc{b: make([]byte, 0, 32+len(v.Frame)+4*len(v.Chars))}
	e.u8(envelopeVersion)
	e.u8(uint8(v.Kind))
	e.str(v.Origin)
	switch v.Kind {
	case kindWorld:
		e.u32(v.ExceptChar)
		e.u16(v.ExceptChannel)
		e.blob(v.Frame)
	case kindCast:
		e.u16(uint16(len(v.Chars)))
		for _, c := range v.Chars {
			e.u32(c)
		}
		e.blob(v.Frame)
	case kindMail:
		e.u32(v.char())
		e.u64(uint64(v.Mail.MailID))
		e.u32(v.Mail.FromID)
		e.str(v.Mail.FromName)
		e.str(v.Mail.Subject)
	case kindKick:
		e.u64(v.ReqID)
		e.u32(v.char())
		e.str(v.Reason)
	case kindKickAck:
		e.u64(v.ReqID)
		e.u32(v.char())
		e.boolean(v.Closed)
		e.str(v.Reason)
	case kindLeave:
		e.str(v.Dead)
		e.u16(uint16(len(v.Sessions)))
		for _, s := range v.Sessions {
			e.session(s)
		}
	}
	return e.b
}

func (v *envelope) char() uint32 {
	if len(v.Chars) == 0 {
		return 0
	}
	return v.Chars[0]
}

// decodeEnvelope parses a pub/sub payload. It never panics and allocates at
// most in proportion to len(b); any error wraps ErrMalformed.
func decodeEnvelope(b []byte) (envelope, error) {
	d := dec{b: b}
	var v envelope
	if ver := d.u8(); d.err == nil && ver != envelopeVersion {
		return v, fmt.Errorf("%w: envelope version %d", ErrMalformed, ver)
	}
	v.Kind = kind(d.u8())
	v.Origin = d.str()
	switch v.Kind {
	case kindWorld:
		v.ExceptChar = d.u32()
		v.ExceptChannel = d.u16()
		v.Frame = d.blob(maxFrame)
	case kindCast:
		n := d.count(4)
		if n > 0 {
			v.Chars = make([]uint32, n)
			for i := range v.Chars {
				v.Chars[i] = d.u32()
			}
		}
		v.Frame = d.blob(maxFrame)
	case kindMail:
		v.Chars = []uint32{d.u32()}
		v.Mail.MailID = int64(d.u64())
		v.Mail.FromID = d.u32()
		v.Mail.FromName = d.str()
		v.Mail.Subject = d.str()
	case kindKick:
		v.ReqID = d.u64()
		v.Chars = []uint32{d.u32()}
		v.Reason = d.str()
	case kindKickAck:
		v.ReqID = d.u64()
		v.Chars = []uint32{d.u32()}
		v.Closed = d.boolean()
		v.Reason = d.str()
	case kindLeave:
		v.Dead = d.str()
		n := d.count(4 + 2 + 2 + 2 + 2 + 2 + 4)
		if n > 0 {
			v.Sessions = make([]registry.SessionSnapshot, n)
			for i := range v.Sessions {
				v.Sessions[i] = d.session()
			}
		}
	default:
		if d.err == nil {
			return v, fmt.Errorf("%w: unknown envelope kind %d", ErrMalformed, uint8(v.Kind))
		}
	}
	if err := d.end(); err != nil {
		return envelope{}, err
	}
	return v, nil
}
