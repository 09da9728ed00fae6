package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

const mailColumns = `id, from_id, from_name, to_id, subject, body, sent_at, read, guild`

func scanMail(r pgx.Row) (store.Mail, error) {
	var m store.Mail
	var from, to int64
	err := r.Scan(&m.ID, &from, &m.FromName, &to, &m.Subject, &m.Body, &m.SentAt, &m.Read, &m.Guild)
	m.FromID, m.ToID = uint32(from), uint32(to)
	return m, err
}

func checkMail(m store.Mail) error {
	switch {
	case len(m.Subject) > wire.MaxShort:
		return fmt.Errorf("subject of %d bytes (max %d): %w", len(m.Subject), wire.MaxShort, store.ErrTooLarge)
	case len(m.Body) > wire.MaxText:
		return fmt.Errorf("body of %d bytes (max %d): %w", len(m.Body), wire.MaxText, store.ErrTooLarge)
	case len(m.FromName) > wire.MaxName:
		return fmt.Errorf("sender name of %d bytes (max %d): %w", len(m.FromName), wire.MaxName, store.ErrTooLarge)
	}
	return nil
}

// SendMail stores m in m.ToID's inbox and returns its ID. An empty FromName
// is filled from the sender's character (left empty for FromID 0, system
// mail). ID, SentAt and Read of m are ignored. store.ErrNotFound when the
// recipient does not exist.
func (s *Store) SendMail(ctx context.Context, m store.Mail) (int64, error) {
	if err := checkMail(m); err != nil {
		return 0, mapErr("send mail", err)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO mail (from_id, from_name, to_id, subject, body, guild)
		VALUES ($1, CASE WHEN $2::text = '' THEN COALESCE((SELECT name FROM characters WHERE id = $1), '') ELSE $2::text END,
		        $3, $4, $5, $6)
		RETURNING id`,
		int64(m.FromID), m.FromName, int64(m.ToID), m.Subject, m.Body, m.Guild).Scan(&id)
	if err != nil {
		return 0, mapErr(fmt.Sprintf("send mail to %d", m.ToID), err)
	}
	return id, nil
}

// SendGuildMail stores one guild mail per member of guildID (sender
// included) in one statement, so either every member gets it or none, and
// returns the recipients with their new mail IDs. store.ErrNotFound when the
// guild does not exist.
func (s *Store) SendGuildMail(ctx context.Context, guildID uint32, m store.Mail) (map[uint32]int64, error) {
	op := fmt.Sprintf("send guild mail to %d", guildID)
	if err := checkMail(m); err != nil {
		return nil, mapErr(op, err)
	}
	rows, err := s.pool.Query(ctx, `
		INSERT INTO mail (from_id, from_name, to_id, subject, body, guild)
		SELECT $1, CASE WHEN $2::text = '' THEN COALESCE((SELECT name FROM characters WHERE id = $1), '') ELSE $2::text END,
		       gm.char_id, $4, $5, true
		FROM guild_members gm WHERE gm.guild_id = $3
		RETURNING to_id, id`,
		int64(m.FromID), m.FromName, int64(guildID), m.Subject, m.Body)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := map[uint32]int64{}
	var to, id int64
	_, err = pgx.ForEachRow(rows, []any{&to, &id}, func() error {
		out[uint32(to)] = id
		return nil
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	if len(out) == 0 { // guilds always have their leader as a member
		return nil, mapErr(op, store.ErrNotFound)
	}
	return out, nil
}

// ListMail returns up to limit (at most wire.MaxList) mails of charID's
// inbox, newest first, deleted mail excluded. ErrInvalid for limit <= 0.
func (s *Store) ListMail(ctx context.Context, charID uint32, limit int) ([]store.Mail, error) {
	if limit <= 0 {
		return nil, mapErr("list mail", fmt.Errorf("limit %d: %w", limit, ErrInvalid))
	}
	limit = min(limit, wire.MaxList)
	rows, err := s.pool.Query(ctx, `SELECT `+mailColumns+` FROM mail
		WHERE to_id = $1 AND NOT deleted ORDER BY sent_at DESC, id DESC LIMIT $2`, int64(charID), limit)
	if err != nil {
		return nil, mapErr("list mail", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Mail, error) { return scanMail(r) })
	return ms, mapErr("list mail", err)
}

// ReadMail returns mail mailID of charID's inbox, marked read.
// store.ErrNotFound when it is not in that inbox (or deleted).
func (s *Store) ReadMail(ctx context.Context, charID uint32, mailID int64) (store.Mail, error) {
	m, err := scanMail(s.pool.QueryRow(ctx, `UPDATE mail SET read = true
		WHERE id = $1 AND to_id = $2 AND NOT deleted RETURNING `+mailColumns, mailID, int64(charID)))
	if err != nil {
		return store.Mail{}, mapErr(fmt.Sprintf("read mail %d", mailID), err)
	}
	return m, nil
}

// DeleteMail deletes mail mailID of charID's inbox; store.ErrNotFound when
// it is not there.
func (s *Store) DeleteMail(ctx context.Context, charID uint32, mailID int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE mail SET deleted = true
		WHERE id = $1 AND to_id = $2 AND NOT deleted`, mailID, int64(charID))
	if err != nil {
		return mapErr(fmt.Sprintf("delete mail %d", mailID), err)
	}
	if tag.RowsAffected() == 0 {
		return mapErr(fmt.Sprintf("delete mail %d", mailID), store.ErrNotFound)
	}
	return nil
}

// UnreadMail counts the unread, undeleted mails of charID.
func (s *Store) UnreadMail(ctx context.Context, charID uint32) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM mail WHERE to_id = $1 AND NOT read AND NOT deleted`,
		int64(charID)).Scan(&n)
	return n, mapErr("unread mail", err)
}
