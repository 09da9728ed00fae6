package pgstore_test

import (
	"io/fs"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/migrations"
	"github.com/guildhall/guildhall/pgstore"
)

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	url := pg.URL(t)
	ctx := testCtx(t)
	files, err := fs.Glob(migrations.FS(), "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)

	// Several replicas start at once: one through the package function, the
	// others through their own pools.
	const n = 6
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs <- pgstore.Migrate(ctx, url, nil)
				return
			}
			s, err := pgstore.Open(ctx, url, pgstore.Options{BcryptCost: bcrypt.MinCost, MaxConns: 2})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	s, err := pgstore.Open(ctx, url, pgstore.Options{BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	defer s.Close()
	var applied int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied))
	require.Equal(t, len(files), applied, "each migration recorded once")

	require.NoError(t, s.Migrate(ctx), "idempotent")
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied))
	require.Equal(t, len(files), applied)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v)

	// The schema works: every table of the design exists.
	for _, table := range []string{"accounts", "characters", "sign_sessions", "servers", "mail",
		"guilds", "guild_members", "guild_requests", "semaphore_fences", "schema_migrations"} {
		var ok bool
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok))
		require.True(t, ok, table)
	}
}
