package app

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/redistest"
	"github.com/guildhall/guildhall/registry"
)

// A replica cannot start a channel whose ID a live replica already runs:
// through the whole app (config, Redis registry, channels, servers rows,
// HTTP), the clashing channel fails alone with an error that names the
// holder, the replica's other channels start, and the holder's channel,
// its servers row and its players are untouched. A replica whose only
// channel is claimed fails to start, naming the holder.
func TestClaimedChannelIDRefusedNamingHolder(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	url := pg.URL(t)
	st := openStore(t, url)
	withRedis := func(c *config.Config) *config.Config {
		c.Redis.URL = "redis://" + mr.Addr()
		c.Redis.Prefix = "claimtest"
		return c
	}
	a := startReplica(t, withRedis(testConfig("replica-a", url,
		config.ChannelConfig{ID: 1}, config.ChannelConfig{ID: 2})))
	require.Equal(t, []uint16{1, 2}, a.channels.Started())
	aRow := rows(t, st)[2]

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, charID := signedIn(ctx, t, url, a.http.URL(), "claimuser", "Claimer", 2)

	// B lists channel 2 too (a configuration mistake) and channel 3.
	b := startReplica(t, withRedis(testConfig("replica-b", url,
		config.ChannelConfig{ID: 2}, config.ChannelConfig{ID: 3})))
	require.Equal(t, []uint16{3}, b.channels.Started(), "channel 3 starts; channel 2 is refused")
	failed := b.channels.Failed()
	require.Len(t, failed, 1)
	require.ErrorIs(t, failed[2], registry.ErrChannelClaimed)
	require.ErrorContains(t, failed[2], `"replica-a"`, "the error names the replica that holds channel 2")

	code, body := get(t, b.http.URL()+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "channel 2 failed to start")
	require.Contains(t, body, "replica-a")

	// The holder keeps its row, its channel in the cluster list and its player.
	require.Equal(t, map[uint16]string{1: "replica-a", 2: "replica-a", 3: "replica-b"}, owners(t, st))
	require.Equal(t, aRow, rows(t, st)[2], "A's row of channel 2 untouched by B's refused start")
	list, err := client.Channels(ctx, b.http.URL())
	require.NoError(t, err)
	got := map[uint16]string{}
	for _, c := range list {
		got[c.ID] = c.Replica + " " + c.Addr
	}
	require.Equal(t, map[uint16]string{
		1: "replica-a " + a.channels.Addrs()[1],
		2: "replica-a " + a.channels.Addrs()[2],
		3: "replica-b " + b.channels.Addrs()[3],
	}, got)
	pi, err := conn.FindPlayer(ctx, charID, "")
	require.NoError(t, err)
	require.True(t, pi.Found)
	require.Equal(t, "replica-a", pi.Player.ReplicaID)
	require.Equal(t, uint16(2), pi.Player.ChannelID)

	// A replica whose every channel is claimed does not start, and says by whom.
	c := New(withRedis(testConfig("replica-c", url, config.ChannelConfig{ID: 1})), WithLogger(testLogger()))
	require.NoError(t, c.Err())
	startCtx, startCancel := context.WithTimeout(context.Background(), StartTimeout)
	defer startCancel()
	err = c.Start(startCtx)
	require.ErrorIs(t, err, ErrNoChannelStarted)
	require.ErrorIs(t, err, registry.ErrChannelClaimed)
	require.ErrorContains(t, err, `"replica-a"`)
	require.Equal(t, map[uint16]string{1: "replica-a", 2: "replica-a", 3: "replica-b"}, owners(t, st))
	if _, err := conn.Ping(ctx); err != nil {
		t.Fatalf("A's player after the refused starts: %v", err)
	}
}
