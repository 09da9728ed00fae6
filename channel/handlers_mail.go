package channel

import (
	"errors"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

// mailListLimit bounds one MailList answer.
const mailListLimit = 100

func (s *session) onMailSend(reqID uint32, m *wire.MailSend) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	srv := s.srv
	to := m.ToID
	if to == 0 {
		if m.ToName == "" {
			s.replyErr(reqID, wire.CodeBadRequest, "recipient ID or name required")
			return
		}
		id, err := srv.store.CharacterByName(ctx, m.ToName)
		if err != nil {
			s.failStore(reqID, "character by name", err)
			return
		}
		to = id
	}
	mail := store.Mail{FromID: s.charID, FromName: s.name, ToID: to, Subject: m.Subject, Body: m.Body, SentAt: srv.now()}
	id, err := srv.store.SendMail(ctx, mail)
	if err != nil {
		s.failStore(reqID, "send mail", err)
		return
	}
	s.ok(reqID, uint64(id))
	s.notifyMail(to, id, m.Subject)
}

// notifyMail tells an online recipient about durable mail; offline
// recipients see it as unread at their next login.
func (s *session) notifyMail(to uint32, mailID int64, subject string) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	err := s.srv.reg.NotifyMail(ctx, to, registry.MailNotice{MailID: mailID, FromID: s.charID, FromName: s.name, Subject: subject})
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		s.srv.met.add(mRegistryErrors, 1)
		s.log().Warn("mail notification failed; recipient sees it at next login", "to", to, "err", err)
	}
}

func mailHeader(m store.Mail) wire.MailHeader {
	return wire.MailHeader{
		ID:       m.ID,
		FromID:   m.FromID,
		FromName: truncate(m.FromName, wire.MaxName),
		Subject:  truncate(m.Subject, wire.MaxShort),
		SentAt:   m.SentAt.Unix(),
		Read:     m.Read,
		Guild:    m.Guild,
	}
}

func (s *session) onMailList(reqID uint32) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	list, err := s.srv.store.ListMail(ctx, s.charID, mailListLimit)
	if err != nil {
		s.failStore(reqID, "list mail", err)
		return
	}
	resp := &wire.MailListResp{Mail: make([]wire.MailHeader, 0, len(list))}
	for _, m := range list {
		resp.Mail = append(resp.Mail, mailHeader(m))
	}
	s.reply(reqID, resp)
}

func (s *session) onMailRead(reqID uint32, m *wire.MailRead) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	mail, err := s.srv.store.ReadMail(ctx, s.charID, m.ID)
	if err != nil {
		s.failStore(reqID, "read mail", err)
		return
	}
	s.reply(reqID, &wire.MailBody{Header: mailHeader(mail), Body: truncate(mail.Body, wire.MaxText)})
}

func (s *session) onMailDelete(reqID uint32, m *wire.MailDelete) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	if err := s.srv.store.DeleteMail(ctx, s.charID, m.ID); err != nil {
		s.failStore(reqID, "delete mail", err)
		return
	}
	s.ok(reqID, 0)
}

// onGuildMail mails every member of the sender's guild. The guild is read
// from the store, not the session's cached one: membership may have
// changed through another player's action on another channel.
func (s *session) onGuildMail(reqID uint32, m *wire.GuildMail) {
	ctx, cancel := s.reqCtx()
	defer cancel()
	gid, ok := s.myGuildID(ctx, reqID)
	if !ok {
		return
	}
	sent, err := s.srv.store.SendGuildMail(ctx, gid, store.Mail{FromID: s.charID, FromName: s.name, Subject: m.Subject, Body: m.Body, SentAt: s.srv.now(), Guild: true})
	if err != nil {
		s.failStore(reqID, "send guild mail", err)
		return
	}
	s.ok(reqID, uint64(len(sent)))
	for to, id := range sent {
		s.notifyMail(to, id, m.Subject)
	}
}
