package channel

import (
	"context"
	"errors"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

// currentGuild returns the session's guild from the store (membership may
// have changed through another player's action on another channel) and
// keeps the session's presence record current.
func (s *session) currentGuild(ctx context.Context) (uint32, error) {
	ch, err := s.srv.store.LoadCharacter(ctx, s.charID)
	if err != nil {
		return 0, err
	}
	s.setGuild(ctx, ch.GuildID)
	return ch.GuildID, nil
}

// myGuildID returns the session's current guild ID (from the store). When
// it cannot (store error, or in no guild) it answers reqID with the error
// and reports false.
func (s *session) myGuildID(ctx context.Context, reqID uint32) (uint32, bool) {
	gid, err := s.currentGuild(ctx)
	if err != nil {
		s.failStore(reqID, "load character", err)
		return 0, false
	}
	if gid == 0 {
		s.replyErr(reqID, wire.CodeNotFound, "not in a guild")
		return 0, false
	}
	return gid, true
}

// myGuild is myGuildID followed by loading the guild with its members.
func (s *session) myGuild(ctx context.Context, reqID uint32) (store.Guild, bool) {
	gid, ok := s.myGuildID(ctx, reqID)
	if !ok {
		return store.Guild{}, false
	}
	g, err := s.srv.store.Guild(ctx, gid)
	if err != nil {
		s.failStore(reqID, "guild", err)
		return store.Guild{}, false
	}
	return g, true
}

// setGuild records the session's guild and tells the registry if it changed.
func (s *session) setGuild(ctx context.Context, gid uint32) {
	s.mu.Lock()
	changed := s.guildID != gid
	s.guildID = gid
	s.mu.Unlock()
	if changed {
		s.publishPresence(ctx)
	}
}

// guildEvent pushes a GuildEvent to the online ones of targets, wherever
// they are. Failures are logged: the store change is already durable.
func (s *session) guildEvent(ctx context.Context, targets []uint32, ev wire.GuildEvent) {
	if len(targets) == 0 {
		return
	}
	ev.GuildName = truncate(ev.GuildName, wire.MaxName)
	ev.Name = truncate(ev.Name, wire.MaxName)
	frame, err := wire.Encode(0, &ev)
	if err != nil {
		s.log().Error("encode guild event", "err", err)
		return
	}
	if _, err := s.srv.reg.Cast(ctx, targets, frame); err != nil {
		s.srv.met.add(mRegistryErrors, 1)
		s.log().Warn("guild event not delivered", "event", ev.Event, "err", err)
	}
}

func memberIDs(g store.Guild, except uint32) []uint32 {
	out := make([]uint32, 0, len(g.Members))
	for _, m := range g.Members {
		if m.CharID != except {
			out = append(out, m.CharID)
		}
	}
	return out
}

// memberName returns the name of charID among g's members, or def if it
// is not one.
func memberName(g store.Guild, charID uint32, def string) string {
	for _, m := range g.Members {
		if m.CharID == charID {
			return m.Name
		}
	}
	return def
}

// guildBeforeChange returns the session's current guild with its members
// before a leave or kick changes it, so the members can be told. It is best
// effort: the zero Guild if the session has none or the store cannot say.
func (s *session) guildBeforeChange(ctx context.Context) store.Guild {
	var g store.Guild
	if gid, err := s.currentGuild(ctx); err == nil && gid != 0 {
		g, _ = s.srv.store.Guild(ctx, gid)
	}
	return g
}

func (s *session) onGuildCreate(reqID uint32, m *wire.GuildCreate) {
	if m.Name == "" {
		s.replyErr(reqID, wire.CodeBadRequest, "guild name must not be empty")
		return
	}
	ctx, cancel := s.reqCtx()
	defer cancel()
	gid, err := s.srv.store.CreateGuild(ctx, s.charID, m.Name)
	if err != nil {
		s.failStore(reqID, "create guild", err)
		return
	}
	s.setGuild(ctx, gid)
	s.ok(reqID, uint64(gid))
}

func (s *session) onGuildInvite(reqID uint32, m *wire.GuildInvite) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	gid, err := s.srv.store.InviteToGuild(ctx, s.charID, m.CharID)
	if err != nil {
		s.failStore(reqID, "invite to guild", err)
		return
	}
	s.ok(reqID, uint64(gid))
	name := ""
	if g, err := s.srv.store.Guild(ctx, gid); err == nil {
		name = g.Name
	}
	s.guildEvent(ctx, []uint32{m.CharID}, wire.GuildEvent{GuildID: gid, GuildName: name, Event: wire.GuildInvited, CharID: s.charID, Name: s.name})
}

func (s *session) onGuildApply(reqID uint32, m *wire.GuildApply) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	if err := s.srv.store.ApplyToGuild(ctx, m.GuildID, s.charID); err != nil {
		s.failStore(reqID, "apply to guild", err)
		return
	}
	s.ok(reqID, uint64(m.GuildID))
	if g, err := s.srv.store.Guild(ctx, m.GuildID); err == nil {
		s.guildEvent(ctx, []uint32{g.LeaderID}, wire.GuildEvent{GuildID: g.ID, GuildName: g.Name, Event: wire.GuildApplied, CharID: s.charID, Name: s.name})
	}
}

func (s *session) onGuildAccept(reqID uint32, m *wire.GuildAccept) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	srv := s.srv
	var gid, joiner uint32
	if m.GuildID != 0 {
		if err := srv.store.AcceptInvite(ctx, m.GuildID, s.charID); err != nil {
			s.failStore(reqID, "accept invite", err)
			return
		}
		gid, joiner = m.GuildID, s.charID
		s.setGuild(ctx, gid)
	} else {
		id, err := srv.store.AcceptApplication(ctx, s.charID, m.CharID)
		if err != nil {
			s.failStore(reqID, "accept application", err)
			return
		}
		gid, joiner = id, m.CharID
	}
	// The joiner's session here (if any) is current before the answer.
	srv.refreshLocalGuild(ctx, joiner, gid)
	s.ok(reqID, uint64(gid))
	g, err := srv.store.Guild(ctx, gid)
	if err != nil {
		return
	}
	name := memberName(g, joiner, s.name)
	s.guildEvent(ctx, memberIDs(g, s.charID), wire.GuildEvent{GuildID: gid, GuildName: g.Name, Event: wire.GuildJoined, CharID: joiner, Name: name})
}

// refreshLocalGuild updates the cached guild (and presence record) of a
// character logged in on this channel. Handlers call it before answering,
// so an OK means the change is visible here. Sessions on other channels
// refresh from the store when they next use their guild.
func (srv *Server) refreshLocalGuild(ctx context.Context, charID, gid uint32) {
	srv.mu.Lock()
	sess := srv.byChar[charID]
	srv.mu.Unlock()
	if sess != nil {
		sess.setGuild(ctx, gid)
	}
}

func (s *session) onGuildLeave(reqID uint32) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	srv := s.srv
	before := s.guildBeforeChange(ctx)
	gid, disbanded, err := srv.store.LeaveGuild(ctx, s.charID)
	if err != nil {
		s.failStore(reqID, "leave guild", err)
		return
	}
	s.setGuild(ctx, 0)
	others := memberIDs(before, s.charID)
	if disbanded {
		for _, id := range others {
			srv.refreshLocalGuild(ctx, id, 0)
		}
	}
	s.ok(reqID, uint64(gid))
	s.guildEvent(ctx, others, wire.GuildEvent{GuildID: gid, GuildName: before.Name, Event: wire.GuildLeft, CharID: s.charID, Name: s.name})
}

func (s *session) onGuildKick(reqID uint32, m *wire.GuildKick) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	srv := s.srv
	before := s.guildBeforeChange(ctx)
	gid, err := srv.store.KickFromGuild(ctx, s.charID, m.CharID)
	if err != nil {
		s.failStore(reqID, "kick from guild", err)
		return
	}
	srv.refreshLocalGuild(ctx, m.CharID, 0)
	s.ok(reqID, uint64(gid))
	name := memberName(before, m.CharID, "")
	targets := memberIDs(before, s.charID)
	if len(before.Members) == 0 {
		targets = []uint32{m.CharID}
	}
	s.guildEvent(ctx, targets, wire.GuildEvent{GuildID: gid, GuildName: before.Name, Event: wire.GuildKicked, CharID: m.CharID, Name: name})
}

func (s *session) onGuildMembers(reqID uint32) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	srv := s.srv
	g, ok := s.myGuild(ctx, reqID)
	if !ok {
		return
	}
	info := &wire.GuildInfo{GuildID: g.ID, Name: truncate(g.Name, wire.MaxName), LeaderID: g.LeaderID}
	for i, mem := range g.Members {
		if i == wire.MaxList {
			break
		}
		_, ferr := srv.reg.FindSession(ctx, mem.CharID)
		if ferr != nil && !errors.Is(ferr, registry.ErrNotFound) {
			srv.met.add(mRegistryErrors, 1)
		}
		info.Members = append(info.Members, wire.Member{CharID: mem.CharID, Name: truncate(mem.Name, wire.MaxName), Ready: ferr == nil})
	}
	s.reply(reqID, info)
}
