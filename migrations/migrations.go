// Package migrations holds guildhall's PostgreSQL schema as embedded SQL
// files, applied in order by pgstore.Migrate.
//
// Files are named NNNN_description.sql; NNNN is the schema version, unique
// and increasing. A file is applied once, in one transaction, and never
// edited after release: change the schema with a new file. Each file starts
// with a comment saying what it does.
package migrations

import (
	"embed"
	"io/fs"
)

// files holds the migration files at its root (embed needs a variable; it
// is never written).
//
//go:embed *.sql
var files embed.FS

// FS returns the migration files, at the root of a read-only file system.
func FS() fs.FS { return files }
