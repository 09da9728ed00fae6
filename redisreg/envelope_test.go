package redisreg

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/guildhall/guildhall/registry"
)

func sampleEnvelopes() []envelope {
	return []envelope{
		{Kind: kindWorld, Origin: "r1", ExceptChar: 7, ExceptChannel: 3, Frame: []byte{1, 2, 3}},
		{Kind: kindCast, Origin: "r2", Chars: []uint32{1, 2, 99}, Frame: []byte("hello")},
		{Kind: kindMail, Origin: "r3", Chars: []uint32{5}, Mail: registry.MailNotice{MailID: 42, FromID: 9, FromName: "Ann", Subject: "hi"}},
		{Kind: kindKick, Origin: "r1", ReqID: 1 << 40, Chars: []uint32{8}, Reason: "duplicate login"},
		{Kind: kindKickAck, Origin: "r2", ReqID: 3, Chars: []uint32{8}, Closed: true, Reason: ""},
		{Kind: kindLeave, Origin: "r2", Dead: "r9", Sessions: []registry.SessionSnapshot{
			{CharID: 1, Name: "A", ReplicaID: "r9", ChannelID: 2, Addr: "h:1", StageID: "s", GuildID: 4}}},
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, v := range sampleEnvelopes() {
		got, err := decodeEnvelope(v.encode())
		if err != nil {
			t.Fatalf("%s: %v", v.Kind, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", v.Kind, got, v)
		}
	}
}

func TestEnvelopeRejectsBadInput(t *testing.T) {
	good := sampleEnvelopes()[1].encode()
	cases := map[string][]byte{
		"empty":        nil,
		"bad version":  append([]byte{9}, good[1:]...),
		"unknown kind": {envelopeVersion, 77, 0, 0},
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte(nil), good...), 0),
		"huge count":   {envelopeVersion, byte(kindCast), 0, 0, 0xff, 0xff},
		"huge blob":    {envelopeVersion, byte(kindWorld), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		"bad utf8":     {envelopeVersion, byte(kindKick), 0, 1, 0xff},
	}
	for name, b := range cases {
		if _, err := decodeEnvelope(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestValueCodecsRoundTrip(t *testing.T) {
	s := registry.SessionSnapshot{CharID: 1, Name: "Zoë", ReplicaID: "r", ChannelID: 3, Addr: "a:1", StageID: "st", GuildID: 2}
	if got, err := decodeSession(encodeSession(s)); err != nil || got != s {
		t.Fatalf("session: %+v %v", got, err)
	}
	st := registry.StageSnapshot{StageID: "x", ReplicaID: "r", ChannelID: 1, Addr: "a", Players: 3, MaxPlayers: 4, Locked: true, HasPassword: true}
	if got, err := decodeStage(encodeStage(st)); err != nil || got != st {
		t.Fatalf("stage: %+v %v", got, err)
	}
	c := registry.ChannelInfo{ID: 2, Name: "n", ReplicaID: "r", Addr: "a", Players: 1, MaxPlayers: 9, Draining: true}
	if got, err := decodeChannel(encodeChannel(c)); err != nil || got != c {
		t.Fatalf("channel: %+v %v", got, err)
	}
	h := registry.Holder{CharID: 5, ReplicaID: "r", ChannelID: 2, Addr: "a"}
	if got, err := decodeHolder(encodeHolder(h)); err != nil || got != h {
		t.Fatalf("holder: %+v %v", got, err)
	}
	if _, err := decodeSession("\x00"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short session: %v", err)
	}
}

// FuzzDecodeEnvelope: bytes from Redis never panic the decoder, and whatever
// decodes re-encodes to the same bytes.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, v := range sampleEnvelopes() {
		f.Add(v.encode())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if again := v.encode(); !bytes.Equal(again, b) {
			t.Fatalf("re-encode differs:\n in %x\nout %x", b, again)
		}
	})
}
