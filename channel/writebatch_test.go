package channel

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// recordConn is a net.Conn that records every Write call and its time.
type recordConn struct {
	net.Conn // nil: only the methods below are used
	mu       sync.Mutex
	writes   [][]byte
	at       []time.Time
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	c.at = append(c.at, time.Now())
	return len(p), nil
}

func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }
func (c *recordConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// A batch of frames goes out in one write() per writeChunk bytes, in order,
// and the metrics count frames and writes.
func TestWriteBatchCoalesces(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	rc := &recordConn{}
	s := newSession(srv, rc)

	f1, f2, f3 := []byte("frame-one"), []byte("frame-two"), []byte("frame-three")
	if err := s.writeBatch([][]byte{f1, f2, f3}); err != nil {
		t.Fatalf("writeBatch: %v", err)
	}
	if len(rc.writes) != 1 {
		t.Fatalf("3 small frames took %d writes, want 1", len(rc.writes))
	}
	if want := bytes.Join([][]byte{f1, f2, f3}, nil); !bytes.Equal(rc.writes[0], want) {
		t.Fatalf("wrote %q, want %q", rc.writes[0], want)
	}
	if fo, w := counter(h.met.FramesOut), counter(h.met.Writes); fo != 3 || w != 1 {
		t.Fatalf("frames_out %d, writes %d; want 3, 1", fo, w)
	}

	// More than writeChunk bytes: split at frame boundaries, nothing lost.
	big := bytes.Repeat([]byte{'x'}, writeChunk/2+1)
	rc.writes = nil
	if err := s.writeBatch([][]byte{big, big, f1}); err != nil {
		t.Fatalf("writeBatch: %v", err)
	}
	if len(rc.writes) != 2 {
		t.Fatalf("%d writes for 2 half-chunk frames and a small one, want 2", len(rc.writes))
	}
	if got, want := bytes.Join(rc.writes, nil), bytes.Join([][]byte{big, big, f1}, nil); !bytes.Equal(got, want) {
		t.Fatal("bytes written differ from the frames, in order")
	}
	if fo, w := counter(h.met.FramesOut), counter(h.met.Writes); fo != 6 || w != 3 {
		t.Fatalf("frames_out %d, writes %d; want 6, 3", fo, w)
	}

	// A single frame is written as is.
	rc.writes = nil
	if err := s.writeBatch([][]byte{f2}); err != nil {
		t.Fatalf("writeBatch: %v", err)
	}
	if len(rc.writes) != 1 || !bytes.Equal(rc.writes[0], f2) {
		t.Fatalf("single frame written as %q", rc.writes)
	}
}
