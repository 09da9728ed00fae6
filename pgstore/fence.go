package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

// FencedWrite stores data under the global semaphore sema if token is at
// least the highest token accepted for sema, and records token as the
// highest; store.ErrStaleToken otherwise. The check and the write are one
// statement, so concurrent writers cannot interleave. ErrInvalid for an
// empty name or a token above math.MaxInt64; store.ErrTooLarge for data
// over wire.MaxSaveData.
func (s *Store) FencedWrite(ctx context.Context, sema string, token uint64, data []byte) error {
	op := fmt.Sprintf("fenced write %q", sema)
	switch {
	case sema == "" || len(sema) > wire.MaxShort:
		return mapErr(op, fmt.Errorf("semaphore name of %d bytes: %w", len(sema), ErrInvalid))
	case token > math.MaxInt64:
		return mapErr(op, fmt.Errorf("token %d out of range: %w", token, ErrInvalid))
	case len(data) > wire.MaxSaveData:
		return mapErr(op, fmt.Errorf("data of %d bytes: %w", len(data), store.ErrTooLarge))
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `
		INSERT INTO semaphore_fences AS f (name, last_token, data) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET last_token = EXCLUDED.last_token, data = EXCLUDED.data, updated_at = now()
		WHERE f.last_token <= EXCLUDED.last_token
		RETURNING true`, sema, int64(token), data).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return mapErr(op, fmt.Errorf("token %d: %w", token, store.ErrStaleToken))
	}
	return mapErr(op, err)
}

// FencedData returns the highest accepted token of sema and the data
// written with it; store.ErrNotFound when nothing was written.
func (s *Store) FencedData(ctx context.Context, sema string) (token uint64, data []byte, err error) {
	var t int64
	err = s.pool.QueryRow(ctx, `SELECT last_token, data FROM semaphore_fences WHERE name = $1`, sema).Scan(&t, &data)
	if err != nil {
		return 0, nil, mapErr(fmt.Sprintf("fenced data %q", sema), err)
	}
	return uint64(t), data, nil
}
