package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/channel"
	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/pgtemp/pgtemptest"
)

var _ channel.Store = (*pgstore.Store)(nil)

// pg is the test binary's shared PostgreSQL (or DATABASE_URL's server).
var pg *pgtemptest.Cluster

func TestMain(m *testing.M) {
	pg = pgtemptest.NewCluster(pgtemptest.Options{})
	code := pg.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newStore returns a migrated Store on a fresh database.
func newStore(t testing.TB) (*pgstore.Store, string) {
	t.Helper()
	url := pg.URL(t)
	ctx := testCtx(t)
	require.NoError(t, pgstore.Migrate(ctx, url, nil))
	s, err := pgstore.Open(ctx, url, pgstore.Options{BcryptCost: bcrypt.MinCost, MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, url
}

// newChar creates an account with one character and returns both IDs.
func newChar(t testing.TB, s *pgstore.Store, name string) (int64, uint32) {
	t.Helper()
	acc, char, err := s.CreateAccount(testCtx(t), "acct_"+name, "pw-"+name, name)
	require.NoError(t, err)
	return acc, char
}
