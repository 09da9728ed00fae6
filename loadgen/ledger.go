package loadgen

import (
	"math/bits"
	"sync"
	"time"
)

// SeqSet is a growable bitset of sequence numbers. The zero value is empty
// and ready to use. It is not safe for concurrent use.
type SeqSet struct {
	words []uint64
	n     int
}

// Add inserts seq and reports whether it was already present.
func (s *SeqSet) Add(seq uint64) (dup bool) {
	w := int(seq / 64)
	if w >= len(s.words) {
		nw := make([]uint64, max(w+1, 2*len(s.words)))
		copy(nw, s.words)
		s.words = nw
	}
	bit := uint64(1) << (seq % 64)
	if s.words[w]&bit != 0 {
		return true
	}
	s.words[w] |= bit
	s.n++
	return false
}

// Has reports whether seq is present.
func (s *SeqSet) Has(seq uint64) bool {
	if s == nil {
		return false
	}
	w := int(seq / 64)
	return w < len(s.words) && s.words[w]&(uint64(1)<<(seq%64)) != 0
}

// Len returns the number of distinct members.
func (s *SeqSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// CountRange returns how many members lie in [lo, hi).
func (s *SeqSet) CountRange(lo, hi uint64) int {
	if s == nil || hi <= lo {
		return 0
	}
	n := 0
	for seq := lo; seq < hi; {
		w := int(seq / 64)
		if w >= len(s.words) {
			break
		}
		word := s.words[w]
		off := seq % 64
		word >>= off
		span := 64 - off
		if rem := hi - seq; rem < span {
			word &= (uint64(1) << rem) - 1
			span = rem
		}
		n += bits.OnesCount64(word)
		seq += span
	}
	return n
}

// Inbox is what one bot received: per stream, the set of sequence numbers,
// and how many arrivals were duplicates. Only the bot's reader goroutine
// writes an Inbox; it is read after that goroutine has ended.
type Inbox struct {
	dense      []*SeqSet // streams below denseStreams, by ID
	streams    map[uint32]*SeqSet
	Duplicates int64 // arrivals of a (stream, seq) already received
	Echoes     int64 // own messages delivered back to the sender
	Foreign    int64 // casts whose payload is not a load generator payload
}

// denseStreams: stream IDs below it are found by index (no map lookup on
// the per-delivery path); larger IDs use the map.
const denseStreams = 1 << 16

// Mark records the arrival of (stream, seq) and reports whether it is a duplicate.
func (in *Inbox) Mark(stream uint32, seq uint64) (dup bool) {
	s := in.set(stream)
	if s.Add(seq) {
		in.Duplicates++
		return true
	}
	return false
}

// set returns the SeqSet of stream, creating it.
func (in *Inbox) set(stream uint32) *SeqSet {
	if stream < denseStreams {
		if int(stream) >= len(in.dense) {
			n := make([]*SeqSet, max(int(stream)+1, 2*len(in.dense)))
			copy(n, in.dense)
			in.dense = n
		}
		s := in.dense[stream]
		if s == nil {
			s = &SeqSet{}
			in.dense[stream] = s
		}
		return s
	}
	if in.streams == nil {
		in.streams = make(map[uint32]*SeqSet)
	}
	s := in.streams[stream]
	if s == nil {
		s = &SeqSet{}
		in.streams[stream] = s
	}
	return s
}

// lookup returns the SeqSet of stream, or nil if nothing arrived on it.
func (in *Inbox) lookup(stream uint32) *SeqSet {
	if stream < denseStreams {
		if int(stream) < len(in.dense) {
			return in.dense[stream]
		}
		return nil
	}
	return in.streams[stream]
}

// Has reports whether (stream, seq) arrived.
func (in *Inbox) Has(stream uint32, seq uint64) bool {
	return in.lookup(stream).Has(seq)
}

// Expect says that the bot Receiver should have received every sequence
// number in [Lo, Hi) of Stream, except those for which Skip (if non-nil)
// returns true (messages that failed to send, or that the receiver sent
// itself and is not sent back).
type Expect struct {
	Receiver int
	Stream   uint32
	Lo, Hi   uint64
	Skip     func(seq uint64) bool
}

// Tally is the outcome of an audit.
type Tally struct {
	Expected   int64 `json:"expected"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
}

// Audit compares expectations with what the inboxes hold. Duplicated is the
// sum of the inboxes' duplicate counts (any duplicate is a fault, whether or
// not it fell in the measured window). An expectation naming a receiver with
// no inbox counts all its messages as lost.
func Audit(inboxes []*Inbox, expects []Expect) Tally {
	var t Tally
	for _, in := range inboxes {
		if in != nil {
			t.Duplicated += in.Duplicates
		}
	}
	for _, e := range expects {
		if e.Hi <= e.Lo {
			continue
		}
		var set *SeqSet
		if e.Receiver >= 0 && e.Receiver < len(inboxes) && inboxes[e.Receiver] != nil {
			set = inboxes[e.Receiver].lookup(e.Stream)
		}
		if e.Skip == nil {
			n := int64(e.Hi - e.Lo)
			got := int64(set.CountRange(e.Lo, e.Hi))
			t.Expected += n
			t.Delivered += got
			continue
		}
		for seq := e.Lo; seq < e.Hi; seq++ {
			if e.Skip(seq) {
				continue
			}
			t.Expected++
			if set.Has(seq) {
				t.Delivered++
			}
		}
	}
	t.Lost = t.Expected - t.Delivered
	return t
}

// recorderShards spreads concurrent recorders over independent locks.
const recorderShards = 16

// Recorder is a Histogram safe for concurrent use: callers pass a shard key
// (e.g. the bot index) so that goroutines rarely share a lock.
type Recorder struct {
	shards [recorderShards]struct {
		mu sync.Mutex
		h  Histogram
		_  [40]byte // keep shards on separate cache lines
	}
}

// Record adds one observation under the shard chosen by key.
func (r *Recorder) Record(key int, d time.Duration) {
	s := &r.shards[uint(key)%recorderShards]
	s.mu.Lock()
	s.h.Record(d)
	s.mu.Unlock()
}

// Snapshot returns a merged copy of every shard.
func (r *Recorder) Snapshot() *Histogram {
	var out Histogram
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(&s.h)
		s.mu.Unlock()
	}
	return &out
}
