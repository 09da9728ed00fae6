package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/app"
	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/wire"
)

// Failure guards. They only bound how long a broken test hangs; nothing
// is asserted about speed.
const (
	// guard bounds one request or one wait for an event.
	guard = 20 * time.Second
	// processGuard bounds one child process (terminal client, example).
	processGuard = 60 * time.Second
)

// testLogger discards the server's logs unless GUILDHALL_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("GUILDHALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// ctxT is a context bounded by guard, cancelled when t ends.
func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

// testConfig is one replica on loopback with the local registry (no
// Redis), channels 1 and 2 on free ports, each with the town stage "town".
func testConfig(dbURL string) *config.Config {
	cfg := config.Default()
	cfg.Replica.ID = "e2e"
	cfg.Replica.BindHost = "127.0.0.1"
	cfg.Replica.AdvertiseHost = "127.0.0.1"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Database.URL = dbURL
	cfg.Database.MaxConns = 8
	cfg.Log.Level = "warn"
	cfg.Channels = []config.ChannelConfig{
		{ID: 1, Name: "One", TownStages: []string{"town"}},
		{ID: 2, Name: "Two", TownStages: []string{"town"}},
	}
	return cfg
}

// server is a started replica.
type server struct {
	httpBase string            // sign-in API base URL
	addrs    map[uint16]string // channel ID -> host:port
	// accounts creates accounts directly in the replica's database with
	// bcrypt.MinCost: the HTTP sign-up hashes at bcrypt.DefaultCost, which
	// under the race detector costs about a second per account, so only
	// the tests about sign-up itself go through it (newPlayerHTTP). Sign-in
	// always goes through the HTTP API.
	accounts *pgstore.Store
}

// startServer starts the app configured by cfg and stops it when t ends.
func startServer(t *testing.T, cfg *config.Config) *server {
	t.Helper()
	var (
		chans *app.Channels
		hs    *app.HTTPServer
	)
	a := app.New(cfg, app.WithLogger(testLogger()), fx.Populate(&chans, &hs))
	require.NoError(t, a.Err())
	ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout)
	defer cancel()
	require.NoError(t, a.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout)
		defer cancel()
		require.NoError(t, a.Stop(ctx))
	})
	require.Empty(t, chans.Failed(), "every channel starts")
	st, err := pgstore.Open(ctx, cfg.Database.URL, pgstore.Options{MaxConns: 2, BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return &server{httpBase: hs.URL(), addrs: chans.Addrs(), accounts: st}
}

// player is a connected character whose pushes are recorded for the test.
type player struct {
	t        *testing.T
	srv      *server
	user     string
	pass     string
	name     string
	id       uint32
	conn     *client.Conn
	rec      *recorder
	signedIn *client.SignInResult
}

// recorder keeps every push of one connection, in order.
type recorder struct {
	mu      sync.Mutex
	events  []wire.Message
	changed chan struct{} // closed and replaced on every new event
	ended   bool
	done    chan struct{} // closed when the Events channel is closed
}

func record(c *client.Conn) *recorder {
	r := &recorder{changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range c.Events() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.ended = true
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}()
	return r
}

// wait returns the first recorded event (past or future) satisfying match,
// failing t after guard.
func (r *recorder) wait(t *testing.T, what string, match func(wire.Message) bool) wire.Message {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	for {
		r.mu.Lock()
		for _, ev := range r.events {
			if match(ev) {
				r.mu.Unlock()
				return ev
			}
		}
		ended, changed := r.ended, r.changed
		r.mu.Unlock()
		if ended {
			t.Fatalf("connection ended before %s; events: %s", what, r.dump())
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("no %s within %s; events: %s", what, guard, r.dump())
		}
	}
}

// count returns how many recorded events satisfy match.
func (r *recorder) count(match func(wire.Message) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if match(ev) {
			n++
		}
	}
	return n
}

func (r *recorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ""
	for _, ev := range r.events {
		s += fmt.Sprintf("\n  %T %+v", ev, ev)
	}
	if s == "" {
		return "none"
	}
	return s
}

// signUp creates an account (user, name) with its character, without
// connecting, directly in the database (see server.accounts).
func (s *server) signUp(t *testing.T, user, name string) uint32 {
	t.Helper()
	_, id, err := s.accounts.CreateAccount(ctxT(t), user, user+"-password", name)
	require.NoError(t, err, "create account %s", user)
	require.NotZero(t, id)
	return id
}

// signUpHTTP creates an account (user, name) through the HTTP API.
func (s *server) signUpHTTP(t *testing.T, user, name string) uint32 {
	t.Helper()
	_, id, err := client.SignUp(ctxT(t), s.httpBase, user, user+"-password", name)
	require.NoError(t, err, "sign up %s", user)
	require.NotZero(t, id)
	return id
}

// newPlayer creates the account user with character name (signUp),
// signs in over HTTP and connects to channel ch. The connection is closed
// when t ends.
func (s *server) newPlayer(t *testing.T, user, name string, ch uint16) *player {
	t.Helper()
	return s.join(t, user, name, ch, s.signUp(t, user, name))
}

// newPlayerHTTP is newPlayer with the account created through the HTTP
// sign-up API.
func (s *server) newPlayerHTTP(t *testing.T, user, name string, ch uint16) *player {
	t.Helper()
	return s.join(t, user, name, ch, s.signUpHTTP(t, user, name))
}

func (s *server) join(t *testing.T, user, name string, ch uint16, id uint32) *player {
	t.Helper()
	p := &player{t: t, srv: s, user: user, pass: user + "-password", name: name, id: id}
	p.connect(t, ch)
	require.Equal(t, id, p.conn.Welcome().CharID)
	return p
}

// connect signs p in afresh and dials channel ch, replacing p.conn.
func (p *player) connect(t *testing.T, ch uint16) {
	t.Helper()
	res, err := client.SignIn(ctxT(t), p.srv.httpBase, p.user, p.pass)
	require.NoError(t, err, "sign in %s", p.user)
	addr := ""
	for _, c := range res.Channels {
		if c.ID == ch {
			addr = c.Addr
		}
	}
	require.NotEmpty(t, addr, "channel %d in the sign-in channel list %+v", ch, res.Channels)
	require.Equal(t, p.srv.addrs[ch], addr, "sign-in lists the bound address of channel %d", ch)
	conn, err := client.Dial(ctxT(t), addr, res.Token)
	require.NoError(t, err, "dial channel %d as %s", ch, p.user)
	w := conn.Welcome()
	require.Equal(t, res.CharID, w.CharID)
	require.Equal(t, p.name, w.Name)
	require.Equal(t, ch, w.ChannelID)
	rec := record(conn)
	t.Cleanup(func() {
		conn.Close()
		<-rec.done
	})
	p.conn, p.rec, p.signedIn = conn, rec, res
}

// waitEvent waits for a push of type T satisfying match.
func waitEvent[T wire.Message](t *testing.T, p *player, what string, match func(T) bool) T {
	t.Helper()
	ev := p.rec.wait(t, p.name+": "+what, func(m wire.Message) bool {
		v, ok := m.(T)
		return ok && match(v)
	})
	return ev.(T)
}

// countEvents counts the pushes of type T satisfying match.
func countEvents[T wire.Message](p *player, match func(T) bool) int {
	return p.rec.count(func(m wire.Message) bool {
		v, ok := m.(T)
		return ok && match(v)
	})
}

// castFrom matches a CastMsg of scope from sender with payload.
func castFrom(scope uint8, sender *player, payload string) func(*wire.CastMsg) bool {
	return func(c *wire.CastMsg) bool {
		return c.Scope == scope && c.SenderID == sender.id && string(c.Payload) == payload
	}
}

// requireCode asserts err is a *wire.Error with code.
func requireCode(t *testing.T, err error, code wire.ErrorCode, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	var we *wire.Error
	require.True(t, errors.As(err, &we), "want *wire.Error %s, got %T %v", code, err, err)
	require.Equal(t, code, we.Code, "error %v", err)
}
