package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/guildhall/guildhall/store"
)

// Guild requests are rows of guild_requests with one of these kinds.
const (
	kindInvite = "invite"
	kindApply  = "apply"
)

// leaderGuild returns the guild led by leaderID, locked for the
// transaction; store.ErrForbidden when leaderID leads none.
func leaderGuild(ctx context.Context, tx pgx.Tx, leaderID uint32) (uint32, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM guilds WHERE leader_id = $1 FOR UPDATE`, int64(leaderID)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("character %d leads no guild: %w", leaderID, store.ErrForbidden)
	}
	return uint32(id), err
}

// requireGuildless returns store.ErrNotFound for an unknown character and
// store.ErrExists for one already in a guild.
func requireGuildless(ctx context.Context, tx pgx.Tx, charID uint32) error {
	var inGuild bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM guild_members WHERE char_id = c.id)
		FROM characters c WHERE c.id = $1`, int64(charID)).Scan(&inGuild)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("character %d: %w", charID, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if inGuild {
		return fmt.Errorf("character %d is in a guild: %w", charID, store.ErrExists)
	}
	return nil
}

// join makes charID a member of guildID and withdraws its other requests.
func join(ctx context.Context, tx pgx.Tx, guildID, charID uint32) error {
	if _, err := tx.Exec(ctx, `INSERT INTO guild_members (guild_id, char_id) VALUES ($1, $2)`,
		int64(guildID), int64(charID)); err != nil {
		return fmt.Errorf("join guild %d: %w", guildID, err)
	}
	_, err := tx.Exec(ctx, `DELETE FROM guild_requests WHERE char_id = $1`, int64(charID))
	return err
}

// CreateGuild creates a guild named name led (and joined) by leaderID.
// store.ErrExists if the name is taken (case-insensitive) or the leader is
// in a guild; store.ErrNotFound for an unknown leader.
func (s *Store) CreateGuild(ctx context.Context, leaderID uint32, name string) (uint32, error) {
	if err := checkName("guild name", name); err != nil {
		return 0, mapErr("create guild", err)
	}
	var id int64
	err := s.tx(ctx, "create guild", func(tx pgx.Tx) error {
		if err := requireGuildless(ctx, tx, leaderID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO guilds (name, leader_id) VALUES ($1, $2) RETURNING id`,
			name, int64(leaderID)).Scan(&id); err != nil {
			return fmt.Errorf("guild %q: %w", name, err)
		}
		return join(ctx, tx, uint32(id), leaderID)
	})
	if err != nil {
		return 0, err
	}
	s.log.Info("pgstore: guild created", "guild_id", id, "leader_id", leaderID)
	return uint32(id), nil
}

// Guild returns a guild with its members, oldest member first.
// store.ErrNotFound when there is no such guild.
func (s *Store) Guild(ctx context.Context, guildID uint32) (store.Guild, error) {
	op := fmt.Sprintf("guild %d", guildID)
	var g store.Guild
	var id, leader int64
	err := s.pool.QueryRow(ctx, `SELECT id, name, leader_id FROM guilds WHERE id = $1`, int64(guildID)).
		Scan(&id, &g.Name, &leader)
	if err != nil {
		return store.Guild{}, mapErr(op, err)
	}
	g.ID, g.LeaderID = uint32(id), uint32(leader)
	rows, err := s.pool.Query(ctx, `SELECT m.char_id, c.name, m.joined_at
		FROM guild_members m JOIN characters c ON c.id = m.char_id
		WHERE m.guild_id = $1 ORDER BY m.joined_at, m.char_id`, int64(guildID))
	if err != nil {
		return store.Guild{}, mapErr(op, err)
	}
	g.Members, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.GuildMember, error) {
		var m store.GuildMember
		var cid int64
		err := r.Scan(&cid, &m.Name, &m.Joined)
		m.CharID = uint32(cid)
		return m, err
	})
	if err != nil {
		return store.Guild{}, mapErr(op, err)
	}
	return g, nil
}

// InviteToGuild records an invitation of charID to the guild leaderID
// leads. store.ErrForbidden when leaderID leads no guild, store.ErrNotFound
// for an unknown character, store.ErrExists when it is in a guild.
// Inviting twice is not an error.
func (s *Store) InviteToGuild(ctx context.Context, leaderID, charID uint32) (uint32, error) {
	var guildID uint32
	err := s.tx(ctx, "invite to guild", func(tx pgx.Tx) error {
		var err error
		if guildID, err = leaderGuild(ctx, tx, leaderID); err != nil {
			return err
		}
		if err := requireGuildless(ctx, tx, charID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO guild_requests (guild_id, char_id, kind) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, int64(guildID), int64(charID), kindInvite)
		return err
	})
	if err != nil {
		return 0, err
	}
	return guildID, nil
}

// ApplyToGuild records an application of charID to guildID.
// store.ErrNotFound for an unknown guild or character, store.ErrExists when
// charID is in a guild. Applying twice is not an error.
func (s *Store) ApplyToGuild(ctx context.Context, guildID, charID uint32) error {
	return s.tx(ctx, "apply to guild", func(tx pgx.Tx) error {
		if err := requireGuildless(ctx, tx, charID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO guild_requests (guild_id, char_id, kind)
			SELECT id, $2, $3 FROM guilds WHERE id = $1 ON CONFLICT DO NOTHING`,
			int64(guildID), int64(charID), kindApply)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM guilds WHERE id = $1)`, int64(guildID)).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("guild %d: %w", guildID, store.ErrNotFound)
			}
		}
		return nil
	})
}

// takeRequest deletes a pending request, or returns store.ErrForbidden.
func takeRequest(ctx context.Context, tx pgx.Tx, guildID, charID uint32, kind string) error {
	tag, err := tx.Exec(ctx, `DELETE FROM guild_requests WHERE guild_id = $1 AND char_id = $2 AND kind = $3`,
		int64(guildID), int64(charID), kind)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("no pending %s of character %d to guild %d: %w", kind, charID, guildID, store.ErrForbidden)
	}
	return nil
}

// AcceptInvite makes charID a member of guildID. store.ErrForbidden without
// a pending invitation, store.ErrExists when charID is already in a guild.
func (s *Store) AcceptInvite(ctx context.Context, guildID, charID uint32) error {
	return s.tx(ctx, "accept invite", func(tx pgx.Tx) error {
		if err := takeRequest(ctx, tx, guildID, charID, kindInvite); err != nil {
			return err
		}
		return join(ctx, tx, guildID, charID)
	})
}

// AcceptApplication makes applicant a member of the guild leaderID leads.
// store.ErrForbidden when leaderID leads no guild or applicant did not
// apply to it, store.ErrExists when applicant is already in a guild.
func (s *Store) AcceptApplication(ctx context.Context, leaderID, applicant uint32) (uint32, error) {
	var guildID uint32
	err := s.tx(ctx, "accept application", func(tx pgx.Tx) error {
		var err error
		if guildID, err = leaderGuild(ctx, tx, leaderID); err != nil {
			return err
		}
		if err := takeRequest(ctx, tx, guildID, applicant, kindApply); err != nil {
			return err
		}
		return join(ctx, tx, guildID, applicant)
	})
	if err != nil {
		return 0, err
	}
	return guildID, nil
}

// LeaveGuild removes charID from its guild. When charID is the leader the
// guild is disbanded: every member removed, pending requests dropped.
// store.ErrNotFound when charID is in no guild.
func (s *Store) LeaveGuild(ctx context.Context, charID uint32) (guildID uint32, disbanded bool, err error) {
	err = s.tx(ctx, "leave guild", func(tx pgx.Tx) error {
		var gid, leader int64
		err := tx.QueryRow(ctx, `SELECT g.id, g.leader_id FROM guild_members m JOIN guilds g ON g.id = m.guild_id
			WHERE m.char_id = $1 FOR UPDATE OF g`, int64(charID)).Scan(&gid, &leader)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("character %d is in no guild: %w", charID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		guildID = uint32(gid)
		if leader == int64(charID) {
			disbanded = true
			_, err = tx.Exec(ctx, `DELETE FROM guilds WHERE id = $1`, gid) // cascades to members and requests
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM guild_members WHERE guild_id = $1 AND char_id = $2`, gid, int64(charID))
		return err
	})
	if err != nil {
		return 0, false, err
	}
	if disbanded {
		s.log.Info("pgstore: guild disbanded", "guild_id", guildID, "leader_id", charID)
	}
	return guildID, disbanded, nil
}

// KickFromGuild removes charID from the guild leaderID leads.
// store.ErrForbidden when leaderID leads no guild or kicks itself (it
// leaves instead), store.ErrNotFound when charID is not a member.
func (s *Store) KickFromGuild(ctx context.Context, leaderID, charID uint32) (uint32, error) {
	var guildID uint32
	err := s.tx(ctx, "kick from guild", func(tx pgx.Tx) error {
		var err error
		if guildID, err = leaderGuild(ctx, tx, leaderID); err != nil {
			return err
		}
		if charID == leaderID {
			return fmt.Errorf("a leader cannot kick itself: %w", store.ErrForbidden)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM guild_members WHERE guild_id = $1 AND char_id = $2`,
			int64(guildID), int64(charID))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("character %d is not in guild %d: %w", charID, guildID, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return guildID, nil
}
