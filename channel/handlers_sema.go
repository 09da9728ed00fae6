package channel

import (
	"errors"
	"fmt"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

func (s *session) onSemaAcquire(reqID uint32, m *wire.SemaAcquire) {
	if m.Name == "" {
		s.replyErr(reqID, wire.CodeBadRequest, "semaphore name must not be empty")
		return
	}
	srv := s.srv
	if !m.Global {
		if !srv.acquireLocal(m.Name, s.charID, int(m.Capacity)) {
			s.reply(reqID, &wire.Error{Code: wire.CodeSemaHeld, Message: "semaphore is full", Channel: srv.cfg.ID, Addr: truncate(s.addr, wire.MaxShort)})
			return
		}
		if s.localSemas == nil {
			s.localSemas = make(map[string]struct{})
		}
		s.localSemas[m.Name] = struct{}{}
		s.ok(reqID, 0)
		return
	}
	ctx, cancel := s.reqCtx()
	defer cancel()
	lease, err := srv.reg.AcquireSemaphore(ctx, m.Name, s.holder())
	if err != nil {
		var held *registry.SemaphoreHeldError
		if errors.As(err, &held) {
			s.reply(reqID, &wire.Error{Code: wire.CodeSemaHeld, Message: truncate(heldMessage(held.Holder), wire.MaxShort),
				Channel: held.Holder.ChannelID, Addr: truncate(held.Holder.Addr, wire.MaxShort)})
			return
		}
		s.failRegistry(reqID, "acquire semaphore", err)
		return
	}
	if s.globalSema == nil {
		s.globalSema = make(map[string]uint64)
	}
	s.globalSema[m.Name] = lease.Token
	s.ok(reqID, lease.Token)
}

func (s *session) onSemaRelease(reqID uint32, m *wire.SemaRelease) {
	srv := s.srv
	if !m.Global {
		if !srv.releaseLocal(m.Name, s.charID) {
			s.replyErr(reqID, wire.CodeNotFound, "semaphore not held")
			return
		}
		delete(s.localSemas, m.Name)
		s.ok(reqID, 0)
		return
	}
	ctx, cancel := s.reqCtx()
	defer cancel()
	delete(s.globalSema, m.Name)
	if err := srv.reg.ReleaseSemaphore(ctx, m.Name, s.holder()); err != nil {
		if errors.Is(err, registry.ErrNotHolder) {
			s.replyErr(reqID, wire.CodeNotFound, "semaphore not held")
			return
		}
		s.failRegistry(reqID, "release semaphore", err)
		return
	}
	s.ok(reqID, 0)
}

func (s *session) onSemaWrite(reqID uint32, m *wire.SemaWrite) {
	token, ok := s.globalSema[m.Name]
	if !ok {
		s.replyErr(reqID, wire.CodeForbidden, "semaphore not held by this session")
		return
	}
	ctx, cancel := s.reqCtx()
	defer cancel()
	if err := s.srv.store.FencedWrite(ctx, m.Name, token, m.Data); err != nil {
		s.failStore(reqID, "fenced write", err)
		return
	}
	s.ok(reqID, token)
}

// heldMessage tells a refused client who holds a global semaphore and
// where, e.g. "semaphore held by character 7 on channel 2 at 10.0.0.5:7001".
func heldMessage(h registry.Holder) string {
	msg := fmt.Sprintf("semaphore held by character %d on channel %d", h.CharID, h.ChannelID)
	if h.Addr != "" {
		msg += " at " + h.Addr
	}
	return msg
}
