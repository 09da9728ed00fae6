package pgstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/store"
)

func serversByChannel(t *testing.T, ctx context.Context, s *pgstore.Store) map[uint16]store.ServerRow {
	t.Helper()
	rows, err := s.Servers(ctx)
	require.NoError(t, err)
	out := map[uint16]store.ServerRow{}
	for _, r := range rows {
		out[r.ChannelID] = r
	}
	return out
}

func TestServersOwnership(t *testing.T) {
	// Two replicas, each with its own pool, on one database.
	a, url := newStore(t)
	ctx := testCtx(t)
	b, err := pgstore.Open(ctx, url, pgstore.Options{})
	require.NoError(t, err)
	t.Cleanup(b.Close)

	require.NoError(t, a.ClaimServers(ctx, "A", []store.ServerRow{
		{ChannelID: 1, Name: "one", Addr: "10.0.0.1:5001", MaxPlayers: 100},
		{ChannelID: 2, Name: "two", Addr: "10.0.0.1:5002", MaxPlayers: 100, ReplicaID: "ignored"},
	}))
	require.NoError(t, b.ClaimServers(ctx, "B", []store.ServerRow{
		{ChannelID: 3, Name: "three", Addr: "10.0.0.2:5003", MaxPlayers: 50},
	}))
	rows := serversByChannel(t, ctx, a)
	require.Len(t, rows, 3)
	require.Equal(t, "A", rows[1].ReplicaID)
	require.Equal(t, "A", rows[2].ReplicaID)
	require.Equal(t, "B", rows[3].ReplicaID)
	require.Equal(t, "10.0.0.2:5003", rows[3].Addr)
	require.Equal(t, 50, rows[3].MaxPlayers)
	require.False(t, rows[3].Updated.IsZero())

	// B passing A's channel IDs touches nothing of A.
	require.ErrorIs(t, b.UpdatePopulation(ctx, "B", 1, 99), store.ErrNotFound)
	require.NoError(t, b.RemoveServers(ctx, "B", []uint16{1, 2}))
	require.NoError(t, b.UpdatePopulation(ctx, "B", 3, 7))
	rows = serversByChannel(t, ctx, a)
	require.Len(t, rows, 3)
	require.Equal(t, 0, rows[1].Population)
	require.Equal(t, 7, rows[3].Population)

	// B re-claims its own channel (restart): only that row is rewritten.
	require.NoError(t, b.ClaimServers(ctx, "B", []store.ServerRow{{ChannelID: 3, Name: "three v2"}}))
	rows = serversByChannel(t, ctx, a)
	require.Len(t, rows, 3)
	require.Equal(t, "three v2", rows[3].Name)
	require.Equal(t, "one", rows[1].Name)
	require.NoError(t, a.UpdatePopulation(ctx, "A", 2, 12))

	// A stale row of a channel B now runs is replaced by B's claim.
	require.NoError(t, a.ClaimServers(ctx, "A", []store.ServerRow{{ChannelID: 4, Name: "four"}}))
	require.NoError(t, b.ClaimServers(ctx, "B", []store.ServerRow{{ChannelID: 4, Name: "four on B"}}))
	rows = serversByChannel(t, ctx, a)
	require.Equal(t, "B", rows[4].ReplicaID)
	require.Equal(t, "A", rows[1].ReplicaID)

	require.ErrorIs(t, a.ClaimServers(ctx, "A", []store.ServerRow{{ChannelID: 5}, {ChannelID: 5}}), pgstore.ErrInvalid)
	require.ErrorIs(t, a.ClaimServers(ctx, "", []store.ServerRow{{ChannelID: 5}}), pgstore.ErrInvalid)
	require.NotContains(t, serversByChannel(t, ctx, a), uint16(5), "failed claim inserted nothing")

	// A's sign sessions and rows are reaped; B's stay.
	accA, charA := newChar(t, a, "OnA")
	accB, charB := newChar(t, a, "OnB")
	tokA, _, err := a.CreateSignSession(ctx, accA, charA, "A", 3600e9)
	require.NoError(t, err)
	tokB, _, err := b.CreateSignSession(ctx, accB, charB, "B", 3600e9)
	require.NoError(t, err)

	n, err := b.ReapReplica(ctx, "A")
	require.NoError(t, err)
	require.Equal(t, int64(3), n, "A's rows 1 and 2 plus one sign session")
	rows = serversByChannel(t, ctx, a)
	require.Len(t, rows, 2)
	require.Equal(t, "B", rows[3].ReplicaID)
	require.Equal(t, "B", rows[4].ReplicaID)
	_, err = b.UseSignSession(ctx, tokA, 3)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.UseSignSession(ctx, tokB, 3)
	require.NoError(t, err)

	// B shuts down gracefully.
	require.NoError(t, b.RemoveServers(ctx, "B", []uint16{3, 4}))
	rows = serversByChannel(t, ctx, a)
	require.Empty(t, rows)
}
