package app

// Pinned dependencies not yet imported by committed code, kept here so
// `go mod tidy` keeps the versions the project has chosen. Remove each one
// as the package that uses it (redisreg) is wired in.
import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/bsm/redislock"
	_ "github.com/redis/go-redis/v9"
)
