package pgtemp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/pgtemp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func queryInt(t *testing.T, ctx context.Context, url, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(ctx, sql).Scan(&n))
	return n
}

func TestServerLifecycle(t *testing.T) {
	ctx := ctxT(t)
	srv, err := pgtemp.Start(ctx, pgtemp.Options{})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Stop()
		}
	})

	require.Contains(t, srv.URL(), "127.0.0.1")
	require.Equal(t, 2, queryInt(t, ctx, srv.URL(), "SELECT 1+1"))
	dir := filepath.Dir(srv.LogPath())
	_, err = os.Stat(dir)
	require.NoError(t, err)

	url, err := srv.CreateDatabase(ctx, "game_one")
	require.NoError(t, err)
	require.True(t, strings.Contains(url, "/game_one?"), url)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	var db string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&db))
	require.Equal(t, "game_one", db)
	require.NoError(t, conn.Close(ctx))

	_, err = srv.CreateDatabase(ctx, "game_one")
	require.Error(t, err, "duplicate database")
	for _, bad := range []string{"", "Bad", "a-b", "x; DROP", "1abc", strings.Repeat("a", 64)} {
		_, err = srv.CreateDatabase(ctx, bad)
		require.ErrorIs(t, err, pgtemp.ErrInvalidName, bad)
	}
	require.NoError(t, srv.DropDatabase(ctx, "game_one"))
	require.NoError(t, srv.DropDatabase(ctx, "game_one"), "dropping a missing database is fine")

	require.NoError(t, srv.Stop())
	stopped = true
	require.NoError(t, srv.Stop(), "Stop is idempotent")
	_, err = os.Stat(dir)
	require.True(t, errors.Is(err, os.ErrNotExist), "data dir removed: %v", err)
	_, err = pgx.Connect(ctx, srv.URL())
	require.Error(t, err, "server is gone")
}

func TestNoBinaries(t *testing.T) {
	_, err := pgtemp.Start(ctxT(t), pgtemp.Options{BinDir: t.TempDir()})
	require.ErrorIs(t, err, pgtemp.ErrNoBinaries)
	require.Contains(t, err.Error(), "apt-get install postgresql")
	require.Contains(t, err.Error(), "DATABASE_URL")

	t.Setenv("PG_BIN", t.TempDir())
	_, err = pgtemp.Start(ctxT(t), pgtemp.Options{})
	require.ErrorIs(t, err, pgtemp.ErrNoBinaries)
}
