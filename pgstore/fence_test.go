package pgstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/store"
)

func TestFencedWrite(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)

	_, _, err := s.FencedData(ctx, "raid")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.FencedWrite(ctx, "raid", 5, []byte("five")))
	require.NoError(t, s.FencedWrite(ctx, "raid", 5, []byte("five again")), "equal token accepted")
	require.NoError(t, s.FencedWrite(ctx, "raid", 9, []byte("nine")), "higher token accepted")
	err = s.FencedWrite(ctx, "raid", 8, []byte("stale"))
	require.ErrorIs(t, err, store.ErrStaleToken)
	tok, data, err := s.FencedData(ctx, "raid")
	require.NoError(t, err)
	require.Equal(t, uint64(9), tok)
	require.Equal(t, []byte("nine"), data, "stale write changed nothing")

	require.NoError(t, s.FencedWrite(ctx, "other", 1, nil), "semaphores are independent")
	require.ErrorIs(t, s.FencedWrite(ctx, "", 1, nil), pgstore.ErrInvalid)
	require.ErrorIs(t, s.FencedWrite(ctx, "raid", 1<<63, nil), pgstore.ErrInvalid)
	require.ErrorIs(t, s.FencedWrite(ctx, "raid", 10, make([]byte, 48*1024+1)), store.ErrTooLarge)
}

// TestFencedWriteConcurrent races writers with distinct tokens: whatever
// the interleaving, the stored token is the highest and its data matches.
func TestFencedWriteConcurrent(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	const n = 16
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		go func() {
			errs <- s.FencedWrite(ctx, "boss", uint64(i), []byte{byte(i)})
		}()
	}
	accepted := 0
	for range n {
		err := <-errs
		if err == nil {
			accepted++
			continue
		}
		require.ErrorIs(t, err, store.ErrStaleToken)
	}
	require.GreaterOrEqual(t, accepted, 1)
	tok, data, err := s.FencedData(ctx, "boss")
	require.NoError(t, err)
	require.Equal(t, uint64(n), tok)
	require.Equal(t, []byte{n}, data)
}
