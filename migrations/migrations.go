// Package migrations holds guildhall's PostgreSQL schema as embedded SQL
// files, applied in order by pgstore.Migrate.
//
// Files are named NNNN_description.sql; NNNN is the schema version, unique
// and increasing. A file is applied once, in one transaction, and never
// edited after release: change the schema with a new file. Each file starts
// with a comment saying what it does.
package migrations

import "embed"

// FS holds the migration files at its root.
//
//go:embed *.sql
var FS embed.FS
