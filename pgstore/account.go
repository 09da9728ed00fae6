package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

const (
	tokenBytes = 32
	// maxPassword is bcrypt's input limit.
	maxPassword = 72
)

// checkName validates an account, character or guild name.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty: %w", what, ErrInvalid)
	case len(name) > wire.MaxName:
		return fmt.Errorf("%s is longer than %d bytes: %w", what, wire.MaxName, store.ErrTooLarge)
	}
	return nil
}

// CreateAccount creates an account with a bcrypt hash of password and its
// first character, in one transaction. store.ErrExists when the username or
// the character name is taken (both compared case-insensitively).
func (s *Store) CreateAccount(ctx context.Context, username, password, charName string) (accountID int64, charID uint32, err error) {
	if err := checkName("username", username); err != nil {
		return 0, 0, mapErr("create account", err)
	}
	if err := checkName("character name", charName); err != nil {
		return 0, 0, mapErr("create account", err)
	}
	switch {
	case password == "":
		return 0, 0, mapErr("create account", fmt.Errorf("password is empty: %w", ErrInvalid))
	case len(password) > maxPassword:
		return 0, 0, mapErr("create account", fmt.Errorf("password is longer than %d bytes: %w", maxPassword, store.ErrTooLarge))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return 0, 0, fmt.Errorf("pgstore: create account: bcrypt: %w", err)
	}
	err = s.tx(ctx, "create account", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx,
			`INSERT INTO accounts (username, password_hash) VALUES ($1, $2) RETURNING id`,
			username, string(hash)).Scan(&accountID); err != nil {
			return fmt.Errorf("account %q: %w", username, err)
		}
		if err := tx.QueryRow(ctx,
			`INSERT INTO characters (account_id, name) VALUES ($1, $2) RETURNING id`,
			accountID, charName).Scan(&charID); err != nil {
			return fmt.Errorf("character %q: %w", charName, err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	s.log.Info("pgstore: account created", "account_id", accountID, "char_id", charID)
	return accountID, charID, nil
}

// Authenticate checks username (case-insensitive) and password and returns
// the account with its characters (without save data). store.ErrNotFound
// for an unknown username, store.ErrBadPassword for a wrong password;
// callers should show one message for both.
func (s *Store) Authenticate(ctx context.Context, username, password string) (store.Account, []store.Character, error) {
	var acc store.Account
	var hash string
	err := s.pool.QueryRow(ctx,
		`SELECT id, username, password_hash, created_at FROM accounts WHERE lower(username) = lower($1)`,
		username).Scan(&acc.ID, &acc.Username, &hash, &acc.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password)) // same time as a wrong password
		return store.Account{}, nil, mapErr("authenticate", store.ErrNotFound)
	}
	if err != nil {
		return store.Account{}, nil, mapErr("authenticate", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return store.Account{}, nil, mapErr("authenticate", store.ErrBadPassword)
	}
	rows, err := s.pool.Query(ctx, selectCharacter+` WHERE c.account_id = $1 ORDER BY c.id`, acc.ID)
	if err != nil {
		return store.Account{}, nil, mapErr("authenticate: characters", err)
	}
	chars, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Character, error) {
		c, err := scanCharacter(r)
		c.SaveData = nil
		return c, err
	})
	if err != nil {
		return store.Account{}, nil, mapErr("authenticate: characters", err)
	}
	return acc, chars, nil
}

// CreateSignSession issues a sign-in token for charID, which must belong to
// accountID (store.ErrNotFound otherwise), valid for ttl and owned by
// replicaID. The token is 32 random bytes, base64url without padding; only
// its SHA-256 is stored.
func (s *Store) CreateSignSession(ctx context.Context, accountID int64, charID uint32, replicaID string, ttl time.Duration) (token string, expires time.Time, err error) {
	if ttl <= 0 {
		return "", time.Time{}, mapErr("create sign session", fmt.Errorf("ttl %v: %w", ttl, ErrInvalid))
	}
	if replicaID == "" {
		return "", time.Time{}, mapErr("create sign session", fmt.Errorf("empty replica ID: %w", ErrInvalid))
	}
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("pgstore: create sign session: random: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(raw[:])
	hash := sha256.Sum256([]byte(token))
	err = s.pool.QueryRow(ctx, `
		INSERT INTO sign_sessions (token_hash, account_id, char_id, replica_id, expires_at)
		SELECT $1, c.account_id, c.id, $4, now() + $5 * interval '1 microsecond'
		FROM characters c WHERE c.id = $2 AND c.account_id = $3
		RETURNING expires_at`,
		hash[:], int64(charID), accountID, replicaID, ttl.Microseconds()).Scan(&expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, mapErr("create sign session",
			fmt.Errorf("character %d of account %d: %w", charID, accountID, store.ErrNotFound))
	}
	if err != nil {
		return "", time.Time{}, mapErr("create sign session", err)
	}
	return token, expires, nil
}

// UseSignSession validates token and binds it to channelID (a token may be
// used again, for a channel change, until it expires). store.ErrNotFound for
// an unknown token, store.ErrExpired for an expired one.
func (s *Store) UseSignSession(ctx context.Context, token string, channelID uint16) (store.SignSession, error) {
	if token == "" || len(token) > wire.MaxShort {
		return store.SignSession{}, mapErr("use sign session", store.ErrNotFound)
	}
	hash := sha256.Sum256([]byte(token))
	var ss store.SignSession
	var expired bool
	var charID int64
	err := s.tx(ctx, "use sign session", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT s.account_id, s.char_id, c.name, s.expires_at, s.replica_id, s.expires_at <= now()
			FROM sign_sessions s JOIN characters c ON c.id = s.char_id
			WHERE s.token_hash = $1 FOR UPDATE OF s`, hash[:]).
			Scan(&ss.AccountID, &charID, &ss.CharName, &ss.Expires, &ss.ReplicaID, &expired)
		if err != nil {
			return err
		}
		if expired {
			return store.ErrExpired
		}
		_, err = tx.Exec(ctx, `UPDATE sign_sessions SET server_id = $2 WHERE token_hash = $1`, hash[:], int32(channelID))
		return err
	})
	if err != nil {
		return store.SignSession{}, err
	}
	ss.CharID = uint32(charID)
	ss.ServerID = channelID
	return ss, nil
}

// DeleteExpiredSignSessions deletes the expired sign sessions issued by
// replicaID (only those) and returns how many.
func (s *Store) DeleteExpiredSignSessions(ctx context.Context, replicaID string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sign_sessions WHERE replica_id = $1 AND expires_at <= now()`, replicaID)
	if err != nil {
		return 0, mapErr("delete expired sign sessions", err)
	}
	return tag.RowsAffected(), nil
}

// DeleteSignSessions deletes every sign session issued by replicaID (on
// shutdown) and returns how many.
func (s *Store) DeleteSignSessions(ctx context.Context, replicaID string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sign_sessions WHERE replica_id = $1`, replicaID)
	if err != nil {
		return 0, mapErr("delete sign sessions", err)
	}
	return tag.RowsAffected(), nil
}
