package channel

import (
	"errors"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// searchDefault is the answer size of a SearchPlayers with Max 0.
const searchDefault = 100

func playerLoc(s registry.SessionSnapshot) wire.PlayerLoc {
	return wire.PlayerLoc{
		CharID:    s.CharID,
		Name:      truncate(s.Name, wire.MaxName),
		ReplicaID: truncate(s.ReplicaID, wire.MaxShort),
		ChannelID: s.ChannelID,
		Addr:      truncate(s.Addr, wire.MaxShort),
		StageID:   truncate(s.StageID, wire.MaxStageID),
	}
}

func (s *session) onFindPlayer(reqID uint32, m *wire.FindPlayer) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	id := m.CharID
	if id == 0 {
		if m.Name == "" {
			s.replyErr(reqID, wire.CodeBadRequest, "character ID or name required")
			return
		}
		var err error
		if id, err = s.srv.store.CharacterByName(ctx, m.Name); err != nil {
			s.failStore(reqID, "character by name", err)
			return
		}
	}
	snap, err := s.srv.reg.FindSession(ctx, id)
	if errors.Is(err, registry.ErrNotFound) {
		s.reply(reqID, &wire.PlayerInfo{Found: false, Player: wire.PlayerLoc{CharID: id}})
		return
	}
	if err != nil {
		s.failRegistry(reqID, "find session", err)
		return
	}
	s.reply(reqID, &wire.PlayerInfo{Found: true, Player: playerLoc(snap)})
}

func (s *session) onSearchPlayers(reqID uint32, m *wire.SearchPlayers) {
	limit := int(m.Max)
	if limit == 0 {
		limit = searchDefault
	}
	limit = min(limit, wire.MaxList)
	ctx, cancel := s.reqCtx()
	defer cancel()
	snaps, err := s.srv.reg.SearchSessions(ctx, registry.SessionFilter{NamePrefix: m.NamePrefix, StageID: m.StageID}, limit)
	if err != nil {
		s.failRegistry(reqID, "search sessions", err)
		return
	}
	resp := &wire.PlayerList{Players: make([]wire.PlayerLoc, 0, len(snaps))}
	for i, snap := range snaps {
		if i == limit {
			break
		}
		resp.Players = append(resp.Players, playerLoc(snap))
	}
	s.reply(reqID, resp)
}
