package channel

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// An idle session has no send goroutine: it retires once the queue stayed
// empty for the linger, the next frame starts a new one, and the session
// goes on; closing a session without one closes the socket.
func TestSendGoroutineRetiresAndRestarts(t *testing.T) {
	h := newHarness(t)
	exits := make(chan bool, 16)
	srv := h.start(t, 1, func(c *Config, d *Deps) {
		c.writerLinger = time.Millisecond
		d.writerHook = func(retired bool) { exits <- retired }
	})
	waitExit := func(want bool) {
		t.Helper()
		select {
		case retired := <-exits:
			if retired != want {
				t.Fatalf("send goroutine exited with retired=%v, want %v", retired, want)
			}
		case <-time.After(guard):
			t.Fatal("send goroutine never exited")
		}
	}
	c := login(t, srv, h.store.addChar(1, "idle"))
	waitExit(true) // after the Welcome
	if n := counter(h.met.SendLoops); n != 0 {
		t.Fatalf("send_goroutines = %d with the only session idle, want 0", n)
	}
	for i := 0; i < 3; i++ {
		if m := c.call(&wire.Ping{ClientTime: int64(i)}); m.Type() != wire.TPong {
			t.Fatalf("ping %d: got %T %v, want Pong", i, m, m)
		}
		waitExit(true)
	}
	// Kicked with no send goroutine: one starts, writes Kicked, closes.
	srv.Disconnect(t.Context(), 1, "bye")
	if rest := c.closed(); len(rest) != 1 || rest[0].Type() != wire.TKicked {
		t.Fatalf("after the kick got %v, want one Kicked then EOF", rest)
	}
	waitExit(false)
	waitEmpty(t, srv)

	// A session closed while it has no send goroutine: close closes the socket.
	c2 := login(t, srv, h.store.addChar(2, "quiet"))
	waitExit(true)
	srv.mu.Lock()
	s2 := srv.byChar[2]
	srv.mu.Unlock()
	s2.close("test", closeFlush)
	if rest := c2.closed(); len(rest) != 0 {
		t.Fatalf("after close got %v, want EOF", rest)
	}
	waitEmpty(t, srv)
	select {
	case r := <-exits:
		t.Fatalf("a send goroutine ran (retired=%v) for a close with nothing queued", r)
	default:
	}
}

// gateConn is a recordConn whose Write waits for a token on gate first and
// signals wrote after recording; Close closes closed.
type gateConn struct {
	recordConn
	gate   chan struct{}
	wrote  chan struct{}
	closed chan struct{}
	once   sync.Once
}

func newGateConn() *gateConn {
	return &gateConn{gate: make(chan struct{}), wrote: make(chan struct{}, 16), closed: make(chan struct{})}
}

func (c *gateConn) Write(p []byte) (int, error) {
	<-c.gate
	n, err := c.recordConn.Write(p)
	c.wrote <- struct{}{}
	return n, err
}

func (c *gateConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

// With WriteCoalesce, frames queued while a write is in progress are not
// written before previous write + window, and then in one write, in order.
// awaitWrite waits for the gate connection's next write, failing (not
// hanging) if the send goroutine never writes.
func awaitWrite(t *testing.T, gc *gateConn) {
	t.Helper()
	select {
	case <-gc.wrote:
	case <-time.After(guard):
		t.Fatal("send goroutine never wrote")
	}
}

func TestWriteCoalesceWindow(t *testing.T) {
	h := newHarness(t)
	const window = 200 * time.Millisecond
	srv := h.start(t, 1, func(c *Config, _ *Deps) { c.WriteCoalesce = window })
	gc := newGateConn()
	s := newSession(srv, gc)
	f1, f2, f3 := []byte("one"), []byte("two"), []byte("three")
	s.send(f1) // starts the send goroutine, which blocks in Write(f1)
	s.send(f2)
	s.send(f3)
	gc.gate <- struct{}{} // f1 (or f1..f3 if all were queued before the first take)
	awaitWrite(t, gc)
	gc.mu.Lock()
	first := gc.writes[0]
	gc.mu.Unlock()
	if !bytes.Equal(first, f1) {
		// The goroutine took all three at once: nothing to coalesce.
		if !bytes.Equal(first, bytes.Join([][]byte{f1, f2, f3}, nil)) {
			t.Fatalf("first write %q, want %q or all three", first, f1)
		}
	} else {
		gc.gate <- struct{}{}
		awaitWrite(t, gc)
		gc.mu.Lock()
		second, gap := gc.writes[1], gc.at[1].Sub(gc.at[0])
		gc.mu.Unlock()
		if want := bytes.Join([][]byte{f2, f3}, nil); !bytes.Equal(second, want) {
			t.Fatalf("second write %q, want %q in one write", second, want)
		}
		if gap < window {
			t.Fatalf("second write %v after the first, before the window of %v", gap, window)
		}
	}
	close(gc.gate) // let the final flush through
	s.close("test", closeFlush)
	select {
	case <-gc.closed:
	case <-time.After(guard):
		t.Fatal("socket never closed")
	}
}
