// Package app wires guildhall's pieces with uber fx.
package app

// Pinned dependencies, imported here until the code that uses them lands,
// so `go mod tidy` keeps the versions the project has chosen.
import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/bsm/redislock"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "go.uber.org/fx"
	_ "golang.org/x/crypto/bcrypt"
)
