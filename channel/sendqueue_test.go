package channel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

func TestSendQueueBounded(t *testing.T) {
	q := newSendQueue(2)
	a, b, c := []byte("a"), []byte("b"), []byte("c")
	if r := q.push(a); r != pushStart {
		t.Fatalf("first push = %d, want pushStart (no send goroutine yet)", r)
	}
	if r := q.push(b); r != pushQueued {
		t.Fatalf("second push = %d, want pushQueued (one is being started)", r)
	}
	if r := q.push(c); r != pushFull {
		t.Fatalf("push over the limit = %d, want pushFull", r)
	}
	got := q.take(nil)
	if len(got) != 2 || &got[0][0] != &a[0] || &got[1][0] != &b[0] {
		t.Fatalf("take = %q", got)
	}
	if r := q.push(c); r != pushQueued {
		t.Fatalf("push after take = %d, want pushQueued", r)
	}
	if q.close() {
		t.Fatal("close reported no send goroutine while one runs")
	}
	if r := q.push(a); r != pushClosed {
		t.Fatalf("push to a closed queue = %d, want pushClosed", r)
	}
	if q.len() != 1 {
		t.Fatalf("len = %d", q.len())
	}
}

// The send goroutine retires only with nothing queued and the queue open;
// after that the next push asks for a new one, and close reports that
// nobody runs.
func TestSendQueueRetire(t *testing.T) {
	q := newSendQueue(4)
	q.push([]byte("a"))
	if q.retire() {
		t.Fatal("retired with a frame queued")
	}
	q.take(nil)
	if !q.retire() {
		t.Fatal("did not retire with nothing queued")
	}
	if r := q.push([]byte("b")); r != pushStart {
		t.Fatalf("push after retire = %d, want pushStart", r)
	}
	q.take(nil)
	q.close()
	if q.retire() {
		t.Fatal("retired on a closed queue: the send goroutine must flush and close the socket")
	}

	idle := newSendQueue(4)
	if !idle.close() {
		t.Fatal("close of a queue that never had a send goroutine did not report it")
	}
}

// A stage cast is encoded once: every recipient's queue holds the same bytes.
func TestStageCastEncodedOnce(t *testing.T) {
	h := newHarness(t)
	srv, err := New(h.config(1), h.deps())
	if err != nil {
		t.Fatal(err)
	}
	st := newStage("arena", false, 16, "", 0)
	var members []*session
	for i := uint32(1); i <= 5; i++ {
		c1, c2 := net.Pipe()
		t.Cleanup(func() { _ = c1.Close(); _ = c2.Close() })
		s := newSession(srv, c1)
		s.charID, s.name = i, fmt.Sprintf("p%d", i)
		s.q.running = true // no send goroutine: the test takes the frames
		st.members[i] = s
		members = append(members, s)
	}
	sender := members[0]
	sender.cur = st
	sender.onCast(0, &wire.Cast{Scope: wire.ScopeStage, Payload: []byte("boom")})

	if n := sender.q.len(); n != 0 {
		t.Fatalf("sender got %d frames (no echo, no OK for request 0)", n)
	}
	var first []byte
	for _, m := range members[1:] {
		frames := m.q.take(nil)
		if len(frames) != 1 {
			t.Fatalf("char %d has %d frames", m.charID, len(frames))
		}
		if first == nil {
			first = frames[0]
		} else if &frames[0][0] != &first[0] {
			t.Fatalf("char %d got its own copy of the frame: encoded more than once", m.charID)
		}
	}
	f, err := wire.ParseFrame(first)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := f.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if cm := msg.(*wire.CastMsg); cm.SenderID != 1 || cm.SenderName != "p1" || string(cm.Payload) != "boom" {
		t.Fatalf("cast = %+v", cm)
	}
}

// A client that never reads is disconnected once its queue is full, while
// another member keeps receiving every message.
func TestSlowConsumerDisconnected(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, func(c *Config, _ *Deps) { c.SendQueueLen = 16 })
	sender := login(t, srv, h.store.addChar(1, "sender"))
	slow := loginSmallWindow(t, srv, h.store.addChar(2, "slow"))
	reader := login(t, srv, h.store.addChar(3, "reader"))
	for _, c := range []*tclient{sender, slow, reader} {
		enter(t, c, "town", "")
	}
	// Drain the join pushes the reader and sender got.
	reader.pending = nil
	sender.pending = nil

	payload := make([]byte, 4000)
	const maxCasts, batch = 50000, 8 // batch < SendQueueLen: the reader's queue never fills
	sent, after := 0, -1
	for sent < maxCasts {
		for i := 0; i < batch; i++ {
			binary.BigEndian.PutUint32(payload, uint32(sent+i))
			sender.send(uint32(1000+i), &wire.Cast{Scope: wire.ScopeStage, Payload: payload})
		}
		for i := 0; i < batch; i++ {
			m, rid, err := sender.read()
			for err == nil && rid == 0 { // a push (join, leave)
				m, rid, err = sender.read()
			}
			if err != nil || rid != uint32(1000+i) || m.Type() != wire.TOK {
				t.Fatalf("sender: %T %v (request %d), %v", m, m, rid, err)
			}
		}
		for i := 0; i < batch; i++ {
			cm := reader.push(wire.TCastMsg).(*wire.CastMsg)
			if got := binary.BigEndian.Uint32(cm.Payload); got != uint32(sent) {
				t.Fatalf("reader got cast %d, want %d: a message was lost", got, sent)
			}
			sent++
		}
		if after < 0 && counter(h.met.SlowConsumers) > 0 {
			after = sent
		}
		if after >= 0 && sent >= after+40 {
			break
		}
	}
	if after < 0 {
		t.Fatalf("slow consumer never disconnected after %d casts", sent)
	}
	slow.closed()
	h.store.waitFor(t, "slow consumer's logout save", func() bool { return h.store.saves[2] == 1 })
	if got := counter(h.met.SlowConsumers); got != 1 {
		t.Fatalf("slow consumer disconnects = %d, want 1", got)
	}
	if srv.Info().Players != 2 {
		t.Fatalf("players = %d, want 2", srv.Info().Players)
	}
	if n := h.store.saveCount(3); n != 0 {
		t.Fatalf("reader was logged out")
	}
}

// loginSmallWindow logs in over a socket with a small receive buffer set
// before connecting, so a client that never reads fills up quickly.
func loginSmallWindow(t *testing.T, srv *Server, token string) *tclient {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &tclient{t: t, conn: conn}
	w, ok := c.hello(token).(*wire.Welcome)
	if !ok {
		t.Fatal("login refused")
	}
	c.welcome = w
	return c
}
