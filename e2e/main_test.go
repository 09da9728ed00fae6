// Package e2e holds the single-replica end-to-end tests of guildhall: the
// real app (uber fx wiring, channels, sign-in HTTP API) on 127.0.0.1, a real
// PostgreSQL from pgtemp, and real clients (the client library, the
// terminal client binary, the quickstart example).
package e2e

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/pgtemp/pgtemptest"
)

// pg hands out one fresh database per test from one throwaway PostgreSQL
// (or $DATABASE_URL). It lives in the test files, set once by TestMain.
var pg *pgtemptest.Cluster

// TestMain runs the tests, stops pgtemp's server (pg.Run), then checks for
// leaked goroutines. goleak runs after pg.Run rather than through
// goleak.VerifyTestMain because the pgtemp server is shared by every test
// and is only stopped once they all finished; no goroutine needs ignoring.
// The idle keep-alive connections of http.DefaultClient (used by the
// client library's sign-in calls) are closed first: their reader goroutines
// belong to net/http's connection pool, not to the code under test.
func TestMain(m *testing.M) {
	pg = pgtemptest.NewCluster(pgtemptest.Options{})
	code := pg.Run(m)
	if code == 0 {
		http.DefaultClient.CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
