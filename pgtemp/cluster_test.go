package pgtemp_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/pgtemp"
	"github.com/guildhall/guildhall/pgtemp/pgtemptest"
)

// TestClusterIsolatesTests covers pgtemp.Cluster through its testing
// wrapper pgtemptest.Cluster (which adds only URL and Run), beside the
// helpers of pgtemp_test.go.
func TestClusterIsolatesTests(t *testing.T) {
	c := pgtemptest.NewCluster(pgtemptest.Options{})
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	ctx := ctxT(t)

	var first string
	t.Run("a", func(t *testing.T) {
		first = c.URL(t)
		conn, err := pgx.Connect(ctx, first)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, "CREATE TABLE only_here (x int)")
		require.NoError(t, err)
	})
	t.Run("b", func(t *testing.T) {
		second := c.URL(t)
		require.NotEqual(t, first, second)
		require.Equal(t, 0, queryInt(t, ctx, second,
			"SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'"))
	})
	// a's database was dropped by its cleanup.
	srv, err := c.Server()
	if os.Getenv(pgtemp.EnvDatabaseURL) == "" {
		require.NoError(t, err)
		require.NotNil(t, srv)
		name := first[strings.LastIndex(first, "/")+1 : strings.Index(first, "?")]
		require.Equal(t, 0, queryInt(t, ctx, srv.URL(),
			"SELECT count(*) FROM pg_database WHERE datname = '"+name+"'"))
	}
}
