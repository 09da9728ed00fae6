package channel

import (
	"github.com/guildhall/guildhall/wire"
)

// castFrame encodes the CastMsg of one cast, once; every recipient's queue
// shares the returned bytes.
func (s *session) castFrame(scope uint8, payload []byte) ([]byte, error) {
	return wire.Encode(0, &wire.CastMsg{Scope: scope, SenderID: s.charID, SenderName: s.name, Payload: payload})
}

func (s *session) onCast(reqID uint32, m *wire.Cast) {
	frame, err := s.castFrame(m.Scope, m.Payload)
	if err != nil {
		s.replyErr(reqID, wire.CodeTooLarge, err.Error())
		return
	}
	srv := s.srv
	var found uint64
	switch m.Scope {
	case wire.ScopeStage:
		if s.cur == nil {
			s.replyErr(reqID, wire.CodeNotInStage, "not in a stage")
			return
		}
		srv.met.add(mBroadcasts, 1)
		found = uint64(s.cur.broadcast(frame, s.charID))
	case wire.ScopeChannel:
		srv.Broadcast(frame, s.charID)
	case wire.ScopeWorld:
		ctx, cancel := s.reqCtx()
		err := srv.reg.Worldcast(ctx, frame, s.charID, 0)
		cancel()
		if err != nil {
			s.failRegistry(reqID, "worldcast", err)
			return
		}
	case wire.ScopeTargets:
		if len(m.Targets) == 0 {
			s.replyErr(reqID, wire.CodeBadRequest, "no targets")
			return
		}
		ctx, cancel := s.reqCtx()
		ids, err := srv.reg.Cast(ctx, m.Targets, frame)
		cancel()
		if err != nil {
			s.failRegistry(reqID, "cast", err)
			return
		}
		found = uint64(len(ids))
	case wire.ScopeGuild:
		// The store, not the cached guild: membership may have changed
		// through another player's action on another channel.
		ctx, cancel := s.reqCtx()
		defer cancel()
		g, ok := s.myGuild(ctx, reqID)
		if !ok {
			return
		}
		if targets := memberIDs(g, s.charID); len(targets) > 0 {
			ids, err := srv.reg.Cast(ctx, targets, frame)
			if err != nil {
				s.failRegistry(reqID, "guild cast", err)
				return
			}
			found = uint64(len(ids))
		}
	default:
		s.replyErr(reqID, wire.CodeBadRequest, "unknown cast scope")
		return
	}
	s.ok(reqID, found)
}
