package pgstore_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/store"
)

func TestAccounts(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)

	acc, char, err := s.CreateAccount(ctx, "Alice", "s3cret", "Aria")
	require.NoError(t, err)
	require.NotZero(t, acc)
	require.NotZero(t, char)

	_, _, err = s.CreateAccount(ctx, "ALICE", "x", "Other")
	require.ErrorIs(t, err, store.ErrExists, "username is case-insensitive")
	_, _, err = s.CreateAccount(ctx, "bob", "x", "aRIA")
	require.ErrorIs(t, err, store.ErrExists, "character name is case-insensitive")
	_, _, err = s.Authenticate(ctx, "bob", "x")
	require.ErrorIs(t, err, store.ErrNotFound, "failed creation rolled back the account")

	for _, bad := range []struct{ user, pw, char string }{
		{"", "pw", "c"}, {"u", "", "c"}, {"u", "pw", ""},
	} {
		_, _, err = s.CreateAccount(ctx, bad.user, bad.pw, bad.char)
		require.ErrorIs(t, err, pgstore.ErrInvalid, "%+v", bad)
	}
	_, _, err = s.CreateAccount(ctx, strings.Repeat("u", 33), "pw", "c")
	require.ErrorIs(t, err, store.ErrTooLarge)
	_, _, err = s.CreateAccount(ctx, "u", strings.Repeat("p", 73), "c")
	require.ErrorIs(t, err, store.ErrTooLarge)

	got, chars, err := s.Authenticate(ctx, "alice", "s3cret")
	require.NoError(t, err)
	require.Equal(t, acc, got.ID)
	require.Equal(t, "Alice", got.Username)
	require.False(t, got.Created.IsZero())
	require.Len(t, chars, 1)
	require.Equal(t, char, chars[0].ID)
	require.Equal(t, "Aria", chars[0].Name)
	require.Equal(t, acc, chars[0].AccountID)

	_, _, err = s.Authenticate(ctx, "Alice", "wrong")
	require.ErrorIs(t, err, store.ErrBadPassword)
	_, _, err = s.Authenticate(ctx, "nobody", "s3cret")
	require.ErrorIs(t, err, store.ErrNotFound)

	var hash string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT password_hash FROM accounts WHERE id = $1`, acc).Scan(&hash))
	require.NotContains(t, hash, "s3cret")
	require.True(t, strings.HasPrefix(hash, "$2"), "bcrypt hash: %s", hash)
}

func TestSignSessions(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	acc, char := newChar(t, s, "Sig")
	otherAcc, otherChar := newChar(t, s, "Other")

	token, expires, err := s.CreateSignSession(ctx, acc, char, "replica-a", time.Hour)
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	require.Len(t, raw, 32)
	require.WithinDuration(t, time.Now().Add(time.Hour), expires, 5*time.Minute)

	// Only the token's SHA-256 is stored.
	sum := sha256.Sum256([]byte(token))
	var stored []byte
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT token_hash FROM sign_sessions`).Scan(&stored))
	require.Equal(t, sum[:], stored)

	ss, err := s.UseSignSession(ctx, token, 7)
	require.NoError(t, err)
	require.Equal(t, store.SignSession{AccountID: acc, CharID: char, CharName: "Sig", ServerID: 7,
		Expires: ss.Expires, ReplicaID: "replica-a"}, ss)
	require.True(t, ss.Expires.Equal(expires))
	var bound int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT server_id FROM sign_sessions`).Scan(&bound))
	require.Equal(t, 7, bound)
	ss, err = s.UseSignSession(ctx, token, 40000)
	require.NoError(t, err, "rebinding for a channel change; IDs above 32767 fit")
	require.Equal(t, uint16(40000), ss.ServerID)

	_, err = s.UseSignSession(ctx, "not-a-token", 1)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.UseSignSession(ctx, "", 1)
	require.ErrorIs(t, err, store.ErrNotFound)

	// The character must belong to the account.
	_, _, err = s.CreateSignSession(ctx, acc, otherChar, "replica-a", time.Hour)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = s.CreateSignSession(ctx, acc, char, "replica-a", 0)
	require.ErrorIs(t, err, pgstore.ErrInvalid)
	_, _, err = s.CreateSignSession(ctx, acc, char, "", time.Hour)
	require.ErrorIs(t, err, pgstore.ErrInvalid)

	// Expiry: push sessions into the past rather than waiting.
	expA, _, err := s.CreateSignSession(ctx, acc, char, "replica-a", time.Hour)
	require.NoError(t, err)
	expB, _, err := s.CreateSignSession(ctx, otherAcc, otherChar, "replica-b", time.Hour)
	require.NoError(t, err)
	liveB, _, err := s.CreateSignSession(ctx, otherAcc, otherChar, "replica-b", time.Hour)
	require.NoError(t, err)
	for _, tok := range []string{expA, expB} {
		sum := sha256.Sum256([]byte(tok))
		_, err := s.Pool().Exec(ctx, `UPDATE sign_sessions SET expires_at = now() - interval '1 minute' WHERE token_hash = $1`, sum[:])
		require.NoError(t, err)
	}
	_, err = s.UseSignSession(ctx, expA, 1)
	require.ErrorIs(t, err, store.ErrExpired)

	n, err := s.DeleteExpiredSignSessions(ctx, "replica-a")
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "only replica-a's expired session")
	_, err = s.UseSignSession(ctx, expA, 1)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.UseSignSession(ctx, expB, 1)
	require.ErrorIs(t, err, store.ErrExpired, "replica-b's expired session untouched by replica-a")
	_, err = s.UseSignSession(ctx, token, 1)
	require.NoError(t, err, "unexpired session of replica-a kept")

	n, err = s.DeleteSignSessions(ctx, "replica-a")
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	_, err = s.UseSignSession(ctx, token, 1)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.UseSignSession(ctx, liveB, 1)
	require.NoError(t, err, "replica-b's sessions survive replica-a's shutdown")
}

func TestCharacters(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	acc, id := newChar(t, s, "Saver")

	c, err := s.LoadCharacter(ctx, id)
	require.NoError(t, err)
	require.Equal(t, acc, c.AccountID)
	require.Equal(t, "Saver", c.Name)
	require.Nil(t, c.SaveData)
	require.Nil(t, c.SaveHash)
	require.True(t, c.LastLogin.IsZero())
	require.Zero(t, c.GuildID)

	data := []byte("save \x00\x01\x02 data")
	require.NoError(t, s.SaveCharacter(ctx, store.CharacterSave{CharID: id, SaveData: data,
		Playtime: 90 * time.Second, LastStage: "town"}))
	c, err = s.LoadCharacter(ctx, id)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, data, c.SaveData)
	require.Equal(t, sum[:], c.SaveHash)
	require.Equal(t, 90*time.Second, c.Playtime)
	require.Equal(t, "town", c.LastStage)
	require.False(t, c.LastLogin.IsZero())

	// nil save data and empty stage leave them; playtime adds up.
	require.NoError(t, s.SaveCharacter(ctx, store.CharacterSave{CharID: id, Playtime: 30 * time.Second}))
	c, err = s.LoadCharacter(ctx, id)
	require.NoError(t, err)
	require.Equal(t, data, c.SaveData)
	require.Equal(t, sum[:], c.SaveHash)
	require.Equal(t, 2*time.Minute, c.Playtime)
	require.Equal(t, "town", c.LastStage)

	// The largest allowed save round-trips; one byte more is refused.
	big := make([]byte, 48*1024)
	for i := range big {
		big[i] = byte(i * 7)
	}
	require.NoError(t, s.SaveCharacter(ctx, store.CharacterSave{CharID: id, SaveData: big}))
	c, err = s.LoadCharacter(ctx, id)
	require.NoError(t, err)
	require.Equal(t, big, c.SaveData)
	bigSum := sha256.Sum256(big)
	require.Equal(t, bigSum[:], c.SaveHash)
	err = s.SaveCharacter(ctx, store.CharacterSave{CharID: id, SaveData: append(big, 0)})
	require.ErrorIs(t, err, store.ErrTooLarge)
	err = s.SaveCharacter(ctx, store.CharacterSave{CharID: id, Playtime: -time.Second})
	require.ErrorIs(t, err, pgstore.ErrInvalid)

	require.ErrorIs(t, s.SaveCharacter(ctx, store.CharacterSave{CharID: 999999}), store.ErrNotFound)
	_, err = s.LoadCharacter(ctx, 999999)
	require.ErrorIs(t, err, store.ErrNotFound)

	got, err := s.CharacterByName(ctx, "sAVER")
	require.NoError(t, err)
	require.Equal(t, id, got)
	_, err = s.CharacterByName(ctx, "Sav")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.CharacterByName(ctx, "")
	require.ErrorIs(t, err, store.ErrNotFound)
}
