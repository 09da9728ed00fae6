package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/pgtemp"
	"github.com/guildhall/guildhall/store"
)

// TestDatabaseStopped stops a server under a live Store: calls fail with
// store.ErrUnavailable, never panic, and Open fails the same way.
func TestDatabaseStopped(t *testing.T) {
	ctx := testCtx(t)
	srv, err := pgtemp.Start(ctx, pgtemp.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	url, err := srv.CreateDatabase(ctx, "stopped")
	require.NoError(t, err)
	require.NoError(t, pgstore.Migrate(ctx, url, nil))
	s, err := pgstore.Open(ctx, url, pgstore.Options{BcryptCost: bcrypt.MinCost, ConnectTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer s.Close()
	_, char, err := s.CreateAccount(ctx, "u", "p", "Char")
	require.NoError(t, err)

	require.NoError(t, srv.Stop())

	_, err = s.LoadCharacter(ctx, char)
	require.ErrorIs(t, err, store.ErrUnavailable)
	err = s.SaveCharacter(ctx, store.CharacterSave{CharID: char, SaveData: []byte("x")})
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, _, err = s.Authenticate(ctx, "u", "p")
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = s.CreateGuild(ctx, char, "G")
	require.ErrorIs(t, err, store.ErrUnavailable, "inside a transaction too")
	require.ErrorIs(t, s.Ping(ctx), store.ErrUnavailable)
	require.ErrorIs(t, pgstore.Migrate(ctx, url, nil), store.ErrUnavailable)

	_, err = pgstore.Open(ctx, url, pgstore.Options{BcryptCost: bcrypt.MinCost})
	require.ErrorIs(t, err, store.ErrUnavailable)

	// A caller's short deadline against an unreachable server also maps.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.UnreadMail(short, char)
	require.ErrorIs(t, err, store.ErrUnavailable)
}

func TestOpenBadURL(t *testing.T) {
	_, err := pgstore.Open(testCtx(t), "postgres://%zz", pgstore.Options{})
	require.ErrorIs(t, err, pgstore.ErrInvalid)
	_, err = pgstore.Open(testCtx(t), "postgres://127.0.0.1/x", pgstore.Options{BcryptCost: 99})
	require.ErrorIs(t, err, pgstore.ErrInvalid)
}
