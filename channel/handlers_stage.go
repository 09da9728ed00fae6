package channel

import (
	"fmt"
	"strings"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// maxTouchedStages bounds how many stages one session may have created or
// reserved in at once (a stage never entered lives until its creator logs out).
const maxTouchedStages = 64

type enterMode uint8

const (
	enterClear enterMode = iota // Enter: clear the back stack
	enterPush                   // Move: push the current stage
	enterBack                   // Back: the caller popped the stack
)

func (s *session) onStageCreate(reqID uint32, m *wire.StageCreate) {
	if m.StageID == "" {
		s.replyErr(reqID, wire.CodeBadRequest, "stage ID must not be empty")
		return
	}
	if len(s.touched) >= maxTouchedStages {
		s.replyErr(reqID, wire.CodeForbidden, "too many stages created or reserved")
		return
	}
	maxPlayers := int(m.MaxPlayers)
	if maxPlayers == 0 {
		maxPlayers = s.srv.cfg.DefaultStageMax
	}
	srv := s.srv
	srv.mu.Lock()
	if _, exists := srv.stages[m.StageID]; exists {
		srv.mu.Unlock()
		s.replyErr(reqID, wire.CodeExists, "stage already exists")
		return
	}
	st := newStage(m.StageID, false, maxPlayers, m.Password, s.charID)
	srv.stages[m.StageID] = st
	srv.mu.Unlock()
	s.touch(st.id)
	ctx, cancel := s.reqCtx()
	defer cancel()
	srv.publishStage(ctx, st)
	s.ok(reqID, 0)
}

func (s *session) onStageEnter(reqID uint32, id, password string, mode enterMode) {
	srv := s.srv
	st := srv.stage(id)
	if st == nil {
		s.replyErr(reqID, wire.CodeNotFound, noStage(id, mode))
		return
	}
	old := s.cur
	if old != st {
		if code, msg := st.join(s, password); code != 0 {
			if code == wire.CodeNotFound {
				msg = noStage(id, mode) // destroyed since the lookup
			}
			s.replyErr(reqID, code, msg)
			return
		}
	}
	s.setCur(st)
	switch mode {
	case enterClear:
		s.backStack = s.backStack[:0]
	case enterPush:
		if old != nil && old != st {
			if len(s.backStack) == maxBackStack {
				copy(s.backStack, s.backStack[1:])
				s.backStack = s.backStack[:maxBackStack-1]
			}
			s.backStack = append(s.backStack, old.id)
		}
	}
	ctx, cancel := s.reqCtx()
	defer cancel()
	if old != nil && old != st {
		s.exitStage(ctx, old)
	}
	srv.publishStage(ctx, st)
	s.publishPresence(ctx)
	s.reply(reqID, st.info())
}

// noStage is the message of an enter that found no stage: a Back names the
// stage that was on the stack, since it existed when the player left it.
func noStage(id string, mode enterMode) string {
	if mode == enterBack {
		return fmt.Sprintf("stage %q no longer exists", id)
	}
	return "no such stage"
}

func (s *session) onStageBack(reqID uint32) {
	if len(s.backStack) == 0 {
		s.replyErr(reqID, wire.CodeNotFound, "back stack is empty")
		return
	}
	id := s.backStack[len(s.backStack)-1]
	s.backStack = s.backStack[:len(s.backStack)-1]
	s.onStageEnter(reqID, id, "", enterBack)
}

func (s *session) onStageLeave(reqID uint32) {
	if s.cur == nil {
		s.replyErr(reqID, wire.CodeNotInStage, "not in a stage")
		return
	}
	ctx, cancel := s.reqCtx()
	defer cancel()
	s.leaveStage(ctx)
	s.backStack = s.backStack[:0]
	s.publishPresence(ctx)
	s.ok(reqID, 0)
}

// target resolves a request's stage: id, or the current stage when id is "".
func (s *session) target(reqID uint32, id string) *stage {
	if id == "" {
		if s.cur == nil {
			s.replyErr(reqID, wire.CodeNotInStage, "not in a stage")
		}
		return s.cur
	}
	st := s.srv.stage(id)
	if st == nil {
		s.replyErr(reqID, wire.CodeNotFound, "no such stage")
	}
	return st
}

// lockManaged returns the target stage with st.mu held if the session
// manages it (see stage.manages); otherwise it answers reqID (NotFound or
// Forbidden, naming action) and returns nil with no lock held.
func (s *session) lockManaged(reqID uint32, id, action string) *stage {
	st := s.target(reqID, id)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	if !st.manages(s.charID) {
		st.mu.Unlock()
		s.replyErr(reqID, wire.CodeForbidden, "only the host may "+action)
		return nil
	}
	return st
}

func (s *session) onStageLock(reqID uint32, m *wire.StageLock) {
	st := s.lockManaged(reqID, m.StageID, "lock the stage")
	if st == nil {
		return
	}
	st.locked = m.Locked
	st.mu.Unlock()
	ctx, cancel := s.reqCtx()
	defer cancel()
	s.srv.publishStage(ctx, st)
	s.ok(reqID, 0)
}

func (s *session) onStageReserve(reqID uint32, m *wire.StageReserve) {
	st := s.target(reqID, m.StageID)
	if st == nil {
		return
	}
	if _, ok := s.touched[st.id]; !ok && len(s.touched) >= maxTouchedStages {
		s.replyErr(reqID, wire.CodeForbidden, "too many stages created or reserved")
		return
	}
	st.mu.Lock()
	_, member := st.members[s.charID]
	switch {
	case st.dead:
		st.mu.Unlock()
		s.replyErr(reqID, wire.CodeNotFound, "no such stage")
		return
	case st.reserved[s.charID] != nil:
	case st.password != "" && m.Password != st.password:
		st.mu.Unlock()
		s.replyErr(reqID, wire.CodeWrongPass, "wrong stage password")
		return
	case st.locked && !member:
		st.mu.Unlock()
		s.replyErr(reqID, wire.CodeStageLocked, "stage is locked")
		return
	case len(st.reserved) >= st.max:
		st.mu.Unlock()
		s.replyErr(reqID, wire.CodeStageFull, "no free slot to reserve")
		return
	default:
		st.reserved[s.charID] = &reservation{name: s.name}
	}
	st.mu.Unlock()
	s.touch(st.id)
	s.ok(reqID, 0)
}

func (s *session) onStageUnreserve(reqID uint32, m *wire.StageUnreserve) {
	st := s.target(reqID, m.StageID)
	if st == nil {
		return
	}
	st.mu.Lock()
	_, had := st.reserved[s.charID]
	delete(st.reserved, s.charID)
	st.mu.Unlock()
	if !had {
		s.replyErr(reqID, wire.CodeNotFound, "no reservation in that stage")
		return
	}
	if s.srv.destroyIfEmpty(st) {
		delete(s.touched, st.id)
		ctx, cancel := s.reqCtx()
		defer cancel()
		s.srv.publishStage(ctx, st)
	}
	s.ok(reqID, 0)
}

func (s *session) onStageReady(reqID uint32, m *wire.StageReady) {
	st := s.target(reqID, m.StageID)
	if st == nil {
		return
	}
	st.mu.Lock()
	r := st.reserved[s.charID]
	if r != nil {
		r.ready = m.Ready
	}
	st.mu.Unlock()
	if r == nil {
		s.replyErr(reqID, wire.CodeNotFound, "no reservation in that stage")
		return
	}
	s.ok(reqID, 0)
}

func (s *session) onStageSetBinary(reqID uint32, m *wire.StageSetBinary) {
	st := s.lockManaged(reqID, m.StageID, "set stage data")
	if st == nil {
		return
	}
	st.binary[m.Key] = m.Data // a copy made by the decoder
	st.mu.Unlock()
	s.ok(reqID, 0)
}

func (s *session) onStageGetBinary(reqID uint32, m *wire.StageGetBinary) {
	st := s.target(reqID, m.StageID)
	if st == nil {
		return
	}
	st.mu.Lock()
	data := st.binary[m.Key]
	st.mu.Unlock()
	s.reply(reqID, &wire.StageBinary{StageID: st.id, Key: m.Key, Data: data})
}

func (s *session) onStageClients(reqID uint32, m *wire.StageClients) {
	if st := s.target(reqID, m.StageID); st != nil {
		s.reply(reqID, st.info())
	}
}

func (s *session) onStageList(reqID uint32, m *wire.StageList) {
	limit := int(m.Max)
	if limit <= 0 || limit > wire.MaxList {
		limit = wire.MaxList
	}
	var snaps []registry.StageSnapshot
	if m.Cluster {
		ctx, cancel := s.reqCtx()
		defer cancel()
		var err error
		if snaps, err = s.srv.reg.SearchStages(ctx, m.Prefix, limit); err != nil {
			s.failRegistry(reqID, "search stages", err)
			return
		}
	} else {
		snaps = s.srv.Stages(m.Prefix, limit)
	}
	snaps = snaps[:min(len(snaps), limit)] // a registry may answer more
	resp := &wire.StageListResp{Stages: make([]wire.StageEntry, 0, len(snaps))}
	for _, st := range snaps {
		resp.Stages = append(resp.Stages, stageEntry(st))
	}
	s.reply(reqID, resp)
}

func stageEntry(st registry.StageSnapshot) wire.StageEntry {
	return wire.StageEntry{
		StageID:     truncate(st.StageID, wire.MaxStageID),
		ChannelID:   st.ChannelID,
		Addr:        truncate(strings.TrimSpace(st.Addr), wire.MaxShort),
		Players:     uint16(min(st.Players, 0xFFFF)),
		MaxPlayers:  uint16(min(st.MaxPlayers, 0xFFFF)),
		Locked:      st.Locked,
		HasPassword: st.HasPassword,
	}
}
