package channel

import (
	"context"
	"errors"
	"fmt"

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

// alternateChannel returns where a player refused by this channel should
// reconnect: the least populated live channel of the cluster (lowest ID on
// a tie) that is not this one, not draining, not full and has an address.
// It reports false if there is none or the registry cannot say. It calls
// the registry, so the caller must hold no lock of this package.
func (srv *Server) alternateChannel(ctx context.Context) (registry.ChannelInfo, bool) {
	chans, err := srv.reg.Channels(ctx)
	if err != nil {
		srv.met.add(mRegistryErrors, 1)
		srv.log.Warn("no channel to redirect to: channel list failed", "err", err)
		return registry.ChannelInfo{}, false
	}
	var best registry.ChannelInfo
	found := false
	for _, ch := range chans {
		if ch.ID == srv.cfg.ID || ch.Draining || ch.Addr == "" || (ch.MaxPlayers > 0 && ch.Players >= ch.MaxPlayers) {
			continue
		}
		if !found || ch.Players < best.Players || (ch.Players == best.Players && ch.ID < best.ID) {
			best, found = ch, true
		}
	}
	return best, found
}

// refuseDraining answers a Hello on a draining channel with CodeDraining,
// naming in Error.Channel and Error.Addr another live channel to reconnect
// to (both empty if there is none), and closes the connection. It calls
// the registry: the caller must hold no lock of this package.
func (s *session) refuseDraining(reqID uint32) {
	srv := s.srv
	ctx, cancel := context.WithTimeout(srv.baseCtx, requestTimeout)
	alt, ok := srv.alternateChannel(ctx)
	cancel()
	e := &wire.Error{Code: wire.CodeDraining, Message: "channel is draining; try again later"}
	if ok {
		e.Channel, e.Addr = alt.ID, truncate(alt.Addr, wire.MaxShort)
		e.Message = truncate(fmt.Sprintf("channel is draining; connect to channel %d at %s", alt.ID, alt.Addr), wire.MaxShort)
	}
	s.refuseWith(reqID, e, "channel is draining")
}
