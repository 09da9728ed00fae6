package app

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/redistest"
	"github.com/guildhall/guildhall/wire"
)

// createAccount creates an account (password "password123") with one
// character in the database of dbURL, at the lowest bcrypt cost: the
// default one takes seconds under -race.
func createAccount(ctx context.Context, t *testing.T, dbURL, user, char string) uint32 {
	t.Helper()
	st, err := pgstore.Open(ctx, dbURL, pgstore.Options{MaxConns: 1, BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	defer st.Close()
	_, charID, err := st.CreateAccount(ctx, user, "password123", char)
	require.NoError(t, err)
	return charID
}

// signedIn creates an account, signs in on base and logs its character in
// to the channel channelID.
func signedIn(ctx context.Context, t *testing.T, dbURL, base, user, char string, channelID uint16) (*client.Conn, uint32) {
	t.Helper()
	charID := createAccount(ctx, t, dbURL, user, char)
	res, err := client.SignIn(ctx, base, user, "password123")
	require.NoError(t, err)
	for _, ch := range res.Channels {
		if ch.ID == channelID {
			conn, err := client.Dial(ctx, ch.Addr, res.Token)
			require.NoError(t, err)
			t.Cleanup(func() { _ = conn.Close() })
			return conn, charID
		}
	}
	t.Fatalf("channel %d not in the sign-in list %+v", channelID, res.Channels)
	return nil, 0
}

// waitNotice returns the first Notice pushed to conn.
func waitNotice(ctx context.Context, t *testing.T, conn *client.Conn) *wire.Notice {
	t.Helper()
	for {
		select {
		case m, ok := <-conn.Events():
			require.True(t, ok, "connection ended before a notice: %v", conn.Err())
			if n, ok := m.(*wire.Notice); ok {
				return n
			}
		case <-ctx.Done():
			t.Fatal("no notice before the test deadline")
		}
	}
}

// A replica stopping (SIGTERM) with a player who stays: the other replica's
// channel list leaves its channel out as soon as the player is told, the
// player stays findable during the passive drain, then after
// session.drain_timeout the session is closed, its presence goes at once
// and the replica's servers rows are removed; the other replica keeps its
// own.
func TestDrainTellsPlayersThenForceCloses(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	url := pg.URL(t)
	cfgA := testConfig("replica-a", url, config.ChannelConfig{ID: 1})
	cfgB := testConfig("replica-b", url, config.ChannelConfig{ID: 2})
	for _, c := range []*config.Config{cfgA, cfgB} {
		c.Redis.URL = "redis://" + mr.Addr()
		c.Redis.Prefix = "draintest"
	}
	// The player on B never leaves: B's drain runs its whole (short) time.
	cfgB.Session.DrainTimeout = config.Duration(time.Second)
	a := startReplica(t, cfgA)
	b := startReplica(t, cfgB)
	st := openStore(t, url)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stayer, stayerID := signedIn(ctx, t, url, b.http.URL(), "stayer", "Stayer", 2)
	watcher, _ := signedIn(ctx, t, url, a.http.URL(), "watcher", "Watcher", 1)

	stopped := make(chan error, 1)
	b.stopped = true
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), StopTimeoutFor(cfgB))
		defer cancel()
		stopped <- b.app.Stop(sctx)
	}()

	n := waitNotice(ctx, t, stayer)
	require.Equal(t, DrainNotice, n.Text)
	list, err := client.Channels(ctx, a.http.URL())
	require.NoError(t, err)
	require.Len(t, list, 1, "the draining channel is left out of the cluster list: %+v", list)
	require.Equal(t, uint16(1), list[0].ID)
	pi, err := watcher.FindPlayer(ctx, stayerID, "")
	require.NoError(t, err)
	require.True(t, pi.Found, "a draining replica's players stay online until the drain ends")

	require.NoError(t, <-stopped)
	select {
	case <-stayer.Done():
	case <-ctx.Done():
		t.Fatal("the staying player's session was not closed")
	}
	var kicked *client.KickedError
	require.ErrorAs(t, stayer.Err(), &kicked)
	pi, err = watcher.FindPlayer(ctx, stayerID, "")
	require.NoError(t, err)
	require.False(t, pi.Found, "presence is removed at once by the stop, not after a TTL")
	require.Equal(t, map[uint16]string{1: "replica-a"}, owners(t, st))
	require.Equal(t, []uint16{1}, a.channels.Started())
}
