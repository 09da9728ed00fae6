package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// guard is a generous failure guard, never a timing assertion.
const guard = 10 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, fs *fakeServer, opts ...Option) (*Conn, *fakeSession) {
	t.Helper()
	c, err := Dial(testCtx(t), fs.addr(), testToken, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case s := <-fs.conns:
		return c, s
	case <-time.After(guard):
		t.Fatal("fake server never saw the session")
		return nil, nil
	}
}

func waitDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(guard):
		t.Fatal("connection never ended")
	}
}

// nextEvent waits for one event; ok is false if Events was closed.
func nextEvent(t *testing.T, c *Conn) (wire.Message, bool) {
	t.Helper()
	select {
	case m, ok := <-c.Events():
		return m, ok
	case <-time.After(guard):
		t.Fatal("no event")
		return nil, false
	}
}

func TestDialWelcomeAndHello(t *testing.T) {
	fs := newFakeServer(t, nil)
	c, _ := dial(t, fs)
	if got := c.Welcome(); got != fs.welcome {
		t.Fatalf("Welcome = %+v, want %+v", got, fs.welcome)
	}
	h := <-fs.hellos
	if h.Magic != wire.Magic || h.Version != wire.Version || h.Token != testToken {
		t.Fatalf("Hello = %+v", h)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err on a live conn = %v", err)
	}
}

func TestDialRefused(t *testing.T) {
	fs := newFakeServer(t, nil)
	_, err := Dial(testCtx(t), fs.addr(), "wrong-token")
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeUnauthorized {
		t.Fatalf("Dial with a bad token: %v, want *wire.Error CodeUnauthorized", err)
	}

	fs2 := newFakeServer(t, nil)
	fs2.refuse = &wire.Error{Code: wire.CodeDraining, Message: "draining", Channel: 2, Addr: "127.0.0.1:54002"}
	_, err = Dial(testCtx(t), fs2.addr(), testToken)
	if !errors.As(err, &we) || *we != *fs2.refuse {
		t.Fatalf("Dial to a draining server: %v, want %+v", err, fs2.refuse)
	}
}

func TestDialTokenTooLong(t *testing.T) {
	long := make([]byte, wire.MaxShort+1)
	for i := range long {
		long[i] = 'a'
	}
	_, err := Dial(testCtx(t), "127.0.0.1:1", string(long))
	if !errors.Is(err, wire.ErrLimit) {
		t.Fatalf("Dial with a long token: %v, want wire.ErrLimit", err)
	}
}

func TestDialHandshakeCancelled(t *testing.T) {
	// A listener that accepts but never answers the Hello.
	silent := newSilentListener(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Dial(ctx, silent.addr(), testToken)
		errc <- err
	}()
	<-silent.accepted // the client is now waiting for Welcome
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(guard):
		t.Fatal("Dial did not return after cancel")
	}
}

func TestConcurrentRequestsMatchedByID(t *testing.T) {
	const n = 50
	var (
		mu   sync.Mutex
		held []wire.Frame
		msgs []*wire.FindPlayer
	)
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		fp, ok := m.(*wire.FindPlayer)
		if !ok {
			return
		}
		mu.Lock()
		held = append(held, wire.Frame{ReqID: f.ReqID})
		msgs = append(msgs, fp)
		all := len(held) == n
		mu.Unlock()
		if !all {
			return
		}
		// Answer in reverse order of arrival.
		for i := n - 1; i >= 0; i-- {
			s.send(held[i].ReqID, &wire.PlayerInfo{Found: true, Player: wire.PlayerLoc{CharID: msgs[i].CharID, Name: msgs[i].Name}})
		}
	})
	c, _ := dial(t, fs)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := uint32(1000 + i)
			p, err := c.FindPlayer(ctx, id, fmt.Sprintf("p%d", i))
			if err != nil {
				errs <- err
				return
			}
			if p.Player.CharID != id || p.Player.Name != fmt.Sprintf("p%d", i) {
				errs <- fmt.Errorf("request %d got answer for %d %q", id, p.Player.CharID, p.Player.Name)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[uint32]bool{}
	for _, f := range held {
		if f.ReqID == 0 || seen[f.ReqID] {
			t.Fatalf("request ID %d zero or reused", f.ReqID)
		}
		seen[f.ReqID] = true
	}
}

func TestPushesDeliveredInOrder(t *testing.T) {
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		if _, ok := m.(*wire.StageEnter); ok {
			s.send(0, &wire.StageJoined{StageID: "town", CharID: 7, Name: "Bob"})
			s.send(f.ReqID, &wire.StageInfo{StageID: "town", HostID: 7, Members: []wire.Member{{CharID: 7, Name: "Bob"}, {CharID: 42, Name: "Alice"}}})
			s.send(0, &wire.CastMsg{Scope: wire.ScopeStage, SenderID: 7, SenderName: "Bob", Payload: []byte("hi")})
			s.send(0, &wire.Error{Code: wire.CodeNotFound, Message: "async"})
		}
	})
	c, _ := dial(t, fs)
	info, err := c.StageEnter(testCtx(t), "town", "")
	if err != nil {
		t.Fatal(err)
	}
	if info.StageID != "town" || len(info.Members) != 2 || info.Members[1].Name != "Alice" {
		t.Fatalf("StageInfo = %+v", info)
	}
	m, _ := nextEvent(t, c)
	if j, ok := m.(*wire.StageJoined); !ok || j.CharID != 7 || j.Name != "Bob" {
		t.Fatalf("event 1 = %#v, want StageJoined Bob", m)
	}
	m, _ = nextEvent(t, c)
	if cm, ok := m.(*wire.CastMsg); !ok || cm.SenderID != 7 || string(cm.Payload) != "hi" {
		t.Fatalf("event 2 = %#v, want CastMsg hi", m)
	}
	m, _ = nextEvent(t, c)
	if e, ok := m.(*wire.Error); !ok || e.Code != wire.CodeNotFound {
		t.Fatalf("event 3 = %#v, want async Error", m)
	}
}

func TestServerErrorIsWireError(t *testing.T) {
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		s.send(f.ReqID, &wire.Error{Code: wire.CodeSemaHeld, Message: "held", Channel: 2, Addr: "127.0.0.1:54002"})
	})
	c, _ := dial(t, fs)
	_, err := c.SemaAcquire(testCtx(t), "raid", true, 0)
	we, ok := err.(*wire.Error)
	if !ok || we.Code != wire.CodeSemaHeld || we.Channel != 2 || we.Addr != "127.0.0.1:54002" {
		t.Fatalf("SemaAcquire = %v, want *wire.Error CodeSemaHeld", err)
	}
	// The connection stays usable after a server error.
	if c.Err() != nil {
		t.Fatalf("Err after a server error = %v", c.Err())
	}
}

func TestUnexpectedResponseType(t *testing.T) {
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		s.send(f.ReqID, &wire.OK{ID: 1})
	})
	c, _ := dial(t, fs)
	_, err := c.MailList(testCtx(t))
	if !errors.Is(err, ErrUnexpected) {
		t.Fatalf("MailList answered by OK: %v, want ErrUnexpected", err)
	}
}

func TestServerCloseEndsConn(t *testing.T) {
	got := make(chan struct{})
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		close(got)
		s.close()
	})
	c, _ := dial(t, fs)
	_, err := c.GuildMembers(testCtx(t))
	<-got
	if !errors.Is(err, ErrServerClosed) {
		t.Fatalf("pending request on server close: %v, want ErrServerClosed", err)
	}
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrServerClosed) {
		t.Fatalf("Err = %v, want ErrServerClosed", c.Err())
	}
	if _, ok := nextEvent(t, c); ok {
		t.Fatal("Events not closed after the connection ended")
	}
	if _, err := c.Ping(testCtx(t)); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("request after close: %v", err)
	}
}

func TestKicked(t *testing.T) {
	fs := newFakeServer(t, nil)
	c, s := dial(t, fs)
	s.send(0, &wire.Kicked{Reason: "logged in elsewhere"})
	s.close()
	m, ok := nextEvent(t, c)
	if k, isK := m.(*wire.Kicked); !ok || !isK || k.Reason != "logged in elsewhere" {
		t.Fatalf("event = %#v, want Kicked", m)
	}
	if _, ok := nextEvent(t, c); ok {
		t.Fatal("Events not closed after kick")
	}
	waitDone(t, c)
	var ke *KickedError
	if !errors.As(c.Err(), &ke) || ke.Reason != "logged in elsewhere" {
		t.Fatalf("Err = %v, want *KickedError", c.Err())
	}
}

func TestContextCancelPendingRequest(t *testing.T) {
	received := make(chan uint32, 4)
	var (
		mu       sync.Mutex
		answerTo = map[uint32]bool{}
	)
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		fp := m.(*wire.FindPlayer)
		if fp.CharID == 1 { // the request to cancel: hold it
			received <- f.ReqID
			return
		}
		mu.Lock()
		stale := answerTo
		mu.Unlock()
		// Answer the stale request first, then this one.
		for id := range stale {
			s.send(id, &wire.PlayerInfo{Player: wire.PlayerLoc{CharID: 1}})
		}
		s.send(f.ReqID, &wire.PlayerInfo{Found: true, Player: wire.PlayerLoc{CharID: fp.CharID}})
	})
	c, _ := dial(t, fs)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.FindPlayer(ctx, 1, "")
		errc <- err
	}()
	staleID := <-received
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", err)
	}
	mu.Lock()
	answerTo[staleID] = true
	mu.Unlock()
	p, err := c.FindPlayer(testCtx(t), 2, "")
	if err != nil || p.Player.CharID != 2 || !p.Found {
		t.Fatalf("request after a cancelled one: %+v %v", p, err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	fs := newFakeServer(t, nil)
	c, _ := dial(t, fs)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", c.Err())
	}
	if _, ok := nextEvent(t, c); ok {
		t.Fatal("Events open after Close")
	}
	if err := c.CastNoAck(wire.ScopeStage, nil, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("CastNoAck after Close: %v", err)
	}
	if _, err := c.Cast(testCtx(t), wire.ScopeStage, nil, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Cast after Close: %v", err)
	}
}

func TestCloseFailsPendingRequest(t *testing.T) {
	received := make(chan struct{})
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) { close(received) })
	c, _ := dial(t, fs)
	errc := make(chan error, 1)
	go func() {
		_, err := c.LoadData(testCtx(t))
		errc <- err
	}()
	<-received
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending request on Close: %v, want ErrClosed", err)
	}
}

func TestLogout(t *testing.T) {
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		if _, ok := m.(*wire.Logout); ok {
			s.send(f.ReqID, &wire.OK{})
			s.close()
		}
	})
	c, _ := dial(t, fs)
	if err := c.Logout(testCtx(t)); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err after Logout = %v, want ErrClosed", c.Err())
	}
}

func TestCastNoAck(t *testing.T) {
	casts := make(chan wire.Frame, 1)
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		c := m.(*wire.Cast)
		if f.ReqID != 0 || c.Scope != wire.ScopeTargets || len(c.Targets) != 2 || c.Targets[1] != 8 || string(c.Payload) != "psst" {
			t.Errorf("server got %+v with ID %d", c, f.ReqID)
		}
		s.send(0, &wire.Error{Code: wire.CodeTooLarge, Message: "nope"})
		casts <- f
	})
	c, _ := dial(t, fs)
	if err := c.CastNoAck(wire.ScopeTargets, []uint32{7, 8}, []byte("psst")); err != nil {
		t.Fatal(err)
	}
	<-casts
	m, _ := nextEvent(t, c)
	if e, ok := m.(*wire.Error); !ok || e.Code != wire.CodeTooLarge {
		t.Fatalf("event = %#v, want async Error", m)
	}
}

func TestOversizedRequestRefused(t *testing.T) {
	fs := newFakeServer(t, nil)
	c, _ := dial(t, fs)
	err := c.SaveData(testCtx(t), make([]byte, wire.MaxFrame))
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("oversized SaveData: %v, want wire.ErrFrameTooLarge", err)
	}
	if c.Err() != nil {
		t.Fatalf("conn ended after a refused encode: %v", c.Err())
	}
}

func TestResponsesFlowWhileEventsUnread(t *testing.T) {
	const pushes = 500
	fs := newFakeServer(t, func(s *fakeSession, f wire.Frame, m wire.Message) {
		for i := range pushes {
			s.send(0, &wire.Notice{Text: fmt.Sprint(i)})
		}
		s.send(f.ReqID, &wire.Pong{ClientTime: m.(*wire.Ping).ClientTime, ServerTime: 5})
	})
	c, _ := dial(t, fs, WithEventBuffer(1))
	// Nobody reads Events, yet the answer behind 500 pushes arrives.
	p, err := c.Ping(testCtx(t))
	if err != nil || p.ServerTime != 5 {
		t.Fatalf("Ping: %+v %v", p, err)
	}
	for i := range pushes {
		m, _ := nextEvent(t, c)
		if n, ok := m.(*wire.Notice); !ok || n.Text != fmt.Sprint(i) {
			t.Fatalf("event %d = %#v", i, m)
		}
	}
}

func TestEventOverflowCloses(t *testing.T) {
	fs := newFakeServer(t, nil)
	c, s := dial(t, fs, WithEventBuffer(1), WithEventLimit(2))
	for i := range 10 {
		s.send(0, &wire.Notice{Text: fmt.Sprint(i)})
	}
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrEventOverflow) {
		t.Fatalf("Err = %v, want ErrEventOverflow", c.Err())
	}
}
