// Package pgstore is guildhall's durable state on PostgreSQL (pgx v5).
//
// It implements channel.Store (characters, mail, guilds, fenced writes) and
// the sign-in and replica-bookkeeping operations (accounts, sign sessions,
// the servers table). It touches only the tables of package migrations, and
// a replica's calls only ever delete or rewrite rows that replica owns: its
// own channel IDs in servers and its own sign sessions. The one exception is
// ReapReplica, which a live replica calls for a replica whose lease expired.
//
// Errors wrap the sentinels of package store: store.ErrUnavailable when the
// database cannot be reached (connection refused or lost, connect timeout,
// server shutting down), store.ErrExists for unique violations,
// store.ErrNotFound for missing rows, and the others as each method
// documents. Bad input (empty names, over-long strings, negative limits)
// returns an error wrapping ErrInvalid or store.ErrTooLarge. A Store is safe
// for concurrent use.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/store"
)

// ErrInvalid is wrapped by errors for bad arguments: an empty or over-long
// name, a negative duration or limit, an empty replica ID.
var ErrInvalid = errors.New("pgstore: invalid argument")

const defaultConnectTimeout = 5 * time.Second

// Options configures Open. The zero value is ready to use.
type Options struct {
	// MaxConns bounds the pool (default: pgxpool's, max(4, NumCPU)).
	MaxConns int32
	// BcryptCost is the cost of new password hashes (default
	// bcrypt.DefaultCost; tests use bcrypt.MinCost).
	BcryptCost int
	// ConnectTimeout bounds each new connection when the URL sets no
	// connect_timeout (default 5s), so an unreachable database fails fast.
	ConnectTimeout time.Duration
	// Logger receives store events; nil discards them.
	Logger *slog.Logger
}

// Store is a pool of connections to guildhall's database.
type Store struct {
	pool      *pgxpool.Pool
	log       *slog.Logger
	cost      int
	dummyHash []byte // compared against when an account is missing, so timing does not reveal it
}

// Open connects to the database at url (a postgres:// URL or DSN) and
// checks it answers. It does not migrate: call Migrate or (*Store).Migrate.
// An unreachable database returns an error wrapping store.ErrUnavailable.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse database URL: %w: %w", ErrInvalid, err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
		if cfg.ConnConfig.ConnectTimeout <= 0 {
			cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
		}
	}
	cost := opts.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("pgstore: bcrypt cost %d: %w", cost, ErrInvalid)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("guildhall-no-such-account"), cost)
	if err != nil {
		return nil, fmt.Errorf("pgstore: bcrypt: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open pool: %w", err)
	}
	s := &Store{pool: pool, log: log, cost: cost, dummyHash: dummy}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	log.Info("pgstore: connected", "host", cfg.ConnConfig.Host, "database", cfg.ConnConfig.Database)
	return s, nil
}

// Close closes every connection, waiting for those in use to be returned.
func (s *Store) Close() {
	s.pool.Close()
}

// Ping checks the database answers; store.ErrUnavailable when it does not.
func (s *Store) Ping(ctx context.Context) error {
	return mapErr("ping", s.pool.Ping(ctx))
}

// Pool returns the underlying pool, for health checks and tools.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// tx runs f in a transaction, committing when f returns nil.
func (s *Store) tx(ctx context.Context, op string, f func(pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, f)
	return mapErr(op, err)
}

// mapErr wraps err with op and the store sentinel it corresponds to. Errors
// that already wrap a store sentinel (returned from inside a transaction)
// are only prefixed.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{store.ErrNotFound, store.ErrExists, store.ErrExpired, store.ErrBadPassword,
		store.ErrForbidden, store.ErrStaleToken, store.ErrTooLarge, store.ErrUnavailable, ErrInvalid} {
		if errors.Is(err, s) {
			return fmt.Errorf("pgstore: %s: %w", op, err)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %s: %w", op, store.ErrNotFound)
	}
	if sentinel := classify(err); sentinel != nil {
		return fmt.Errorf("pgstore: %s: %w: %w", op, sentinel, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// classify maps driver errors to store sentinels, or nil.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return store.ErrExists
		case pgErr.Code == "23503": // foreign_key_violation: the referenced row is missing
			return store.ErrNotFound
		case pgErr.Code == "22001": // string_data_right_truncation
			return store.ErrTooLarge
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08", // connection_exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, crash, cannot connect now
			pgErr.Code == "53300": // too_many_connections
			return store.ErrUnavailable
		}
		return nil
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err),
		pgconn.SafeToRetry(err):
		return store.ErrUnavailable
	}
	return nil
}
