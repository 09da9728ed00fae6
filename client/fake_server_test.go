package client

import (
	"net"
	"sync"
	"testing"

	"github.com/guildhall/guildhall/wire"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "tok-123"

// fakeServer is a tiny channel server speaking wire on 127.0.0.1.
type fakeServer struct {
	t       *testing.T
	ln      net.Listener
	welcome wire.Welcome
	refuse  *wire.Error // answer to Hello when set
	// handle is called for each frame after the handshake, on the
	// session's reader goroutine.
	handle func(s *fakeSession, f wire.Frame, m wire.Message)
	hellos chan wire.Hello // every Hello received
	conns  chan *fakeSession

	mu       sync.Mutex
	sessions []*fakeSession
	wg       sync.WaitGroup
}

type fakeSession struct {
	t   *testing.T
	nc  net.Conn
	wmu sync.Mutex
}

// send writes one frame; errors are ignored (the client may have gone).
func (s *fakeSession) send(reqID uint32, m wire.Message) {
	b, err := wire.Encode(reqID, m)
	if err != nil {
		s.t.Errorf("fake server encode %s: %v", m.Type(), err)
		return
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.nc.Write(b)
}

func (s *fakeSession) close() { s.nc.Close() }

func newFakeServer(t *testing.T, handle func(s *fakeSession, f wire.Frame, m wire.Message)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{
		t:       t,
		ln:      ln,
		welcome: wire.Welcome{Version: wire.Version, CharID: 42, Name: "Alice", ChannelID: 1, ServerTime: 1_700_000_000_000_000_000, UnreadMail: 3, GuildID: 9},
		handle:  handle,
		hellos:  make(chan wire.Hello, 16),
		conns:   make(chan *fakeSession, 16),
	}
	fs.wg.Add(1)
	go fs.accept()
	t.Cleanup(fs.stop)
	return fs
}

func (fs *fakeServer) addr() string { return fs.ln.Addr().String() }

func (fs *fakeServer) stop() {
	fs.ln.Close()
	fs.mu.Lock()
	for _, s := range fs.sessions {
		s.nc.Close()
	}
	fs.mu.Unlock()
	fs.wg.Wait()
}

func (fs *fakeServer) accept() {
	defer fs.wg.Done()
	for {
		nc, err := fs.ln.Accept()
		if err != nil {
			return
		}
		s := &fakeSession{t: fs.t, nc: nc}
		fs.mu.Lock()
		fs.sessions = append(fs.sessions, s)
		fs.mu.Unlock()
		fs.wg.Add(1)
		go fs.serve(s)
	}
}

func (fs *fakeServer) serve(s *fakeSession) {
	defer fs.wg.Done()
	defer s.nc.Close()
	f, _, err := wire.ReadFrame(s.nc, nil)
	if err != nil {
		return
	}
	m, err := f.Decode()
	hello, ok := m.(*wire.Hello)
	if err != nil || !ok {
		fs.t.Errorf("fake server: first frame %v %v, want Hello", f.Type, err)
		return
	}
	select {
	case fs.hellos <- *hello:
	default:
	}
	if fs.refuse != nil {
		s.send(f.ReqID, fs.refuse)
		return
	}
	if hello.Magic != wire.Magic || hello.Version != wire.Version || hello.Token != testToken {
		s.send(f.ReqID, &wire.Error{Code: wire.CodeUnauthorized, Message: "bad hello"})
		return
	}
	w := fs.welcome
	s.send(f.ReqID, &w)
	select {
	case fs.conns <- s:
	default:
	}
	var buf []byte
	for {
		f, nb, err := wire.ReadFrame(s.nc, buf)
		buf = nb
		if err != nil {
			return // the client or the test closed the connection
		}
		m, err := f.Decode()
		if err != nil {
			fs.t.Errorf("fake server: decode %v: %v", f.Type, err)
			return
		}
		if fs.handle != nil {
			fs.handle(s, f, m)
		}
	}
}

// silentListener accepts connections and never writes.
type silentListener struct {
	ln       net.Listener
	accepted chan struct{}
}

func newSilentListener(t *testing.T) *silentListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := &silentListener{ln: ln, accepted: make(chan struct{})}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	wg.Go(func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, nc)
		mu.Unlock()
		// Wait for the Hello so the client is past its write.
		wire.ReadFrame(nc, nil)
		close(sl.accepted)
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return sl
}

func (sl *silentListener) addr() string { return sl.ln.Addr().String() }
