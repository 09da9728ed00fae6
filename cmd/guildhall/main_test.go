package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/pgtemp/pgtemptest"
)

var pg *pgtemptest.Cluster

func TestMain(m *testing.M) {
	pg = pgtemptest.NewCluster(pgtemptest.Options{})
	code := pg.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func runCmd(env map[string]string, args ...string) (int, string, string) {
	var out, errOut strings.Builder
	code := run(context.Background(), args, &out, &errOut, envOf(env))
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	code, _, errOut := runCmd(nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "serve")
	code, _, errOut = runCmd(nil, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)
	code, out, _ := runCmd(nil, "help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "migrate")
	code, _, _ = runCmd(nil, "serve", "-h")
	require.Equal(t, 0, code)
	code, _, errOut = runCmd(nil, "serve", "-nope")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "nope")
	code, _, errOut = runCmd(nil, "serve", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "unexpected arguments")
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(nil, "version")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "guildhall "), out)
}

func TestServeBadConfigNamesField(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"database":{"url":"postgres://127.0.0.1/x"},"channels":[{"id":1,"port":70000}]}`), 0o600))
	code, _, errOut := runCmd(nil, "serve", "-config", p)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "channels[0].port: 70000 out of range")

	code, _, errOut = runCmd(map[string]string{"GUILDHALL_LOG_LEVEL": "chatty"}, "serve", "-config", p)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "GUILDHALL_LOG_LEVEL")

	code, _, errOut = runCmd(nil, "serve", "-config", filepath.Join(t.TempDir(), "missing.json"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "missing.json")
}

func TestMigrateWithDatabaseURL(t *testing.T) {
	url := pg.URL(t)
	code, out, errOut := runCmd(map[string]string{"DATABASE_URL": url, "GUILDHALL_LOG_LEVEL": "error"}, "migrate")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "migrations applied")
	st, err := pgstore.Open(context.Background(), url, pgstore.Options{MaxConns: 1})
	require.NoError(t, err)
	defer st.Close()
	v, err := st.SchemaVersion(context.Background())
	require.NoError(t, err)
	require.Positive(t, v)

	code, _, errOut = runCmd(nil, "migrate")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "database.url")
}

func TestDevBadFlags(t *testing.T) {
	code, _, errOut := runCmd(nil, "dev", "-replicas", "0")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "-replicas 0")
	code, _, errOut = runCmd(nil, "dev", "-log-level", "loud")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "-log-level")
}
