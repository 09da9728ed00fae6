package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/pgtemp/pgtemptest"
	"github.com/guildhall/guildhall/redistest"
	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
)

var pg *pgtemptest.Cluster

func TestMain(m *testing.M) {
	pg = pgtemptest.NewCluster(pgtemptest.Options{})
	code := pg.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// testLogger discards logs unless GUILDHALL_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("GUILDHALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func boolp(b bool) *bool { return &b }

// testConfig is a loopback replica with the given channels.
func testConfig(replica, dbURL string, chans ...config.ChannelConfig) *config.Config {
	cfg := config.Default()
	cfg.Replica.ID = replica
	cfg.Replica.BindHost = "127.0.0.1"
	cfg.Replica.AdvertiseHost = "127.0.0.1"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Database.URL = dbURL
	cfg.Database.MaxConns = 4
	cfg.Log.Level = "warn"
	cfg.Channels = chans
	return cfg
}

// replica is a started app with handles on its parts.
type replica struct {
	app      *fx.App
	channels *Channels
	http     *HTTPServer
	stopped  bool
}

func startReplica(t *testing.T, cfg *config.Config) *replica {
	t.Helper()
	r := &replica{}
	r.app = New(cfg, WithLogger(testLogger()), fx.Populate(&r.channels, &r.http))
	require.NoError(t, r.app.Err())
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	require.NoError(t, r.app.Start(ctx))
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *replica) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	require.NoError(t, r.app.Stop(ctx))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func openStore(t *testing.T, url string) *pgstore.Store {
	t.Helper()
	st, err := pgstore.Open(context.Background(), url, pgstore.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return st
}

// rows maps channel ID to owning replica in the servers table.
func rows(t *testing.T, st *pgstore.Store) map[uint16]store.ServerRow {
	t.Helper()
	rs, err := st.Servers(context.Background())
	require.NoError(t, err)
	out := map[uint16]store.ServerRow{}
	for _, r := range rs {
		out[r.ChannelID] = r
	}
	return out
}

func owners(t *testing.T, st *pgstore.Store) map[uint16]string {
	t.Helper()
	out := map[uint16]string{}
	for id, r := range rows(t, st) {
		out[id] = r.ReplicaID
	}
	return out
}

func TestReplicaStartsServesAndStops(t *testing.T) {
	url := pg.URL(t)
	r := startReplica(t, testConfig("rA", url,
		config.ChannelConfig{ID: 1, Name: "One", MaxPlayers: 10, TownStages: []string{"town"}},
		config.ChannelConfig{ID: 2, Name: "Two"}))
	st := openStore(t, url)

	require.Equal(t, []uint16{1, 2}, r.channels.Started())
	require.Empty(t, r.channels.Failed())
	addrs := r.channels.Addrs()
	for _, id := range []uint16{1, 2} {
		host, port, err := net.SplitHostPort(addrs[id])
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)
		require.NotEqual(t, "0", port, "port 0 is replaced by the bound port")
	}
	require.Equal(t, map[uint16]string{1: "rA", 2: "rA"}, owners(t, st))
	require.Equal(t, addrs[1], rows(t, st)[1].Addr)
	require.Equal(t, 10, rows(t, st)[1].MaxPlayers)

	base := r.http.URL()
	code, _ := get(t, base+"/livez")
	require.Equal(t, http.StatusOK, code)
	code, body := get(t, base+"/readyz")
	require.Equal(t, http.StatusOK, code, body)
	code, body = get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `guildhall_channel_up{channel="1"} 1`)
	require.Contains(t, body, "guildhall_channel_sessions")

	// Sign up, sign in, and log in to a channel with the client library.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, charID, err := client.SignUp(ctx, base, "alice", "password123", "Alice")
	require.NoError(t, err)
	res, err := client.SignIn(ctx, base, "alice", "password123")
	require.NoError(t, err)
	require.Equal(t, charID, res.CharID)
	require.Len(t, res.Channels, 2)
	require.Equal(t, uint16(1), res.Channels[0].ID)
	require.Equal(t, addrs[1], res.Channels[0].Addr)
	require.Equal(t, "rA", res.Channels[0].Replica)
	conn, err := client.Dial(ctx, res.Channels[0].Addr, res.Token)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	r.stop(t)
	require.Empty(t, owners(t, st), "a stopped replica removes its servers rows")
	_, err = http.Get(base + "/livez")
	require.Error(t, err, "HTTP server is closed after stop")
	for _, a := range addrs {
		_, err := net.DialTimeout("tcp", a, 5*time.Second)
		require.Error(t, err, "channel listener %s closed after stop", a)
	}
}

// Two replicas on one database whose configurations list the same channel
// IDs with opposite enabled flags: each owns only its enabled channel's row.
func TestTwoReplicasOwnOnlyTheirEnabledRows(t *testing.T) {
	url := pg.URL(t)
	st := openStore(t, url)
	cfgA := testConfig("replica-a", url,
		config.ChannelConfig{ID: 1, Name: "ch1"},
		config.ChannelConfig{ID: 2, Name: "ch2", Enabled: boolp(false)})
	cfgB := testConfig("replica-b", url,
		config.ChannelConfig{ID: 1, Name: "ch1", Enabled: boolp(false)},
		config.ChannelConfig{ID: 2, Name: "ch2"})

	a := startReplica(t, cfgA)
	require.Equal(t, []uint16{1}, a.channels.Started())
	require.Equal(t, map[uint16]string{1: "replica-a"}, owners(t, st))
	b := startReplica(t, cfgB)
	require.Equal(t, []uint16{2}, b.channels.Started())
	require.Equal(t, map[uint16]string{1: "replica-a", 2: "replica-b"}, owners(t, st))
	bRow := rows(t, st)[2]
	require.Equal(t, b.channels.Addrs()[2], bRow.Addr)

	// Stopping A never removes B's row.
	a.stop(t)
	require.Equal(t, map[uint16]string{2: "replica-b"}, owners(t, st))
	require.Equal(t, bRow, rows(t, st)[2], "B's row untouched")

	// Restarting A claims its own row and does not touch B's.
	a2 := startReplica(t, cfgA)
	require.Equal(t, []uint16{1}, a2.channels.Started())
	require.Equal(t, map[uint16]string{1: "replica-a", 2: "replica-b"}, owners(t, st))
	require.Equal(t, bRow, rows(t, st)[2], "B's row untouched by A's restart")

	// Stopping B never removes A's row.
	b.stop(t)
	require.Equal(t, map[uint16]string{1: "replica-a"}, owners(t, st))
	a2.stop(t)
	require.Empty(t, owners(t, st))
}

// A channel whose port is taken fails alone; the other starts with its own
// ID, and the failure is reported.
func TestChannelWithTakenPortFailsAlone(t *testing.T) {
	url := pg.URL(t)
	st := openStore(t, url)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port

	r := startReplica(t, testConfig("rA", url,
		config.ChannelConfig{ID: 1, Port: port},
		config.ChannelConfig{ID: 2}))
	require.Equal(t, []uint16{2}, r.channels.Started(), "channel 2 keeps ID 2")
	failed := r.channels.Failed()
	require.Len(t, failed, 1)
	require.ErrorContains(t, failed[1], strconv.Itoa(port))
	require.Equal(t, map[uint16]string{2: "rA"}, owners(t, st))

	base := r.http.URL()
	code, body := get(t, base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "channel 1 failed to start")
	code, body = get(t, base+"/v1/channels")
	require.Equal(t, http.StatusOK, code)
	var list struct {
		Channels []struct {
			ID   uint16 `json:"id"`
			Addr string `json:"addr"`
		} `json:"channels"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Channels, 1)
	require.Equal(t, uint16(2), list.Channels[0].ID)
	require.Equal(t, r.channels.Addrs()[2], list.Channels[0].Addr)
	_, body = get(t, base+"/metrics")
	require.Contains(t, body, `guildhall_channel_up{channel="1"} 0`)
	require.Contains(t, body, `guildhall_channel_up{channel="2"} 1`)
}

func TestAllChannelsFailingFailsStart(t *testing.T) {
	url := pg.URL(t)
	st := openStore(t, url)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	a := New(testConfig("rA", url, config.ChannelConfig{ID: 5, Port: port}), WithLogger(testLogger()))
	require.NoError(t, a.Err())
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	err = a.Start(ctx)
	require.ErrorIs(t, err, ErrNoChannelStarted)
	require.ErrorContains(t, err, "channel 5")
	require.Empty(t, owners(t, st))
}

func TestBadConfigFailsAtStartNamingField(t *testing.T) {
	cfg := testConfig("rA", "postgres://127.0.0.1:1/x",
		config.ChannelConfig{ID: 1}, config.ChannelConfig{ID: 2, Port: 70000})
	a := New(cfg)
	require.ErrorIs(t, a.Err(), config.ErrInvalid)
	require.ErrorContains(t, a.Err(), "channels[1].port: 70000 out of range")
	err := Run(context.Background(), cfg)
	require.ErrorContains(t, err, "channels[1].port")

	cfg = testConfig("rA", "", config.ChannelConfig{ID: 1})
	require.ErrorContains(t, New(cfg).Err(), "database.url")
	require.Error(t, New(nil).Err())
}

func TestDatabaseDownFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	a := New(testConfig("rA", "postgres://u@"+addr+"/x?connect_timeout=5", config.ChannelConfig{ID: 1}), WithLogger(testLogger()))
	require.NoError(t, a.Err())
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	err = a.Start(ctx)
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorContains(t, err, "open database")
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	url := pg.URL(t)
	st := openStore(t, url)
	started := make(chan *HTTPServer, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, testConfig("rRun", url, config.ChannelConfig{ID: 3}), WithLogger(testLogger()),
			fx.Invoke(func(lc fx.Lifecycle, h *HTTPServer) {
				lc.Append(fx.Hook{OnStart: func(context.Context) error { started <- h; return nil }})
			}))
	}()
	var h *HTTPServer
	select {
	case h = <-started:
	case err := <-done:
		t.Fatalf("Run returned before starting: %v", err)
	case <-time.After(StartTimeout):
		t.Fatal("Run did not start")
	}
	code, _ := get(t, h.URL()+"/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[uint16]string{3: "rRun"}, owners(t, st))
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(StopTimeout):
		t.Fatal("Run did not return after cancel")
	}
	require.Empty(t, owners(t, st))
}

func TestNoChannelsConfiguredServesHTTPOnly(t *testing.T) {
	r := startReplica(t, testConfig("rA", pg.URL(t)))
	require.Empty(t, r.channels.Started())
	code, body := get(t, r.http.URL()+"/v1/channels")
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.Contains(body, `"channels":[]`), body)
}

// Two replicas sharing one Redis (miniredis) and one database form one
// cluster: sign-in on either lists both replicas' channels.
func TestRedisClusterListsEveryReplicasChannels(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	url := pg.URL(t)
	cfgA := testConfig("replica-a", url, config.ChannelConfig{ID: 1}, config.ChannelConfig{ID: 2, Enabled: boolp(false)})
	cfgB := testConfig("replica-b", url, config.ChannelConfig{ID: 1, Enabled: boolp(false)}, config.ChannelConfig{ID: 2})
	for _, c := range []*config.Config{cfgA, cfgB} {
		c.Redis.URL = "redis://" + mr.Addr()
		c.Redis.Prefix = "apptest"
	}
	a := startReplica(t, cfgA)
	b := startReplica(t, cfgB)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := client.Channels(ctx, a.http.URL())
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, uint16(1), list[0].ID)
	require.Equal(t, "replica-a", list[0].Replica)
	require.Equal(t, uint16(2), list[1].ID)
	require.Equal(t, "replica-b", list[1].Replica)
	require.Equal(t, b.channels.Addrs()[2], list[1].Addr)

	b.stop(t)
	list, err = client.Channels(ctx, a.http.URL())
	require.NoError(t, err)
	require.Len(t, list, 1, "a stopped replica's channels leave the cluster list at once")
	require.Equal(t, uint16(1), list[0].ID)
}

func TestRedisUnreachableFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cfg := testConfig("rA", pg.URL(t), config.ChannelConfig{ID: 1})
	cfg.Redis.URL = "redis://" + addr
	a := New(cfg, WithLogger(testLogger()))
	require.NoError(t, a.Err())
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	err = a.Start(ctx)
	require.ErrorIs(t, err, registry.ErrUnavailable)
}

func TestDevClusterTwoReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	d, err := StartDev(ctx, DevOptions{
		Replicas: 2, DatabaseURL: pg.URL(t), HTTPAddr: "127.0.0.1:0", Logger: testLogger(), LogLevel: "warn",
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, d.Stop(context.Background())) }()

	urls := d.HTTPURLs()
	require.Len(t, urls, 2)
	list, err := client.Channels(ctx, urls[1])
	require.NoError(t, err)
	var ids []uint16
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	require.Equal(t, []uint16{1, 2, 3, 4}, ids)
	require.Equal(t, "dev-1", list[0].Replica)
	require.Equal(t, "dev-2", list[3].Replica)

	var out strings.Builder
	d.Describe(&out)
	require.Contains(t, out.String(), "go run ./examples/quickstart -http "+urls[0])
	require.Contains(t, out.String(), "channel 4: "+d.ChannelAddrs()[4])
}

func TestDevRejectsBadOptions(t *testing.T) {
	_, err := StartDev(context.Background(), DevOptions{Replicas: 10})
	require.ErrorContains(t, err, "replicas 10")
	_, err = StartDev(context.Background(), DevOptions{HTTPAddr: "nope"})
	require.ErrorContains(t, err, "nope")
}
