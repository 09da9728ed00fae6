package channel

import (
	"context"
	"sort"
	"sync"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// maxBackStack bounds a session's move/back stack.
const maxBackStack = 32

// reservation is a reserved slot in a stage.
type reservation struct {
	name  string
	ready bool
}

// stage is a room inside a channel. Town stages live as long as the server;
// others are destroyed when nobody is inside and nobody holds a reservation
// (and, for a stage never entered, when its creator logs out). Fields below
// mu are guarded by it; id, town and creator are immutable.
//
// The host is always a member, or 0 when the stage is empty: the first to
// enter an empty stage becomes host, and when the host leaves (leave, move,
// logout) the role passes to the remaining member who entered earliest.
// While the stage has no host its creator manages it (see manages).
type stage struct {
	id      string
	town    bool
	creator uint32 // 0 for town stages

	// pubMu orders the stage's registry publishes (see publishStage). It
	// is taken alone, never while holding another lock of this package.
	pubMu sync.Mutex

	mu       sync.Mutex
	dead     bool // removed from Server.stages; refuse joins
	max      int
	password string
	hostID   uint32 // a member, or 0 when empty
	locked   bool
	members  map[uint32]*session
	entered  map[uint32]uint64 // member -> entry sequence number
	nextSeq  uint64
	reserved map[uint32]*reservation
	binary   map[uint8][]byte
}

// newStage returns an empty stage; creator is the character that created
// it (0 for a town stage).
func newStage(id string, town bool, max int, password string, creator uint32) *stage {
	return &stage{
		id:       id,
		town:     town,
		creator:  creator,
		max:      max,
		password: password,
		members:  make(map[uint32]*session),
		entered:  make(map[uint32]uint64),
		reserved: make(map[uint32]*reservation),
		binary:   make(map[uint8][]byte),
	}
}

func (st *stage) snapshot(replica string, ch uint16, addr string) registry.StageSnapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	return registry.StageSnapshot{
		StageID:     st.id,
		ReplicaID:   replica,
		ChannelID:   ch,
		Addr:        addr,
		Players:     len(st.members),
		MaxPlayers:  st.max,
		Locked:      st.locked,
		HasPassword: st.password != "",
	}
}

// info returns the stage's StageInfo, members and reservations sorted by ID.
func (st *stage) info() *wire.StageInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	in := &wire.StageInfo{
		StageID:     st.id,
		HostID:      st.hostID,
		MaxPlayers:  uint16(min(st.max, 0xFFFF)),
		Locked:      st.locked,
		HasPassword: st.password != "",
	}
	for id, m := range st.members {
		r := st.reserved[id]
		in.Members = append(in.Members, wire.Member{CharID: id, Name: m.name, Ready: r != nil && r.ready})
	}
	for id, r := range st.reserved {
		in.Reservations = append(in.Reservations, wire.Member{CharID: id, Name: r.name, Ready: r.ready})
	}
	sort.Slice(in.Members, func(i, j int) bool { return in.Members[i].CharID < in.Members[j].CharID })
	sort.Slice(in.Reservations, func(i, j int) bool { return in.Reservations[i].CharID < in.Reservations[j].CharID })
	if len(in.Members) > wire.MaxList {
		in.Members = in.Members[:wire.MaxList]
	}
	if len(in.Reservations) > wire.MaxList {
		in.Reservations = in.Reservations[:wire.MaxList]
	}
	return in
}

// broadcast queues frame to every member except exceptChar and returns the
// number of recipients.
func (st *stage) broadcast(frame []byte, exceptChar uint32) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for id, m := range st.members {
		if id != exceptChar {
			m.send(frame)
			n++
		}
	}
	return n
}

// join adds s to the stage's members, telling the others. Reservation
// holders may enter a full, locked or password-protected stage.
func (st *stage) join(s *session, password string) (wire.ErrorCode, string) {
	joined, _ := wire.Encode(0, &wire.StageJoined{StageID: st.id, CharID: s.charID, Name: s.name})
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead {
		return wire.CodeNotFound, "no such stage"
	}
	if _, in := st.members[s.charID]; in {
		return 0, ""
	}
	if _, res := st.reserved[s.charID]; !res {
		switch {
		case st.password != "" && password != st.password:
			return wire.CodeWrongPass, "wrong stage password"
		case st.locked:
			return wire.CodeStageLocked, "stage is locked"
		case len(st.members) >= st.max:
			return wire.CodeStageFull, "stage is full"
		}
	}
	for _, m := range st.members {
		m.send(joined)
	}
	st.members[s.charID] = s
	st.nextSeq++
	st.entered[s.charID] = st.nextSeq
	if st.hostID == 0 {
		st.hostID = s.charID
	}
	return 0, ""
}

// manages reports whether charID may change the stage (lock it, set its
// data): its host, or, while nobody is inside, its creator. Call with mu held.
func (st *stage) manages(charID uint32) bool {
	if st.hostID != 0 {
		return st.hostID == charID
	}
	return st.creator != 0 && st.creator == charID
}

// leave removes s from the members, telling the others; if s was the host
// the role passes to the remaining member who entered earliest (0 if none).
func (st *stage) leave(s *session) {
	left, _ := wire.Encode(0, &wire.StageLeft{StageID: st.id, CharID: s.charID})
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, in := st.members[s.charID]; !in {
		return
	}
	delete(st.members, s.charID)
	delete(st.entered, s.charID)
	if st.hostID == s.charID {
		st.hostID = 0
		var first uint64
		for id, seq := range st.entered {
			if st.hostID == 0 || seq < first {
				st.hostID, first = id, seq
			}
		}
	}
	for _, m := range st.members {
		m.send(left)
	}
}

// stage returns the live stage with that ID, or nil.
func (s *Server) stage(id string) *stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stages[id]
}

// destroyIfEmpty removes st if it is not a town stage and has neither
// members nor reservations; it reports whether it did.
func (s *Server) destroyIfEmpty(st *stage) bool {
	if st == nil || st.town {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead || len(st.members) > 0 || len(st.reserved) > 0 {
		return false
	}
	st.dead = true
	if s.stages[st.id] == st {
		delete(s.stages, st.id)
	}
	return true
}

// publishStage tells the registry st's current state: its removal if it is
// dead, else its snapshot. Callers publish after every change. The read of
// the state and the registry call are made under st.pubMu, so publishes of
// one stage reach the registry in the order of the states they carry: an
// update can never land after the removal and republish a destroyed stage.
// A dead stage whose ID a newer stage has taken is not removed (the newer
// one publishes itself). The caller must hold no lock of this package.
func (s *Server) publishStage(ctx context.Context, st *stage) {
	st.pubMu.Lock()
	defer st.pubMu.Unlock()
	st.mu.Lock()
	dead := st.dead
	st.mu.Unlock()
	if dead {
		s.mu.Lock()
		cur := s.stages[st.id]
		s.mu.Unlock()
		if cur == nil {
			s.reg.StageRemoved(ctx, s.cfg.ID, st.id)
		}
		return
	}
	s.reg.StageUpdated(ctx, st.snapshot(s.cfg.ReplicaID, s.cfg.ID, s.Addr()))
}

// setCur makes st (nil: none) the session's current stage: cur for the
// receive goroutine, stageID for presence snapshots.
func (s *session) setCur(st *stage) {
	s.cur = st
	id := ""
	if st != nil {
		id = st.id
	}
	s.mu.Lock()
	s.stageID = id
	s.mu.Unlock()
}

// curID returns the current stage's ID, "" when in none (receive goroutine).
func (s *session) curID() string {
	if s.cur == nil {
		return ""
	}
	return s.cur.id
}

// exitStage takes the session out of st (no longer its current stage),
// destroys st if that left it empty, and publishes it.
func (s *session) exitStage(ctx context.Context, st *stage) {
	st.leave(s)
	s.srv.destroyIfEmpty(st)
	s.srv.publishStage(ctx, st)
}

// leaveStage takes the session out of its current stage (logout, Leave).
func (s *session) leaveStage(ctx context.Context) {
	if old := s.cur; old != nil {
		s.setCur(nil)
		s.exitStage(ctx, old)
	}
}

// dropReservations gives up every reservation of the session and destroys
// stages it created that stayed empty (logout).
func (s *session) dropReservations(ctx context.Context) {
	for id := range s.touched {
		st := s.srv.stage(id)
		if st == nil {
			continue
		}
		st.mu.Lock()
		delete(st.reserved, s.charID)
		st.mu.Unlock()
		if s.srv.destroyIfEmpty(st) {
			s.srv.publishStage(ctx, st)
		}
	}
	s.touched = nil
}

func (s *session) touch(id string) {
	if s.touched == nil {
		s.touched = make(map[string]struct{})
	}
	s.touched[id] = struct{}{}
}
