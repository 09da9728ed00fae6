package migrations_test

import (
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/migrations"
)

// TestFilesWellFormed checks the naming and header rules the package
// documents: NNNN_name.sql, unique increasing versions, a leading comment.
func TestFilesWellFormed(t *testing.T) {
	entries, err := fs.ReadDir(migrations.FS(), ".")
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	last := 0
	for _, e := range entries {
		name := e.Name()
		require.True(t, strings.HasSuffix(name, ".sql"), name)
		prefix, _, ok := strings.Cut(name, "_")
		require.True(t, ok, name)
		require.Len(t, prefix, 4, name)
		v, err := strconv.Atoi(prefix)
		require.NoError(t, err, name)
		require.Greater(t, v, last, "versions increase: %s", name)
		last = v
		body, err := fs.ReadFile(migrations.FS(), name)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(body), "-- "), "%s starts with a comment", name)
	}
}
