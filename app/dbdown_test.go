package app

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/pgtemp"
	"github.com/guildhall/guildhall/signin"
	"github.com/guildhall/guildhall/wire"
)

// PostgreSQL going away under a running replica: players already in a
// channel keep playing, sign-in is refused with a clear 503, a channel login
// with a token issued before is refused with CodeUnavailable, and the
// replica still stops (within its bound, the failed saves and row removal
// reported, never a panic).
func TestDatabaseDownKeepsSessionsRefusesLogins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgtemp.Start(ctx, pgtemp.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	url, err := srv.CreateDatabase(ctx, "dbdown")
	require.NoError(t, err)

	cfg := testConfig("rA", url, config.ChannelConfig{ID: 1, TownStages: []string{"town"}})
	cfg.Session.DrainTimeout = config.Duration(time.Second)
	cfg.Session.SaveTimeout = config.Duration(time.Second)
	var h *HTTPServer
	var prom *prometheus.Registry
	a := New(cfg, WithLogger(testLogger()), fx.Populate(&h, &prom))
	require.NoError(t, a.Err())
	require.NoError(t, a.Start(ctx))

	base := h.URL()
	pa, _ := signedIn(ctx, t, url, base, "ann", "Ann", 1)
	pb, _ := signedIn(ctx, t, url, base, "ben", "Ben", 1)
	createAccount(ctx, t, url, "cat", "Cat")
	late, err := client.SignIn(ctx, base, "cat", "password123")
	require.NoError(t, err)
	for _, c := range []*client.Conn{pa, pb} {
		_, err := c.StageEnter(ctx, "town", "")
		require.NoError(t, err)
	}

	require.NoError(t, srv.Stop())

	// Players already in keep playing.
	_, err = pa.Cast(ctx, wire.ScopeStage, nil, []byte("still here"))
	require.NoError(t, err)
	for got := false; !got; {
		select {
		case m := <-pb.Events():
			if c, ok := m.(*wire.CastMsg); ok {
				require.Equal(t, "still here", string(c.Payload))
				got = true
			}
		case <-ctx.Done():
			t.Fatal("the stage cast did not arrive")
		}
	}
	// Sign-in is refused with a clear message.
	_, err = client.SignIn(ctx, base, "ann", "password123")
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusServiceUnavailable, apiErr.Status)
	require.Equal(t, signin.MsgUnavailable, apiErr.Message)
	// A channel login needs the database too: refused, saying why.
	_, err = client.Dial(ctx, late.Channels[0].Addr, late.Token)
	var werr *wire.Error
	require.ErrorAs(t, err, &werr)
	require.Equal(t, wire.CodeUnavailable, werr.Code)

	require.NoError(t, pa.Close())
	require.NoError(t, pb.Close())
	sctx, scancel := context.WithTimeout(ctx, StopTimeoutFor(cfg))
	defer scancel()
	err = a.Stop(sctx)
	require.Error(t, err, "the servers rows could not be removed")
	require.GreaterOrEqual(t, counter(t, prom, "guildhall_channel_store_errors_total"), 1.0, "store failures are counted")
	require.False(t, errors.Is(err, context.DeadlineExceeded), "stop finished within its bound: %v", err)
}

// counter returns the value of the unlabelled counter name in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
