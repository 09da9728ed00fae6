package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// Sentinel errors of Server.
var (
	// ErrServerClosed: Start or Serve was called on a server that is shutting
	// down or has shut down.
	ErrServerClosed = errors.New("channel: server closed")
	// ErrAlreadyStarted: Start or Serve was called twice.
	ErrAlreadyStarted = errors.New("channel: server already started")
	// ErrDeps: a required dependency is missing.
	ErrDeps = errors.New("channel: missing dependency")
)

// Deps are a Server's collaborators.
type Deps struct {
	Registry registry.ChannelRegistry // required
	Store    Store                    // required
	Logger   *slog.Logger             // nil: slog.Default()
	Metrics  *Metrics                 // nil: no metrics
	Now      func() time.Time         // nil: time.Now

	// handlerHook, if set (tests only), runs before each request handler in
	// the session's receive goroutine.
	handlerHook func(charID uint32, t wire.Type)
	// writerHook, if set (tests only), runs when a send goroutine exits;
	// retired says it exited because its queue stayed empty (the session
	// goes on).
	writerHook func(retired bool)
}

// Server is one channel: a listener, its sessions, stages and local
// semaphores. Create it with New, start it with Start, stop it with Shutdown
// or Close. A Server implements registry.Channel. All methods are safe for
// concurrent use.
type Server struct {
	cfg   Config
	reg   registry.ChannelRegistry
	store Store
	log   *slog.Logger
	met   *Metrics
	now   func() time.Time
	hook  func(charID uint32, t wire.Type)
	// writerHook: Deps.writerHook.
	writerHook func(retired bool)

	baseCtx    context.Context // cancelled when Shutdown gives up waiting
	baseCancel context.CancelFunc

	done     chan struct{} // closed once when shutdown begins
	doneOnce sync.Once

	// wbufs holds the send goroutines' write buffers (*[]byte of cap
	// writeChunk) between batches, so an idle session holds none.
	wbufs sync.Pool

	goMu    sync.Mutex // guards goStop and the WaitGroup's Add against Wait
	goStop  bool
	wg      sync.WaitGroup
	stopOne sync.Once
	stopErr error

	mu       sync.Mutex
	ln       net.Listener
	addr     string
	started  bool
	draining bool
	lnClosed bool                  // the listener was closed by Drain or Shutdown
	conns    map[*session]struct{} // every open connection, handshaking or not
	byChar   map[uint32]*session   // logged-in sessions
	// logins holds the sessions claiming their character's presence
	// (registry.SessionOnline in progress, not yet in byChar), so that
	// Disconnect can cancel them.
	logins   map[uint32]map[*session]struct{}
	admitted int // sessions past the MaxPlayers check
	stages   map[string]*stage
	emptyCh  chan struct{} // closed when conns becomes empty (Drain waits on it)

	semaMu sync.Mutex
	semas  map[string]*localSema
}

var _ registry.Channel = (*Server)(nil)

// New validates cfg, applies its defaults and returns a Server that is not
// yet listening.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Registry == nil {
		return nil, fmt.Errorf("%w: Deps.Registry", ErrDeps)
	}
	if deps.Store == nil {
		return nil, fmt.Errorf("%w: Deps.Store", ErrDeps)
	}
	cfg = cfg.withDefaults()
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		reg:        deps.Registry,
		store:      deps.Store,
		log:        log.With("channel", cfg.ID),
		met:        deps.Metrics,
		now:        now,
		hook:       deps.handlerHook,
		writerHook: deps.writerHook,
		baseCtx:    ctx,
		baseCancel: cancel,
		done:       make(chan struct{}),
		conns:      make(map[*session]struct{}),
		byChar:     make(map[uint32]*session),
		logins:     make(map[uint32]map[*session]struct{}),
		stages:     make(map[string]*stage),
		semas:      make(map[string]*localSema),
	}
	for _, id := range cfg.TownStages {
		s.stages[id] = newStage(id, true, cfg.DefaultStageMax, "", 0)
	}
	return s, nil
}

// ID returns the channel ID.
func (s *Server) ID() uint16 { return s.cfg.ID }

// Start binds the listener, registers the channel with the registry and
// starts accepting. A bind or registration error is returned and leaves
// nothing running.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("channel %d: listen %s: %w", s.cfg.ID, s.cfg.ListenAddr, err)
	}
	if err := s.Serve(ctx, ln); err != nil {
		_ = ln.Close()
		return err
	}
	return nil
}

// Serve is Start with a listener of the caller's: it registers the channel
// and starts accepting on ln in the background. The server owns ln from
// then on and closes it on Shutdown. On error ln is not closed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrAlreadyStarted
	}
	select {
	case <-s.done:
		s.mu.Unlock()
		return ErrServerClosed
	default:
	}
	s.started = true
	s.ln = ln
	s.addr = s.cfg.AdvertiseAddr
	if s.addr == "" {
		s.addr = ln.Addr().String()
	}
	s.mu.Unlock()

	if err := s.reg.Register(ctx, s); err != nil {
		s.met.add(mRegistryErrors, 1)
		s.mu.Lock()
		s.started = false
		s.ln = nil
		s.mu.Unlock()
		return fmt.Errorf("channel %d: register: %w", s.cfg.ID, err)
	}
	for _, snap := range s.Stages("", 0) {
		s.reg.StageUpdated(ctx, snap)
	}
	if !s.spawn(func() { s.acceptLoop(ln) }) || !s.spawn(s.idleSweeper) {
		return ErrServerClosed
	}
	s.log.Info("channel started", "addr", s.addr, "listen", ln.Addr().String())
	return nil
}

// Addr returns the advertised address ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// spawn runs f in a goroutine counted by the server's WaitGroup. It returns
// false, without running f, once Shutdown has begun waiting.
func (s *Server) spawn(f func()) bool {
	s.goMu.Lock()
	defer s.goMu.Unlock()
	if s.goStop {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// recovered logs and counts a recovered panic; it reports whether there was one.
func (s *Server) recovered(where string, r any, attrs ...any) bool {
	if r == nil {
		return false
	}
	s.met.add(mPanics, 1)
	s.log.Error("panic recovered", append(attrs, "where", where, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))...)
	return true
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer func() { s.recovered("accept loop", recover()) }()
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			byUs := s.lnClosed
			s.mu.Unlock()
			if byUs {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.met.add(mAcceptErrors, 1)
				t := time.NewTimer(backoff)
				select {
				case <-s.done:
					t.Stop()
					return
				case <-t.C:
				}
				backoff = min(backoff*2, time.Second)
				continue
			}
			s.met.add(mAcceptErrors, 1)
			s.log.Error("listener failed; channel stops accepting, sessions keep running", "err", err)
			return
		}
		backoff = 5 * time.Millisecond
		s.startSession(conn)
	}
}

func (s *Server) startSession(conn net.Conn) {
	sess := newSession(s, conn)
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		_ = conn.Close()
		return
	default:
	}
	s.conns[sess] = struct{}{}
	s.mu.Unlock()
	// The send goroutine starts with the first frame queued (startWriter).
	if !s.spawn(sess.run) {
		sess.close("server shutting down", closeNow)
		s.removeConn(sess)
	}
}

func (s *Server) removeConn(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, sess)
	if len(s.conns) == 0 && s.emptyCh != nil {
		close(s.emptyCh)
		s.emptyCh = nil
	}
}

// idleSweeper closes sessions that sent nothing for IdleTimeout.
func (s *Server) idleSweeper() {
	defer func() { s.recovered("idle sweeper", recover()) }()
	every := s.cfg.IdleTimeout / 4
	if every < 5*time.Millisecond {
		every = 5 * time.Millisecond
	}
	if every > time.Second {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var snap []*session
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		snap = snap[:0]
		s.mu.Lock()
		for _, sess := range s.byChar {
			snap = append(snap, sess)
		}
		s.mu.Unlock()
		limit := s.now().Add(-s.cfg.IdleTimeout).UnixNano()
		for _, sess := range snap {
			if sess.lastRecv.Load() < limit {
				sess.close("idle timeout", closeKick)
			}
		}
		clear(snap)
	}
}

// Info returns the channel's identity, address and population.
func (s *Server) Info() registry.ChannelInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return registry.ChannelInfo{
		ID:         s.cfg.ID,
		Name:       s.cfg.Name,
		ReplicaID:  s.cfg.ReplicaID,
		Addr:       s.addr,
		Players:    len(s.byChar),
		MaxPlayers: s.cfg.MaxPlayers,
		Draining:   s.draining,
	}
}

// Broadcast queues frame (shared, never modified) to every logged-in
// session except exceptChar.
func (s *Server) Broadcast(frame []byte, exceptChar uint32) {
	s.met.add(mBroadcasts, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.byChar {
		if id != exceptChar {
			sess.send(frame)
		}
	}
}

// Deliver queues frame to those of charIDs logged in here and returns them.
func (s *Server) Deliver(charIDs []uint32, frame []byte) []uint32 {
	var out []uint32
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range charIDs {
		if sess := s.byChar[id]; sess != nil {
			sess.send(frame)
			out = append(out, id)
		}
	}
	return out
}

// loginKey is the context key under which a session's handshake passes
// itself to registry.SessionOnline, so that the Disconnect that call makes
// on this server (a duplicate login on the same channel) spares it.
type loginKey struct{}

// addLogin records sess as claiming its character; call with mu held.
func (s *Server) addLogin(sess *session) {
	m := s.logins[sess.charID]
	if m == nil {
		m = make(map[*session]struct{})
		s.logins[sess.charID] = m
	}
	m[sess] = struct{}{}
}

// removeLogin forgets sess's claim, if any; call with mu held.
func (s *Server) removeLogin(sess *session) {
	if m := s.logins[sess.charID]; m != nil {
		delete(m, sess)
		if len(m) == 0 {
			delete(s.logins, sess.charID)
		}
	}
}

// Disconnect closes the character's session (telling it reason with
// wire.Kicked) and waits until its logout, save included, is done or ctx
// ends. A login of the character still claiming its presence here (inside
// registry.SessionOnline) is cancelled the same way: it is told Kicked and
// closed without loading the character, and Disconnect waits for it to end
// too, so a registry that has already recorded that login's presence can
// drop it safely. The one exception is the login whose own SessionOnline
// made this call (its context says so): it is the one kicking. Disconnect
// reports whether the character was online or logging in here.
func (s *Server) Disconnect(ctx context.Context, charID uint32, reason string) (bool, error) {
	self, _ := ctx.Value(loginKey{}).(*session)
	s.mu.Lock()
	var targets []*session
	if sess := s.byChar[charID]; sess != nil {
		targets = append(targets, sess)
	}
	for sess := range s.logins[charID] {
		if sess != self {
			targets = append(targets, sess)
		}
	}
	s.mu.Unlock()
	if len(targets) == 0 {
		return false, nil
	}
	for _, sess := range targets {
		sess.close(reason, closeKick)
	}
	for _, sess := range targets {
		select {
		case <-sess.loggedOut:
		case <-ctx.Done():
			return true, fmt.Errorf("channel %d: disconnect %d: logout not finished: %w", s.cfg.ID, charID, ctx.Err())
		}
	}
	return true, nil
}

// Sessions returns snapshots of logged-in sessions passing f, sorted by
// character ID, at most max (max <= 0: all).
func (s *Server) Sessions(f registry.SessionFilter, max int) []registry.SessionSnapshot {
	s.mu.Lock()
	all := make([]*session, 0, len(s.byChar))
	for _, sess := range s.byChar {
		all = append(all, sess)
	}
	s.mu.Unlock()
	out := make([]registry.SessionSnapshot, 0, len(all))
	for _, sess := range all {
		if snap := sess.snapshot(); f.Match(snap) {
			out = append(out, snap)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CharID < out[j].CharID })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// Stages returns snapshots of this channel's stages whose ID has prefix,
// sorted by ID, at most max (max <= 0: all).
func (s *Server) Stages(prefix string, max int) []registry.StageSnapshot {
	s.mu.Lock()
	list := make([]*stage, 0, len(s.stages))
	for id, st := range s.stages {
		if strings.HasPrefix(id, prefix) {
			list = append(list, st)
		}
	}
	addr := s.addr
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	if max > 0 && len(list) > max {
		list = list[:max]
	}
	out := make([]registry.StageSnapshot, 0, len(list))
	for _, st := range list {
		out = append(out, st.snapshot(s.cfg.ReplicaID, s.cfg.ID, addr))
	}
	return out
}

// NotifyMail pushes a wire.MailNotify to the character if logged in here.
func (s *Server) NotifyMail(charID uint32, n registry.MailNotice) bool {
	s.mu.Lock()
	sess := s.byChar[charID]
	s.mu.Unlock()
	if sess == nil {
		return false
	}
	frame, err := wire.Encode(0, &wire.MailNotify{MailID: n.MailID, FromID: n.FromID, FromName: truncate(n.FromName, wire.MaxName), Subject: truncate(n.Subject, wire.MaxShort)})
	if err != nil {
		s.log.Error("encode mail notify", "char", charID, "err", err)
		return false
	}
	sess.send(frame)
	return true
}

// Drain stops accepting connections, marks the channel draining (refusing
// new logins with wire.CodeDraining), pushes notice to every session and
// waits, passively, until every session has left or ctx ends.
func (s *Server) Drain(ctx context.Context, notice string) {
	s.mu.Lock()
	s.draining = true
	s.lnClosed = true
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	if notice != "" {
		if frame, err := wire.Encode(0, &wire.Notice{Text: truncate(notice, wire.MaxText)}); err == nil {
			s.Broadcast(frame, 0)
		}
	}
	_ = s.waitEmpty(ctx)
}

// waitEmpty waits until the server has no connection, or ctx ends.
func (s *Server) waitEmpty(ctx context.Context) error {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.emptyCh == nil {
		s.emptyCh = make(chan struct{})
	}
	ch := s.emptyCh
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) signalDone() { s.doneOnce.Do(func() { close(s.done) }) }

// Shutdown stops accepting, closes every session (wire.Kicked "server
// shutting down"), lets each logout save, waits for every goroutine of the
// server, and unregisters the channel. If ctx ends first, connections are
// force-closed and in-flight requests cancelled, and Shutdown still waits
// for the goroutines (logout saves stay bounded by Config.SaveTimeout).
// Shutdown is idempotent: later and concurrent calls wait for the first and
// return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOne.Do(func() { s.stopErr = s.shutdown(ctx, false) })
	return s.stopErr
}

// Close is Shutdown with an already-cancelled context: sessions are
// force-closed (their logouts still save) and Close returns once every
// goroutine has exited. Force-closing is what Close is for, so it returns
// nil (or the result of an earlier Shutdown).
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.stopOne.Do(func() { s.stopErr = s.shutdown(ctx, true) })
	return s.stopErr
}

func (s *Server) shutdown(ctx context.Context, force bool) error {
	s.mu.Lock()
	s.draining = true
	s.lnClosed = true
	ln := s.ln
	started := s.started
	s.mu.Unlock()
	s.signalDone()
	if ln != nil {
		_ = ln.Close()
	}
	for _, sess := range s.connSnapshot() {
		sess.close("server shutting down", closeKick)
	}

	all := make(chan struct{})
	go func() {
		// Not counted: it only waits, and Shutdown waits for it below.
		s.goMu.Lock()
		s.goStop = true
		s.goMu.Unlock()
		s.wg.Wait()
		close(all)
	}()
	var err error
	select {
	case <-all:
	default:
		select {
		case <-all:
		case <-ctx.Done():
			if !force {
				err = fmt.Errorf("channel %d: shutdown: sessions force-closed: %w", s.cfg.ID, ctx.Err())
			}
			s.log.Warn("shutdown deadline reached; force-closing sessions", "err", ctx.Err())
			s.baseCancel()
			for _, sess := range s.connSnapshot() {
				sess.close("server shutting down", closeNow)
			}
			<-all
		}
	}
	s.baseCancel()
	if started {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		s.reg.Unregister(uctx, s.cfg.ID)
		cancel()
	}
	s.log.Info("channel stopped")
	return err
}

func (s *Server) connSnapshot() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.conns))
	for sess := range s.conns {
		out = append(out, sess)
	}
	return out
}

func truncate(str string, n int) string {
	if len(str) <= n {
		return str
	}
	// cut on a rune boundary
	for n > 0 && n < len(str) && str[n]&0xC0 == 0x80 {
		n--
	}
	return str[:n]
}
