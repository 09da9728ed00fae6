package channel

import (
	"context"
	"errors"
	"fmt"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

// errUnexpected is returned by dispatch for a message type a client may not
// send (a server push or a response); it closes the session.
var errUnexpected = errors.New("channel: message type not accepted from clients")

// dispatch runs the handler of one request in the receive goroutine. A
// returned error is a protocol violation and closes the session; request
// failures are answered with wire.Error instead.
func (s *session) dispatch(reqID uint32, msg wire.Message) error {
	if hook := s.srv.hook; hook != nil {
		hook(s.charID, msg.Type())
	}
	switch m := msg.(type) {
	case *wire.Ping:
		s.reply(reqID, &wire.Pong{ClientTime: m.ClientTime, ServerTime: s.srv.now().UnixNano()})
	case *wire.Logout:
		// Save first, then answer, then close (the OK is written before
		// the socket closes).
		s.logout("client logout")
		s.reply(reqID, &wire.OK{})
		s.close("client logout", closeFlush)
	case *wire.StageCreate:
		s.onStageCreate(reqID, m)
	case *wire.StageEnter:
		s.onStageEnter(reqID, m.StageID, m.Password, enterClear)
	case *wire.StageMove:
		s.onStageEnter(reqID, m.StageID, m.Password, enterPush)
	case *wire.StageBack:
		s.onStageBack(reqID)
	case *wire.StageLeave:
		s.onStageLeave(reqID)
	case *wire.StageLock:
		s.onStageLock(reqID, m)
	case *wire.StageReserve:
		s.onStageReserve(reqID, m)
	case *wire.StageUnreserve:
		s.onStageUnreserve(reqID, m)
	case *wire.StageReady:
		s.onStageReady(reqID, m)
	case *wire.StageSetBinary:
		s.onStageSetBinary(reqID, m)
	case *wire.StageGetBinary:
		s.onStageGetBinary(reqID, m)
	case *wire.StageClients:
		s.onStageClients(reqID, m)
	case *wire.StageList:
		s.onStageList(reqID, m)
	case *wire.Cast:
		s.onCast(reqID, m)
	case *wire.SemaAcquire:
		s.onSemaAcquire(reqID, m)
	case *wire.SemaRelease:
		s.onSemaRelease(reqID, m)
	case *wire.SemaWrite:
		s.onSemaWrite(reqID, m)
	case *wire.SaveData:
		s.onSaveData(reqID, m)
	case *wire.LoadData:
		s.onLoadData(reqID)
	case *wire.MailSend:
		s.onMailSend(reqID, m)
	case *wire.MailList:
		s.onMailList(reqID)
	case *wire.MailRead:
		s.onMailRead(reqID, m)
	case *wire.MailDelete:
		s.onMailDelete(reqID, m)
	case *wire.GuildCreate:
		s.onGuildCreate(reqID, m)
	case *wire.GuildInvite:
		s.onGuildInvite(reqID, m)
	case *wire.GuildApply:
		s.onGuildApply(reqID, m)
	case *wire.GuildAccept:
		s.onGuildAccept(reqID, m)
	case *wire.GuildLeave:
		s.onGuildLeave(reqID)
	case *wire.GuildKick:
		s.onGuildKick(reqID, m)
	case *wire.GuildMembers:
		s.onGuildMembers(reqID)
	case *wire.GuildMail:
		s.onGuildMail(reqID, m)
	case *wire.FindPlayer:
		s.onFindPlayer(reqID, m)
	case *wire.SearchPlayers:
		s.onSearchPlayers(reqID, m)
	default:
		return fmt.Errorf("%s: %w", msg.Type(), errUnexpected)
	}
	return nil
}

// reqCtx bounds one request's store and registry calls; it ends early if
// the server gives up waiting at shutdown.
func (s *session) reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.srv.baseCtx, requestTimeout)
}

// storeCode maps a store or registry error to a wire error code and a
// message safe to show a player.
func storeCode(err error) (wire.ErrorCode, string) {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, registry.ErrNotFound):
		return wire.CodeNotFound, "not found"
	case errors.Is(err, store.ErrExists):
		return wire.CodeExists, "already exists"
	case errors.Is(err, store.ErrForbidden):
		return wire.CodeForbidden, "not allowed"
	case errors.Is(err, store.ErrTooLarge):
		return wire.CodeTooLarge, "too large"
	case errors.Is(err, store.ErrStaleToken):
		return wire.CodeStaleToken, "a newer holder has written since"
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, registry.ErrUnavailable):
		return wire.CodeUnavailable, "service unavailable; try again"
	}
	return wire.CodeInternal, "internal error"
}

// failStore answers a request whose store call failed.
func (s *session) failStore(reqID uint32, op string, err error) {
	code, msg := storeCode(err)
	if code == wire.CodeInternal || code == wire.CodeUnavailable {
		s.srv.met.add(mStoreErrors, 1)
		s.log().Error("store call failed", "op", op, "err", err)
	}
	s.replyErr(reqID, code, msg)
}

// failRegistry answers a request whose registry call failed.
func (s *session) failRegistry(reqID uint32, op string, err error) {
	code, msg := storeCode(err)
	if code == wire.CodeInternal || code == wire.CodeUnavailable {
		s.srv.met.add(mRegistryErrors, 1)
		s.log().Error("registry call failed", "op", op, "err", err)
	}
	s.replyErr(reqID, code, msg)
}

func (s *session) onSaveData(reqID uint32, m *wire.SaveData) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	now := s.srv.now()
	data := m.Data
	if data == nil {
		data = []byte{}
	}
	err := s.srv.store.SaveCharacter(ctx, store.CharacterSave{CharID: s.charID, SaveData: data, Playtime: now.Sub(s.playSince), LastStage: s.curID()})
	if err != nil {
		s.failStore(reqID, "save character", err)
		return
	}
	s.playSince = now
	s.ok(reqID, 0)
}

func (s *session) onLoadData(reqID uint32) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	ch, err := s.srv.store.LoadCharacter(ctx, s.charID)
	if err != nil {
		s.failStore(reqID, "load character", err)
		return
	}
	secs := ch.Playtime.Seconds()
	s.reply(reqID, &wire.CharData{Data: ch.SaveData, Hash: ch.SaveHash, Playtime: uint32(min(max(secs, 0), float64(^uint32(0))))})
}
