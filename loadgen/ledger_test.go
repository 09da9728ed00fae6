package loadgen

import "testing"

func TestSeqSet(t *testing.T) {
	var s SeqSet
	for _, v := range []uint64{0, 5, 63, 64, 1000} {
		if s.Add(v) {
			t.Fatalf("first Add(%d) reported duplicate", v)
		}
	}
	if !s.Add(64) {
		t.Fatal("second Add(64) not reported as duplicate")
	}
	if s.Len() != 5 || !s.Has(1000) || s.Has(999) || s.Has(1<<40) {
		t.Fatalf("Len %d Has(1000) %v Has(999) %v", s.Len(), s.Has(1000), s.Has(999))
	}
	for _, c := range []struct {
		lo, hi uint64
		want   int
	}{{0, 1, 1}, {0, 64, 3}, {0, 65, 4}, {1, 63, 1}, {6, 1000, 2}, {6, 1001, 3}, {0, 1 << 20, 5}, {10, 5, 0}, {2000, 3000, 0}} {
		if got := s.CountRange(c.lo, c.hi); got != c.want {
			t.Errorf("CountRange(%d,%d) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
	var nilSet *SeqSet
	if nilSet.Has(1) || nilSet.CountRange(0, 10) != 0 || nilSet.Len() != 0 {
		t.Fatal("nil SeqSet not empty")
	}
}

func TestAuditCleanRun(t *testing.T) {
	// Three bots in a stage, each sends seqs 0..9; warmup was 0..2.
	in := []*Inbox{{}, {}, {}}
	for s := 0; s < 3; s++ {
		for r := 0; r < 3; r++ {
			if r == s {
				continue
			}
			for seq := uint64(0); seq < 10; seq++ {
				in[r].Mark(uint32(s), seq)
			}
		}
	}
	var ex []Expect
	for s := 0; s < 3; s++ {
		for r := 0; r < 3; r++ {
			if r != s {
				ex = append(ex, Expect{Receiver: r, Stream: uint32(s), Lo: 3, Hi: 10})
			}
		}
	}
	got := Audit(in, ex)
	want := Tally{Expected: 6 * 7, Delivered: 6 * 7}
	if got != want {
		t.Fatalf("Audit = %+v, want %+v", got, want)
	}
}

func TestAuditLossAndDuplicates(t *testing.T) {
	in := []*Inbox{{}, {}}
	for seq := uint64(0); seq < 100; seq++ {
		if seq%10 == 7 { // lose 10
			continue
		}
		in[1].Mark(0, seq)
	}
	if !in[1].Mark(0, 3) || !in[1].Mark(0, 3) { // two duplicates of one message
		t.Fatal("re-marking not reported as duplicate")
	}
	in[0].Mark(9, 1) // a stream nobody expects: neither loss nor delivery
	got := Audit(in, []Expect{{Receiver: 1, Stream: 0, Lo: 0, Hi: 100}})
	want := Tally{Expected: 100, Delivered: 90, Lost: 10, Duplicated: 2}
	if got != want {
		t.Fatalf("Audit = %+v, want %+v", got, want)
	}
}

func TestAuditSkipAndMissingReceiver(t *testing.T) {
	in := []*Inbox{{}, nil}
	for seq := uint64(0); seq < 10; seq++ {
		if seq != 4 && seq != 5 {
			in[0].Mark(2, seq)
		}
	}
	// seq 4 failed to send (skip), seq 5 lost; bot 1 never connected: all lost.
	ex := []Expect{
		{Receiver: 0, Stream: 2, Lo: 0, Hi: 10, Skip: func(s uint64) bool { return s == 4 }},
		{Receiver: 1, Stream: 2, Lo: 0, Hi: 10},
		{Receiver: 7, Stream: 2, Lo: 0, Hi: 3}, // out of range receiver
		{Receiver: 0, Stream: 2, Lo: 5, Hi: 5}, // empty window
	}
	got := Audit(in, ex)
	want := Tally{Expected: 9 + 10 + 3, Delivered: 8, Lost: 1 + 10 + 3}
	if got != want {
		t.Fatalf("Audit = %+v, want %+v", got, want)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	p := Payload{Stream: 7, Seq: 1 << 40, SentNs: 1700000000123456789, Sender: 4242, Replica: 3}
	b := make([]byte, 48)
	p.Put(b)
	got, err := ParsePayload(b)
	if err != nil || got != p {
		t.Fatalf("ParsePayload = %+v, %v; want %+v", got, err, p)
	}
	if _, err := ParsePayload([]byte("hello from A")); err == nil {
		t.Fatal("a foreign payload parsed as a load payload")
	}
	if _, err := ParsePayload(b[:PayloadSize-1]); err == nil {
		t.Fatal("a short payload parsed")
	}
}

// Streams below and above denseStreams (slice and map paths) are kept apart
// and audited alike.
func TestInboxDenseAndSparseStreams(t *testing.T) {
	var in Inbox
	ids := []uint32{0, 7, denseStreams - 1, denseStreams, 1 << 30}
	for _, id := range ids {
		for seq := uint64(0); seq < 10; seq++ {
			if in.Mark(id, seq) {
				t.Fatalf("stream %d seq %d: first arrival reported as duplicate", id, seq)
			}
		}
		if !in.Mark(id, 4) {
			t.Fatalf("stream %d: repeated seq 4 not reported as duplicate", id)
		}
	}
	if in.Duplicates != int64(len(ids)) {
		t.Fatalf("Duplicates = %d, want %d", in.Duplicates, len(ids))
	}
	if in.Has(8, 0) || in.Has(denseStreams+1, 0) || in.Has(7, 10) {
		t.Fatal("Has reports arrivals that never happened")
	}
	var ex []Expect
	for _, id := range ids {
		ex = append(ex, Expect{Receiver: 0, Stream: id, Lo: 0, Hi: 12})
	}
	got := Audit([]*Inbox{&in}, ex)
	want := Tally{Expected: 12 * 5, Delivered: 10 * 5, Lost: 2 * 5, Duplicated: 5}
	if got != want {
		t.Fatalf("Audit = %+v, want %+v", got, want)
	}
}
