package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

// closeMode says how a session is closed.
type closeMode uint8

const (
	closeFlush closeMode = iota // write what is queued, then close
	closeKick                   // queue wire.Kicked{reason}, write, then close
	closeNow                    // close the socket at once
)

const (
	// readBufKeep is the largest receive buffer kept between frames.
	readBufKeep = 4096
	// readBufStart is the receive buffer a session starts with (most
	// client frames are far smaller; a larger one grows it).
	readBufStart = 128
)

// session is one client connection. The receive goroutine (run) owns the
// fields marked "recv": only it reads or writes them.
type session struct {
	srv    *Server
	conn   net.Conn
	remote string
	addr   string // the channel's advertised address
	q      *sendQueue

	closing   chan struct{} // closed once when the session starts closing
	closeOnce sync.Once
	loggedOut chan struct{} // closed once when logout (and its save) is done
	logoutOne sync.Once
	lastRecv  atomic.Int64 // unix nanoseconds of the last frame received

	// Set during the handshake, before the session is published in
	// Server.byChar, and immutable afterwards.
	charID uint32
	name   string

	// recv
	admitted   bool
	claimed    bool // registry.SessionOnline succeeded: logout must undo it
	published  bool // in Server.byChar and counted in Metrics.Sessions
	loaded     bool // character loaded: logout saves
	playSince  time.Time
	cur        *stage
	backStack  []string
	touched    map[string]struct{} // stages this session created or reserved in
	localSemas map[string]struct{}
	globalSema map[string]uint64 // name -> fencing token

	// pubMu orders the session's presence publishes: it is held across
	// the snapshot and registry.SessionUpdated (publishPresence) and
	// registry.SessionOffline (logout). Taken alone, never while holding
	// another lock of this package.
	pubMu   sync.Mutex
	offline bool // guarded by pubMu: SessionOffline done, publish nothing more

	mu          sync.Mutex // guards the fields below
	stageID     string
	guildID     uint32
	closeReason string
	cancelClaim context.CancelFunc // cancels registry.SessionOnline in progress
}

// log returns the session's logger: the server's, with the remote address
// and, once the handshake has set it, the character ID. It is built at each
// call rather than kept: a logger per session (slog's With copies the
// handler) was a sizeable part of an idle session's memory, and sessions log
// rarely. Only the receive goroutine may call it before the session is
// published (charID is set there); the send goroutine logs through
// srv.log with the remote address only.
func (s *session) log() *slog.Logger {
	if s.charID == 0 {
		return s.srv.log.With("remote", s.remote)
	}
	return s.srv.log.With("remote", s.remote, "char", s.charID)
}

func newSession(srv *Server, conn net.Conn) *session {
	remote := conn.RemoteAddr().String()
	s := &session{
		srv:       srv,
		conn:      conn,
		remote:    remote,
		addr:      srv.Addr(),
		q:         newSendQueue(srv.cfg.SendQueueLen),
		closing:   make(chan struct{}),
		loggedOut: make(chan struct{}),
	}
	s.lastRecv.Store(srv.now().UnixNano())
	return s
}

// close starts closing the session; it is safe to call any number of times
// from any goroutine, and takes no Server or stage lock. Only the first
// call's reason and mode count, except that closeNow always closes the
// socket at once. It reports whether this call started the close.
func (s *session) close(reason string, mode closeMode) bool {
	first, noWriter := false, false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closeReason = reason
		s.mu.Unlock()
		if mode == closeKick {
			if frame, err := wire.Encode(0, &wire.Kicked{Reason: truncate(reason, wire.MaxShort)}); err == nil {
				if s.q.push(frame) == pushStart {
					s.startWriter()
				}
			}
		}
		// With no send goroutine running nothing is queued, and nobody
		// else would close the socket: close it here. Otherwise the send
		// goroutine writes what is queued and closes it.
		noWriter = s.q.close()
		close(s.closing)
		// After closing: a handshake that sets cancelClaim later sees
		// closing and cancels itself.
		s.mu.Lock()
		cancel := s.cancelClaim
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	})
	if mode == closeNow || noWriter {
		_ = s.conn.Close()
	}
	return first
}

func (s *session) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeReason
}

func (s *session) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// send queues a shared frame, starting the send goroutine if none is
// running. A full queue means the client cannot keep up: the session is
// counted and closed; send never blocks.
func (s *session) send(frame []byte) {
	switch s.q.push(frame) {
	case pushStart:
		s.startWriter()
	case pushFull:
		if s.close("send queue full", closeNow) {
			s.srv.met.add(mSlowConsumers, 1)
			s.log().Warn("send queue full; closing slow consumer", "queued", s.srv.cfg.SendQueueLen)
		}
	}
}

// startWriter starts the send goroutine after a push found none running.
// If the server refuses to start it (Shutdown is waiting for its
// goroutines), nothing more can be written: the socket is closed at once,
// which ends the receive goroutine too. It takes no lock of this package
// (Server.spawn's goMu is a leaf), so it may be called while holding any.
func (s *session) startWriter() {
	if !s.srv.spawn(s.writeLoop) {
		_ = s.conn.Close()
	}
}

// reply encodes m for the request reqID and queues it.
func (s *session) reply(reqID uint32, m wire.Message) {
	frame, err := wire.Encode(reqID, m)
	if err != nil {
		s.log().Error("encode reply", "type", m.Type(), "err", err)
		frame, _ = wire.Encode(reqID, &wire.Error{Code: wire.CodeInternal, Message: "reply too large"})
	}
	s.send(frame)
}

func (s *session) replyErr(reqID uint32, code wire.ErrorCode, msg string) {
	s.reply(reqID, &wire.Error{Code: code, Message: truncate(msg, wire.MaxShort)})
}

func (s *session) ok(reqID uint32, id uint64) {
	if reqID != 0 {
		s.reply(reqID, &wire.OK{ID: id})
	}
}

// snapshot returns the session's presence record.
func (s *session) snapshot() registry.SessionSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return registry.SessionSnapshot{
		CharID:    s.charID,
		Name:      s.name,
		ReplicaID: s.srv.cfg.ReplicaID,
		ChannelID: s.srv.cfg.ID,
		Addr:      s.addr,
		StageID:   s.stageID,
		GuildID:   s.guildID,
	}
}

// publishPresence tells the registry the session's current presence
// record. Calls from any goroutine (the session's own, or another
// session's through refreshLocalGuild) reach the registry in the order of
// the states they carry; after logout's SessionOffline nothing is sent.
// The caller must hold no lock of this package.
func (s *session) publishPresence(ctx context.Context) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.offline {
		return
	}
	s.srv.reg.SessionUpdated(ctx, s.snapshot())
}

// writeLoop is the send goroutine. It runs only while the session has
// something to send: a push that finds none running starts it
// (startWriter), and it retires once the queue has stayed empty for
// between one and two writer lingers (DefaultWriterLinger), so an idle
// session has one goroutine, not two. sendQueue guarantees at most one runs at a time.
//
// Each wake-up drains the whole queue and writes it in one write() per
// writeChunk bytes, with a write deadline. Frames are shared (encoded once)
// and copied into a write buffer borrowed from the server's pool for the
// batch only. (Copying ~100-byte frames is cheaper than a writev of one
// iovec per frame: BenchmarkStageBroadcast100 measured writev at about 40 %
// fewer deliveries/s.)
//
// With Config.WriteCoalesce > 0, a wake-up less than that long after the
// previous write waits (a timer) until previous write + WriteCoalesce before
// draining, so frames arriving meanwhile share one write: each frame is
// delayed by at most WriteCoalesce.
//
// When the session closes, the goroutine writes what is queued and closes
// the socket; if it retired before, close does that (nothing is queued).
func (s *session) writeLoop() {
	retired := false
	s.srv.met.sendLoopsAdd(1)
	defer func() {
		s.srv.met.sendLoopsAdd(-1)
		if s.srv.recovered("send loop", recover(), "remote", s.remote) {
			s.close("internal error", closeNow)
		}
		if !retired {
			_ = s.conn.Close()
		}
		if h := s.srv.writerHook; h != nil {
			h(retired)
		}
	}()
	// The linger timer is not reset per batch (a Reset per write showed up
	// in world-cast profiles): each tick retires the goroutine only if no
	// batch was written since the previous tick, so an idle goroutine exits
	// between one and two lingers after its last write.
	linger := s.srv.cfg.writerLinger
	idle := time.NewTicker(linger)
	defer idle.Stop()
	active := false // a batch was written since the last tick
	window := s.srv.cfg.WriteCoalesce
	var (
		spare     [][]byte
		lastWrite time.Time
		wait      *time.Timer // the coalescing window's timer, made on first use
	)
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	for {
		final := false
		select {
		case <-s.q.notify:
		case <-s.closing:
			final = true
		case <-idle.C:
			if !active && s.q.retire() {
				retired = true
				return
			}
			active = false
			continue
		}
		waited := false
		if !final && window > 0 && !lastWrite.IsZero() {
			if d := window - time.Since(lastWrite); d > 0 {
				if wait == nil {
					wait = time.NewTimer(d)
				} else {
					wait.Reset(d)
				}
				select {
				case <-wait.C:
				case <-s.closing:
					final = true
				}
				waited = true
			}
		}
		if !final && !waited {
			// Let the goroutines that are fanning out run first, so this
			// wake-up writes more frames in one system call.
			runtime.Gosched()
		}
		batch := s.q.take(spare)
		if len(batch) > 0 {
			if err := s.writeBatch(batch); err != nil {
				if !s.isClosing() {
					s.srv.log.Info("write failed; closing session", "remote", s.remote, "err", err)
				}
				s.close("write error", closeNow)
				return
			}
			if window > 0 {
				lastWrite = time.Now()
			}
		}
		spare = batch
		if cap(spare) > maxSpareFrames {
			spare = nil // a burst grew it: do not keep it for an idle session
		}
		if final {
			return
		}
		active = true
	}
}

const (
	// writeChunk is the most bytes copied into one write.
	writeChunk = 64 * 1024
	// maxSpareFrames bounds the frame slice a send goroutine keeps between
	// batches.
	maxSpareFrames = 1024
)

// writeBatch writes batch: a single frame as is, several copied into a
// pooled buffer and written writeChunk bytes at a time.
func (s *session) writeBatch(batch [][]byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if len(batch) == 1 {
		if _, err := s.conn.Write(batch[0]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		s.srv.met.add(mFramesOut, 1)
		s.srv.met.add(mWrites, 1)
		return nil
	}
	bp, _ := s.srv.wbufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, writeChunk)
		bp = &b
	}
	buf := (*bp)[:0]
	var err error
	writes := 1
	for _, f := range batch {
		if len(buf) > 0 && len(buf)+len(f) > writeChunk {
			writes++
			if _, err = s.conn.Write(buf); err != nil {
				break
			}
			buf = buf[:0]
		}
		buf = append(buf, f...)
	}
	if err == nil {
		_, err = s.conn.Write(buf)
	}
	if cap(buf) <= writeChunk { // a frame above writeChunk grew it: drop it
		*bp = buf[:0]
		s.srv.wbufs.Put(bp)
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	s.srv.met.add(mFramesOut, len(batch))
	s.srv.met.add(mWrites, writes)
	return nil
}

// run is the receive goroutine: handshake, receive loop, then logout.
func (s *session) run() {
	defer s.finish()
	defer func() {
		if s.srv.recovered("session", recover(), "char", s.charID, "remote", s.remote) {
			s.close("internal error", closeNow)
		}
	}()
	buf := make([]byte, 0, readBufStart) // the handshake's, then the receive loop's
	if !s.handshake(buf) {
		return
	}
	s.readLoop(buf)
}

func (s *session) finish() {
	s.close("connection closed", closeFlush)
	if s.charID != 0 {
		s.srv.mu.Lock()
		s.srv.removeLogin(s) // a panic may have skipped the handshake's removal
		s.srv.mu.Unlock()
	}
	s.logout(s.reason())
	s.unadmit()
	s.srv.removeConn(s)
	s.log().Debug("session ended", "reason", s.reason())
}

// unadmit gives back the session's MaxPlayers slot, if it holds one. A
// refused or cancelled login gives it back before the client is answered
// (a client that reconnects once it sees the refusal must not find the
// channel full of its own refused attempt); a session that logged in keeps
// it until its logout is done.
func (s *session) unadmit() {
	if !s.admitted {
		return
	}
	s.admitted = false
	s.srv.mu.Lock()
	s.srv.admitted--
	s.srv.mu.Unlock()
}

// refuse answers the handshake with an error and closes the connection.
func (s *session) refuse(reqID uint32, code wire.ErrorCode, msg string) {
	s.refuseWith(reqID, &wire.Error{Code: code, Message: truncate(msg, wire.MaxShort)}, msg)
}

// refuseWith answers the handshake with e and closes the connection (the
// session's reason: "login refused: " + why). The MaxPlayers slot, if the
// session holds one, is given back before the answer; see unadmit.
func (s *session) refuseWith(reqID uint32, e *wire.Error, why string) {
	s.unadmit()
	s.srv.met.add(mHandshakesRefused, 1)
	if e.Channel != 0 {
		s.log().Info("login refused", "code", e.Code.String(), "reason", e.Message, "redirect", e.Channel)
	} else {
		s.log().Info("login refused", "code", e.Code.String(), "reason", e.Message)
	}
	s.reply(reqID, e)
	s.close("login refused: "+why, closeFlush)
}

// loginCancelled counts and logs a login closed (kicked, shut down) while
// it claimed its presence; the client was told why by session.close.
func (s *session) loginCancelled() {
	s.unadmit()
	s.srv.met.add(mHandshakesRefused, 1)
	s.log().Info("login cancelled while claiming presence", "reason", s.reason())
}

// handshake reads the Hello into buf and logs the character in, or refuses
// it; it reports whether the session goes on.
func (s *session) handshake(buf []byte) bool {
	srv := s.srv
	_ = s.conn.SetReadDeadline(time.Now().Add(srv.cfg.HandshakeTimeout))
	f, _, err := wire.ReadFrame(s.conn, buf)
	if err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) {
			srv.met.add(mMalformed, 1)
		}
		s.log().Info("handshake failed", "err", err)
		return false
	}
	_ = s.conn.SetReadDeadline(time.Time{})
	srv.met.add(mFramesIn, 1)
	if f.Type != wire.THello {
		srv.met.add(mMalformed, 1)
		s.refuse(f.ReqID, wire.CodeBadRequest, fmt.Sprintf("first frame must be Hello, got %s", f.Type))
		return false
	}
	var h wire.Hello
	if err := wire.DecodeInto(f.Payload, &h); err != nil {
		srv.met.add(mMalformed, 1)
		s.refuse(f.ReqID, wire.CodeBadRequest, err.Error())
		return false
	}
	if h.Magic != wire.Magic {
		s.refuse(f.ReqID, wire.CodeBadRequest, fmt.Errorf("magic 0x%08x: %w", h.Magic, wire.ErrBadHello).Error())
		return false
	}
	if h.Version != wire.Version {
		s.refuse(f.ReqID, wire.CodeVersion, fmt.Sprintf("protocol version %d not supported (want %d)", h.Version, wire.Version))
		return false
	}

	srv.mu.Lock()
	switch {
	case srv.draining:
		srv.mu.Unlock()
		s.refuseDraining(f.ReqID) // names another channel to reconnect to
		return false
	case srv.admitted >= srv.cfg.MaxPlayers:
		srv.mu.Unlock()
		s.refuse(f.ReqID, wire.CodeServerFull, "channel is full")
		return false
	}
	srv.admitted++
	s.admitted = true
	srv.mu.Unlock()

	ctx, cancel := context.WithTimeout(srv.baseCtx, requestTimeout)
	ss, err := srv.store.UseSignSession(ctx, h.Token, srv.cfg.ID)
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrForbidden):
			s.refuse(f.ReqID, wire.CodeUnauthorized, "unknown or expired token")
		default:
			srv.met.add(mStoreErrors, 1)
			code := wire.CodeInternal
			if errors.Is(err, store.ErrUnavailable) {
				code = wire.CodeUnavailable
			}
			s.log().Warn("login: sign session check failed", "err", err)
			s.refuse(f.ReqID, code, "cannot check the token now; try again")
		}
		return false
	}
	if ss.CharID == 0 {
		s.refuse(f.ReqID, wire.CodeUnauthorized, "token is not bound to a character")
		return false
	}
	s.charID, s.name = ss.CharID, truncate(ss.CharName, wire.MaxName)

	// From here until the session is in byChar (or ends) Disconnect finds
	// it in srv.logins: a kick arriving once the registry has recorded the
	// presence, before SessionOnline returns, cancels this login instead of
	// being told the character is not here.
	kctx, kcancel := context.WithTimeout(context.WithValue(srv.baseCtx, loginKey{}, s), srv.cfg.KickTimeout)
	defer kcancel()
	srv.mu.Lock()
	srv.addLogin(s)
	srv.mu.Unlock()
	s.mu.Lock()
	s.cancelClaim = kcancel
	s.mu.Unlock()
	if s.isClosing() {
		kcancel()
	}
	err = srv.reg.SessionOnline(kctx, s.snapshot())
	kcancel()
	// Drop the cancel function: it keeps the claim's context alive for the
	// session's whole life otherwise (a few hundred bytes per idle session).
	s.mu.Lock()
	s.cancelClaim = nil
	s.mu.Unlock()
	if err != nil {
		srv.mu.Lock()
		srv.removeLogin(s)
		srv.mu.Unlock()
		if s.isClosing() {
			s.loginCancelled()
			return false
		}
		srv.met.add(mRegistryErrors, 1)
		s.log().Warn("login: presence claim failed", "err", err)
		msg := "cannot register presence now; try again"
		if errors.Is(err, registry.ErrKickUnconfirmed) {
			msg = "previous session did not log out in time; try again"
		}
		s.refuse(f.ReqID, wire.CodeUnavailable, msg)
		return false
	}
	s.claimed = true
	srv.mu.Lock()
	srv.removeLogin(s)
	if s.isClosing() {
		srv.mu.Unlock()
		s.loginCancelled()
		return false
	}
	srv.byChar[s.charID] = s
	srv.mu.Unlock()
	s.published = true
	srv.met.sessionsAdd(1)

	ctx, cancel = context.WithTimeout(srv.baseCtx, requestTimeout)
	ch, err := srv.store.LoadCharacter(ctx, s.charID)
	cancel()
	if err != nil {
		srv.met.add(mStoreErrors, 1)
		s.log().Warn("login: load character failed", "err", err)
		code, msg := storeCode(err)
		s.refuse(f.ReqID, code, "cannot load character: "+msg)
		return false
	}
	s.loaded = true
	s.mu.Lock()
	s.guildID = ch.GuildID
	s.mu.Unlock()

	ctx, cancel = context.WithTimeout(srv.baseCtx, requestTimeout)
	unread, err := srv.store.UnreadMail(ctx, s.charID)
	if err != nil {
		srv.met.add(mStoreErrors, 1)
		s.log().Warn("login: unread mail count failed", "err", err)
		unread = 0
	}
	if ch.GuildID != 0 {
		s.publishPresence(ctx)
	}
	cancel()
	now := srv.now()
	s.playSince = now
	s.lastRecv.Store(now.UnixNano())
	s.reply(f.ReqID, &wire.Welcome{
		Version:    wire.Version,
		CharID:     s.charID,
		Name:       s.name,
		ChannelID:  srv.cfg.ID,
		ServerTime: now.UnixNano(),
		UnreadMail: uint16(min(unread, 0xFFFF)),
		GuildID:    ch.GuildID,
	})
	s.log().Info("login", "name", s.name)
	return true
}

// readLoop reads and dispatches frames into buf (grown as needed, and
// dropped back to readBufStart after a frame above readBufKeep) until the
// session closes.
func (s *session) readLoop(buf []byte) {
	srv := s.srv
	for {
		f, nb, err := wire.ReadFrame(s.conn, buf)
		buf = nb
		if err != nil {
			switch {
			case errors.Is(err, wire.ErrFrameTooLarge):
				s.protocolError(0, err)
			case s.isClosing():
			case errors.Is(err, io.EOF):
				s.close("client closed the connection", closeFlush)
			default:
				s.log().Info("read failed; closing session", "err", err)
				s.close("read error", closeFlush)
			}
			return
		}
		s.lastRecv.Store(srv.now().UnixNano())
		srv.met.add(mFramesIn, 1)
		m, err := f.Decode()
		if err != nil {
			s.protocolError(f.ReqID, err)
			return
		}
		if err := s.dispatch(f.ReqID, m); err != nil {
			s.protocolError(f.ReqID, err)
			return
		}
		if cap(buf) > readBufKeep {
			buf = make([]byte, 0, readBufStart)
		}
		if s.isClosing() {
			return
		}
	}
}

// protocolError closes the session for a malformed, oversized or unknown
// frame, logging why.
func (s *session) protocolError(reqID uint32, err error) {
	s.srv.met.add(mMalformed, 1)
	s.log().Warn("protocol error; closing session", "err", err)
	s.replyErr(reqID, wire.CodeBadRequest, err.Error())
	s.close("protocol error", closeFlush)
}

// logout runs once: see the package documentation.
func (s *session) logout(reason string) {
	s.logoutOne.Do(func() {
		defer close(s.loggedOut)
		if !s.claimed {
			return
		}
		srv := s.srv
		defer func() {
			srv.mu.Lock()
			if srv.byChar[s.charID] == s {
				delete(srv.byChar, s.charID)
			}
			srv.mu.Unlock()
			if s.published {
				srv.met.sessionsAdd(-1)
			}
		}()
		defer func() {
			srv.recovered("logout", recover(), "char", s.charID)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()

		lastStage := s.curID()
		s.leaveStage(ctx)
		s.dropReservations(ctx)
		// Semaphores are released before the save: other players waiting
		// for them need not wait for a slow store too.
		srv.releaseLocalAll(s)
		srv.reg.ReleaseAll(ctx, s.charID)
		if s.loaded {
			save := store.CharacterSave{CharID: s.charID, Playtime: srv.now().Sub(s.playSince), LastStage: lastStage}
			if err := s.saveWithRetry(save); err != nil {
				srv.met.add(mLogoutSavesFailed, 1)
				s.log().Error("logout save failed", "err", err)
			}
		}
		// The presence goes only after the save: until then a login of
		// the same character elsewhere finds it and kicks this session,
		// which makes it wait (Disconnect waits on loggedOut) for the save
		// before it loads the character. The session also stays in
		// byChar (removed by the deferred call above) for that Disconnect.
		// A fresh context: the save may have used up requestTimeout.
		octx, ocancel := context.WithTimeout(context.Background(), requestTimeout)
		s.pubMu.Lock()
		s.offline = true
		srv.reg.SessionOffline(octx, s.charID, srv.cfg.ID)
		s.pubMu.Unlock()
		ocancel()
		s.log().Info("logout", "reason", reason)
	})
}

// saveWithRetry saves, retrying transient errors until SaveTimeout.
func (s *session) saveWithRetry(save store.CharacterSave) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.SaveTimeout)
	defer cancel()
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.srv.store.SaveCharacter(ctx, save)
		if err == nil {
			return nil
		}
		s.srv.met.add(mStoreErrors, 1)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrTooLarge) || errors.Is(err, store.ErrForbidden) {
			return fmt.Errorf("save character %d: %w", save.CharID, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("save character %d: gave up after %d attempts: %w", save.CharID, attempt, err)
		case <-t.C:
		}
		backoff = min(backoff*2, time.Second)
	}
}
