package pgstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

const selectCharacter = `
	SELECT c.id, c.account_id, c.name, c.save_data, c.save_hash, c.playtime_seconds,
	       c.last_login, c.last_stage, COALESCE(m.guild_id, 0)
	FROM characters c LEFT JOIN guild_members m ON m.char_id = c.id`

func scanCharacter(r pgx.Row) (store.Character, error) {
	var c store.Character
	var id, guildID int64
	var playtime int64
	var lastLogin *time.Time
	if err := r.Scan(&id, &c.AccountID, &c.Name, &c.SaveData, &c.SaveHash, &playtime,
		&lastLogin, &c.LastStage, &guildID); err != nil {
		return store.Character{}, err
	}
	c.ID = uint32(id)
	c.GuildID = uint32(guildID)
	c.Playtime = time.Duration(playtime) * time.Second
	if lastLogin != nil {
		c.LastLogin = *lastLogin
	}
	return c, nil
}

// LoadCharacter returns the character with its save data (nil until first
// saved) and its guild. store.ErrNotFound when there is no such character.
func (s *Store) LoadCharacter(ctx context.Context, charID uint32) (store.Character, error) {
	c, err := scanCharacter(s.pool.QueryRow(ctx, selectCharacter+` WHERE c.id = $1`, int64(charID)))
	if err != nil {
		return store.Character{}, mapErr(fmt.Sprintf("load character %d", charID), err)
	}
	return c, nil
}

// SaveCharacter writes save data (when non-nil) with its SHA-256, adds
// playtime (whole seconds), sets the last login time to now and, when
// LastStage is non-empty, the last stage. store.ErrTooLarge for save data
// over wire.MaxSaveData or a stage ID over wire.MaxStageID;
// store.ErrNotFound for an unknown character.
func (s *Store) SaveCharacter(ctx context.Context, cs store.CharacterSave) error {
	op := fmt.Sprintf("save character %d", cs.CharID)
	switch {
	case len(cs.SaveData) > wire.MaxSaveData:
		return mapErr(op, fmt.Errorf("save data of %d bytes (max %d): %w", len(cs.SaveData), wire.MaxSaveData, store.ErrTooLarge))
	case len(cs.LastStage) > wire.MaxStageID:
		return mapErr(op, fmt.Errorf("stage ID of %d bytes (max %d): %w", len(cs.LastStage), wire.MaxStageID, store.ErrTooLarge))
	case cs.Playtime < 0:
		return mapErr(op, fmt.Errorf("negative playtime %v: %w", cs.Playtime, ErrInvalid))
	}
	var hash []byte
	if cs.SaveData != nil {
		h := sha256.Sum256(cs.SaveData)
		hash = h[:]
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE characters SET
			save_data = CASE WHEN $2::bytea IS NULL THEN save_data ELSE $2 END,
			save_hash = CASE WHEN $2::bytea IS NULL THEN save_hash ELSE $3 END,
			playtime_seconds = playtime_seconds + $4,
			last_stage = CASE WHEN $5::text = '' THEN last_stage ELSE $5::text END,
			last_login = now()
		WHERE id = $1`,
		int64(cs.CharID), cs.SaveData, hash, int64(cs.Playtime/time.Second), cs.LastStage)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return mapErr(op, store.ErrNotFound)
	}
	return nil
}

// CharacterByName returns the ID of the character with that name,
// compared case-insensitively; store.ErrNotFound when there is none.
func (s *Store) CharacterByName(ctx context.Context, name string) (uint32, error) {
	if name == "" || len(name) > wire.MaxName {
		return 0, mapErr("character by name", store.ErrNotFound)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM characters WHERE lower(name) = lower($1)`, name).Scan(&id)
	if err != nil {
		return 0, mapErr("character by name", err)
	}
	return uint32(id), nil
}
