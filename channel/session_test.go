package channel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

func TestConfigValidate(t *testing.T) {
	good := Config{ID: 1, ReplicaID: "r", ListenAddr: "127.0.0.1:0"}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := map[string]func(*Config){
		"ID":           func(c *Config) { c.ID = 0 },
		"ReplicaID":    func(c *Config) { c.ReplicaID = "" },
		"ListenAddr":   func(c *Config) { c.ListenAddr = "" },
		"MaxPlayers":   func(c *Config) { c.MaxPlayers = -1 },
		"IdleTimeout":  func(c *Config) { c.IdleTimeout = -time.Second },
		"SendQueueLen": func(c *Config) { c.SendQueueLen = -1 },
		"TownStages":   func(c *Config) { c.TownStages = []string{"a", "a"} },
	}
	for field, mod := range cases {
		c := good
		mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Validate = %v, want an error naming the field", field, err)
		}
	}
	if _, err := New(good, Deps{}); err == nil {
		t.Error("New without registry and store succeeded")
	}
}

func TestStartBindErrorAffectsNothing(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, nil)
	srv, err := New(Config{ID: 2, ReplicaID: "replica-a", ListenAddr: a.Addr()}, h.deps())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close of a server that never started: %v", err)
	}
	if chans, _ := h.reg.Channels(context.Background()); len(chans) != 1 || chans[0].ID != 1 {
		t.Fatalf("channels after failed start = %+v", chans)
	}
	login(t, a, h.store.addChar(1, "alice"))
}

func TestLoginWelcome(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, nil)
	tok := h.store.addChar(5, "eve")
	h.store.addChar(6, "frank")
	if _, err := h.store.SendMail(context.Background(), store.Mail{FromID: 6, ToID: 5, Subject: "hi"}); err != nil {
		t.Fatal(err)
	}
	c := login(t, a, tok)
	w := c.welcome
	if w.CharID != 5 || w.Name != "eve" || w.ChannelID != 1 || w.UnreadMail != 1 || w.Version != wire.Version {
		t.Fatalf("welcome = %+v", w)
	}
	info := a.Info()
	if info.Players != 1 || info.ID != 1 || info.Addr != a.Addr() || info.Draining {
		t.Fatalf("info = %+v", info)
	}
	if got := counter(h.met.Sessions); got != 1 {
		t.Fatalf("sessions gauge = %d", got)
	}
	pong := c.call(&wire.Ping{ClientTime: 42}).(*wire.Pong)
	if pong.ClientTime != 42 || pong.ServerTime == 0 {
		t.Fatalf("pong = %+v", pong)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, func(c *Config, _ *Deps) { c.MaxPlayers = 1 })
	expect := func(name string, m wire.Message, code wire.ErrorCode) {
		t.Helper()
		e, ok := m.(*wire.Error)
		if !ok || e.Code != code {
			t.Fatalf("%s: got %T %v, want %s", name, m, m, code)
		}
	}

	c := dial(t, a.Addr())
	c.send(1, &wire.Hello{Magic: 0xDEADBEEF, Version: wire.Version, Token: "x"})
	m, _, _ := c.read()
	expect("bad magic", m, wire.CodeBadRequest)
	c.closed()

	c = dial(t, a.Addr())
	c.send(1, &wire.Hello{Magic: wire.Magic, Version: 99, Token: "x"})
	m, _, _ = c.read()
	expect("bad version", m, wire.CodeVersion)
	c.closed()

	c = dial(t, a.Addr())
	c.send(1, &wire.Ping{})
	m, _, _ = c.read()
	expect("not a hello", m, wire.CodeBadRequest)
	c.closed()

	c = dial(t, a.Addr())
	expect("unknown token", c.hello("nope"), wire.CodeUnauthorized)
	c.closed()

	h.store.mu.Lock()
	h.store.signErr = fmt.Errorf("fake: %w", store.ErrUnavailable)
	h.store.mu.Unlock()
	c = dial(t, a.Addr())
	expect("store down", c.hello(h.store.addChar(1, "alice")), wire.CodeUnavailable)
	c.closed()
	h.store.mu.Lock()
	h.store.signErr = nil
	h.store.mu.Unlock()

	c = dial(t, a.Addr())
	c.raw([]byte{0, 0, 0, 1, 0, 0x10, 0, 0, 0, 1}) // length below the minimum
	c.closed()

	login(t, a, h.store.addChar(2, "bob"))
	c = dial(t, a.Addr())
	expect("channel full", c.hello(h.store.addChar(3, "carol")), wire.CodeServerFull)
	c.closed()

	if h.store.saveCount(1) != 0 || h.store.saveCount(3) != 0 {
		t.Fatal("a refused login saved a character")
	}
	if got := counter(h.met.HandshakesRefused); got != 6 {
		t.Fatalf("handshakes refused = %d, want 6", got)
	}
}

// Malformed, oversized and unknown frames close only that session.
func TestBadFramesCloseOnlyThatSession(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, nil)
	good := login(t, a, h.store.addChar(100, "good"))

	frame := func(typ wire.Type, payload []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(6+len(payload)))
		b = binary.BigEndian.AppendUint16(b, uint16(typ))
		b = binary.BigEndian.AppendUint32(b, 5)
		return append(b, payload...)
	}
	oversized := binary.BigEndian.AppendUint32(nil, wire.MaxFrame+1)
	oversized = append(oversized, 0, 0x10, 0, 0, 0, 1)
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"oversized", oversized},
		{"unknown type", frame(0x7777, nil)},
		{"truncated payload", frame(wire.TPing, []byte{1, 2, 3})},
		{"trailing bytes", frame(wire.TLogout, []byte{1})},
		{"server-only type", frame(wire.TWelcome, make([]byte, 30))},
		{"bad utf8", frame(wire.TStageEnter, []byte{0, 2, 0xff, 0xfe, 0, 0})},
	}
	for i, tc := range cases {
		id := uint32(i + 1)
		c := login(t, a, h.store.addChar(id, fmt.Sprintf("bad%d", i)))
		c.raw(tc.bytes)
		got := c.closed()
		if len(got) > 0 {
			if e, ok := got[len(got)-1].(*wire.Error); !ok || e.Code != wire.CodeBadRequest {
				t.Errorf("%s: last frame %T %v, want Error bad request", tc.name, got[len(got)-1], got[len(got)-1])
			}
		}
		h.store.waitFor(t, tc.name+" logout save", func() bool { return h.store.saves[id] == 1 })
		if _, ok := good.call(&wire.Ping{}).(*wire.Pong); !ok {
			t.Fatalf("%s: the other session stopped answering", tc.name)
		}
	}
	if got := counter(h.met.MalformedCloses); got != len(cases) {
		t.Fatalf("malformed closes = %d, want %d", got, len(cases))
	}
	if !strings.Contains(h.logs.String(), "protocol error; closing session") {
		t.Fatal("protocol errors not logged")
	}
	login(t, a, h.store.addChar(200, "late"))
}

// Logout runs exactly once whatever ends the session.
func TestLogoutExactlyOnce(t *testing.T) {
	paths := []struct {
		name   string
		idle   bool
		end    func(t *testing.T, h *harness, srv *Server, c *tclient)
		reason string // Kicked reason the client must see, if any
	}{
		{name: "client logout", end: func(t *testing.T, h *harness, srv *Server, c *tclient) {
			c.mustOK(&wire.Logout{})
			c.closed()
		}},
		{name: "idle timeout", idle: true, reason: "idle timeout", end: func(t *testing.T, h *harness, srv *Server, c *tclient) {}},
		{name: "abrupt close", end: func(t *testing.T, h *harness, srv *Server, c *tclient) { _ = c.conn.Close() }},
		{name: "kick", reason: "banned", end: func(t *testing.T, h *harness, srv *Server, c *tclient) {
			res, err := h.reg.DisconnectUser(context.Background(), []uint32{1}, "banned")
			if err != nil || len(res.Closed) != 1 || res.Closed[0] != 1 {
				t.Fatalf("DisconnectUser = %+v, %v", res, err)
			}
			// Confirmed means saved.
			if n := h.store.saveCount(1); n != 1 {
				t.Fatalf("saves when DisconnectUser returned = %d", n)
			}
		}},
		{name: "shutdown", reason: "server shutting down", end: func(t *testing.T, h *harness, srv *Server, c *tclient) {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			h := newHarness(t)
			srv := h.start(t, 1, func(c *Config, _ *Deps) {
				if p.idle {
					c.IdleTimeout = 50 * time.Millisecond
				}
			})
			c := login(t, srv, h.store.addChar(1, "alice"))
			if _, ok := c.call(&wire.StageEnter{StageID: "town"}).(*wire.StageInfo); !ok { // state for logout to undo
				t.Fatal("enter town failed")
			}
			p.end(t, h, srv, c)
			if p.reason != "" {
				if got := kickedReason(c.closed()); got != p.reason {
					t.Fatalf("kicked reason %q, want %q", got, p.reason)
				}
			}
			waitEmpty(t, srv)
			if n := h.store.saveCount(1); n != 1 {
				t.Fatalf("SaveCharacter called %d times, want 1", n)
			}
			if _, err := h.reg.FindSession(context.Background(), 1); err == nil {
				t.Fatal("presence left behind")
			}
			if st := srv.Stages("town", 0); len(st) != 1 || st[0].Players != 0 {
				t.Fatalf("town after logout = %+v", st)
			}
			if got := counter(h.met.Sessions); got != 0 {
				t.Fatalf("sessions gauge = %d", got)
			}
			_ = srv.Close()
			if n := h.store.saveCount(1); n != 1 {
				t.Fatalf("SaveCharacter called %d times after Close, want 1", n)
			}
		})
	}
}

func TestLogoutSaveFailureCounted(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, func(c *Config, _ *Deps) { c.SaveTimeout = 100 * time.Millisecond })
	c := login(t, srv, h.store.addChar(1, "alice"))
	h.store.setSaveErr(fmt.Errorf("fake: %w", store.ErrUnavailable))
	_ = c.conn.Close()
	waitEmpty(t, srv)
	if got := counter(h.met.LogoutSavesFailed); got != 1 {
		t.Fatalf("logout saves failed = %d, want 1", got)
	}
	if h.store.saveCount(1) < 1 {
		t.Fatal("no save attempted")
	}
	if !strings.Contains(h.logs.String(), "logout save failed") {
		t.Fatal("save failure not logged")
	}
	// The channel still serves.
	h.store.setSaveErr(nil)
	login(t, srv, h.store.addChar(2, "bob"))
}

// A duplicate login kicks the older session, which is saved before the new
// one loads the character.
func TestDuplicateLogin(t *testing.T) {
	for _, sameChannel := range []bool{false, true} {
		t.Run(fmt.Sprintf("same channel %v", sameChannel), func(t *testing.T) {
			h := newHarness(t)
			a := h.start(t, 1, nil)
			b := a
			if !sameChannel {
				b = h.start(t, 2, nil)
			}
			old := login(t, a, h.store.addChar(7, "gina"))
			login(t, b, h.store.addChar(7, "gina"))
			if got := kickedReason(old.closed()); got == "" {
				t.Fatal("older session not told it was kicked")
			}
			ev := h.store.eventLog()
			want := []string{"load:7", "save:7", "load:7"}
			if fmt.Sprint(ev) != fmt.Sprint(want) {
				t.Fatalf("store events %v, want %v", ev, want)
			}
			s, err := h.reg.FindSession(context.Background(), 7)
			if err != nil || s.ChannelID != b.ID() {
				t.Fatalf("presence = %+v, %v; want channel %d", s, err, b.ID())
			}
		})
	}
}

func TestShutdownIdempotent(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	c := login(t, srv, h.store.addChar(1, "alice"))
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = srv.Shutdown(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Shutdown %d: %v", i, err)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close after Shutdown: %v", err)
	}
	c.closed()
	if n := h.store.saveCount(1); n != 1 {
		t.Fatalf("saves = %d, want 1", n)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
	if chans, _ := h.reg.Channels(context.Background()); len(chans) != 0 {
		t.Fatalf("still registered: %+v", chans)
	}
}

// Close with sessions force-closes them; their logouts still save.
func TestCloseForcesAndSaves(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	for i := uint32(1); i <= 3; i++ {
		login(t, srv, h.store.addChar(i, fmt.Sprintf("p%d", i)))
	}
	_ = srv.Close()
	for i := uint32(1); i <= 3; i++ {
		if n := h.store.saveCount(i); n != 1 {
			t.Fatalf("char %d saved %d times", i, n)
		}
	}
}

func TestDrain(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	c := login(t, srv, h.store.addChar(1, "alice"))
	early := dial(t, srv.Addr()) // accepted before the drain, logs in during it
	// Connections are accepted in order: once a later one is welcomed, the
	// early one has been accepted.
	probe := login(t, srv, h.store.addChar(3, "probe"))
	probe.mustOK(&wire.Logout{})
	probe.closed()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Drain(context.Background(), "restarting soon")
	}()
	if n := c.push(wire.TNotice).(*wire.Notice); n.Text != "restarting soon" {
		t.Fatalf("notice %q", n.Text)
	}
	if !srv.Info().Draining {
		t.Fatal("Info().Draining false while draining")
	}
	if e, ok := early.hello(h.store.addChar(2, "bob")).(*wire.Error); !ok || e.Code != wire.CodeDraining {
		t.Fatalf("login while draining: %v", e)
	}
	early.closed()
	c.mustOK(&wire.Logout{})
	<-done
	if n := h.store.saveCount(1); n != 1 {
		t.Fatalf("saves = %d", n)
	}
}

// When Shutdown's context ends first, sessions are force-closed, Shutdown
// still waits for every goroutine, logouts still save, and the error says so.
func TestShutdownDeadlineForcesClose(t *testing.T) {
	h := newHarness(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	srv := h.start(t, 1, func(_ *Config, d *Deps) {
		d.handlerHook = func(_ uint32, typ wire.Type) {
			if typ == wire.TLoadData {
				close(entered)
				<-release // a handler stuck in slow work
			}
		}
	})
	c := login(t, srv, h.store.addChar(1, "alice"))
	c.send(2, &wire.LoadData{})
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- srv.Shutdown(ctx) }()
	c.closed() // closed, although its handler is still busy
	<-ctx.Done()
	select {
	case err := <-res:
		t.Fatalf("Shutdown returned %v while a handler was still running", err)
	default:
	}
	close(release)
	if err := <-res; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if n := h.store.saveCount(1); n != 1 {
		t.Fatalf("saves = %d, want 1", n)
	}
}
