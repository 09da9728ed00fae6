// Package pgtemptest gives tests a fresh PostgreSQL database each, on one
// throwaway server per test binary (see package pgtemp) or on the server of
// $DATABASE_URL. It holds the testing-dependent half of pgtemp's Cluster,
// so that pgtemp itself, linked into the guildhall binary, does not import
// package testing.
//
//	var pg *pgtemptest.Cluster
//
//	func TestMain(m *testing.M) {
//		pg = pgtemptest.NewCluster(pgtemptest.Options{})
//		os.Exit(pg.Run(m)) // runs the tests, then stops the server
//	}
//
//	func TestSomething(t *testing.T) {
//		url := pg.URL(t) // a new, empty database, dropped when t ends
//		...
//	}
//
// Without DATABASE_URL and without PostgreSQL binaries, URL fails the test
// with an error that says what to install; it never skips silently.
package pgtemptest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/guildhall/guildhall/pgtemp"
)

// Options configures the throwaway server; see pgtemp.Options.
type Options = pgtemp.Options

// Cluster is a pgtemp.Cluster with the testing helpers URL and Run. Its
// methods are safe for concurrent use.
type Cluster struct {
	*pgtemp.Cluster
}

// NewCluster returns a Cluster; it starts nothing until the first database
// is asked for. DATABASE_URL is read now.
func NewCluster(opts Options) *Cluster {
	return &Cluster{Cluster: pgtemp.NewCluster(opts)}
}

// URL returns the URL of a new, empty database for t, dropped in t.Cleanup
// (register cleanups that close pools after calling URL, so they run
// first). It fails t, never skips it, when no server can be had.
func (c *Cluster) URL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgtemp.SetupTimeout)
	defer cancel()
	name, dbURL, err := c.NewDatabase(ctx, t.Name())
	if err != nil {
		t.Fatalf("pgtemp: no test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), pgtemp.SetupTimeout)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Errorf("pgtemp: %v", err)
		}
	})
	return dbURL
}

// Run runs the tests of m, then closes c, and returns the exit code for
// os.Exit (1 if closing failed).
func (c *Cluster) Run(m *testing.M) int {
	code := m.Run()
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
