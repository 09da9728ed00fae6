// Package client is the Go client library of guildhall: the HTTP sign-in
// API (SignUp, SignIn, Channels) and a channel connection (Dial, Conn) that
// speaks binary protocol v1 (package wire, docs/protocol.md).
//
// A Conn runs two goroutines: a reader that matches responses to waiting
// requests by request ID and queues pushes, and an event forwarder that
// hands pushes to the channel returned by Events. Any number of goroutines
// may call a Conn's methods at once; writes are serialised and coalesced.
//
// Event policy: the reader never waits for the consumer of Events, so
// responses keep flowing (no deadlock when a goroutine that handles events
// also sends requests). Pushes the consumer has not taken yet are queued in
// memory up to the event limit (WithEventLimit); past it the connection is
// closed and Err reports ErrEventOverflow, the same way the server drops a
// client that cannot keep up. A program that does not want events must
// still drain Events (or use a small limit and accept the disconnect).
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// Defaults of the options.
const (
	// DefaultEventBuffer is the capacity of the Events channel.
	DefaultEventBuffer = 256
	// DefaultEventLimit is how many pushes may wait for the consumer
	// (beyond the Events channel) before the connection is closed.
	DefaultEventLimit = 64 * 1024
	// DefaultWriteTimeout bounds one socket write.
	DefaultWriteTimeout = 10 * time.Second
)

// maxKeptWriteBuf is the largest write buffer kept for reuse.
const maxKeptWriteBuf = 256 * 1024

// Sentinel errors.
var (
	// ErrClosed: the connection was closed by Close (or Logout).
	ErrClosed = errors.New("client: connection closed")
	// ErrEventOverflow: more than the event limit of pushes waited for the
	// consumer of Events, so the connection was closed.
	ErrEventOverflow = errors.New("client: event queue limit reached; events not consumed")
	// ErrUnexpected: the server answered with a message of an unexpected type.
	ErrUnexpected = errors.New("client: unexpected response")
	// ErrServerClosed: the server closed the connection (without Kicked).
	ErrServerClosed = errors.New("client: connection closed by server")
)

// KickedError is Conn.Err after the server sent Kicked and closed.
type KickedError struct{ Reason string }

func (e *KickedError) Error() string { return "client: kicked: " + e.Reason }

// Option configures Dial.
type Option func(*options)

type options struct {
	eventBuffer  int
	eventLimit   int
	writeTimeout time.Duration
	logger       *slog.Logger
}

// WithEventBuffer sets the capacity of the Events channel (default
// DefaultEventBuffer; values below 1 mean 1).
func WithEventBuffer(n int) Option {
	return func(o *options) { o.eventBuffer = max(n, 1) }
}

// WithEventLimit sets how many pushes may queue behind the Events channel
// before the connection is closed with ErrEventOverflow (default
// DefaultEventLimit; values below 1 mean 1).
func WithEventLimit(n int) Option {
	return func(o *options) { o.eventLimit = max(n, 1) }
}

// WithWriteTimeout bounds each socket write (default DefaultWriteTimeout).
// A write that times out closes the connection.
func WithWriteTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.writeTimeout = d
		}
	}
}

// WithLogger sets the logger for connection events (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

type result struct{ msg wire.Message }

// Conn is a connection to a channel server, logged in. Create it with Dial
// and release it with Close (or Logout).
type Conn struct {
	nc      net.Conn
	opts    options
	welcome wire.Welcome

	wmu   sync.Mutex // held while writing to nc; serialises writers
	qmu   sync.Mutex // guards wq, wfree, werr
	wq    []byte     // frames queued for the next write
	wfree []byte     // spare buffer
	werr  error      // first write error

	mu          sync.Mutex // guards the fields below
	pending     map[uint32]chan result
	nextID      uint32
	err         error
	kicked      *KickedError
	evq         []wire.Message
	readerEnded bool
	loggingOut  bool // Logout sent: the server's close is expected

	evSignal  chan struct{} // cap 1: evq grew or the reader ended
	events    chan wire.Message
	done      chan struct{} // closed when the connection has ended
	closing   chan struct{} // closed by Close
	doneOnce  sync.Once
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Dial connects to the channel server at addr (host:port), sends Hello
// with token (from SignIn) and waits for the server's answer. On Welcome it
// returns the logged-in Conn; if the server refuses it returns the
// *wire.Error (CodeUnauthorized, CodeServerFull, CodeDraining, ...). ctx
// bounds the dial and the handshake only.
func Dial(ctx context.Context, addr, token string, opts ...Option) (*Conn, error) {
	o := options{
		eventBuffer:  DefaultEventBuffer,
		eventLimit:   DefaultEventLimit,
		writeTimeout: DefaultWriteTimeout,
		logger:       slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if len(token) > wire.MaxShort {
		return nil, fmt.Errorf("client: token of %d bytes, max %d: %w", len(token), wire.MaxShort, wire.ErrLimit)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	welcome, err := handshake(ctx, nc, token)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &Conn{
		nc:       nc,
		opts:     o,
		welcome:  welcome,
		pending:  make(map[uint32]chan result),
		evSignal: make(chan struct{}, 1),
		events:   make(chan wire.Message, o.eventBuffer),
		done:     make(chan struct{}),
		closing:  make(chan struct{}),
	}
	c.wg.Add(2)
	go c.readLoop()
	go c.eventLoop()
	return c, nil
}

// handshake sends Hello and reads the answer, aborting when ctx ends.
func handshake(ctx context.Context, nc net.Conn, token string) (wire.Welcome, error) {
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	frame, err := wire.Encode(1, &wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: token})
	if err == nil {
		_, err = nc.Write(frame)
	}
	var f wire.Frame
	if err == nil {
		f, _, err = wire.ReadFrame(nc, nil)
	}
	if !stop() {
		return wire.Welcome{}, fmt.Errorf("client: handshake: %w", ctx.Err())
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %w", ErrServerClosed, err)
		}
		return wire.Welcome{}, fmt.Errorf("client: handshake: %w", err)
	}
	nc.SetDeadline(time.Time{})
	m, err := f.Decode()
	if err != nil {
		return wire.Welcome{}, fmt.Errorf("client: handshake: %w", err)
	}
	switch m := m.(type) {
	case *wire.Welcome:
		if m.Version != wire.Version {
			return wire.Welcome{}, fmt.Errorf("client: handshake: server speaks version %d, want %d: %w", m.Version, wire.Version, ErrUnexpected)
		}
		return *m, nil
	case *wire.Error:
		return wire.Welcome{}, m
	default:
		return wire.Welcome{}, fmt.Errorf("client: handshake: got %s: %w", m.Type(), ErrUnexpected)
	}
}

// Welcome returns the server's Welcome: the character, channel, server
// time, unread mail count and guild.
func (c *Conn) Welcome() wire.Welcome { return c.welcome }

// Events returns the channel of pushes (request ID 0): *wire.StageJoined,
// *wire.StageLeft, *wire.CastMsg, *wire.MailNotify, *wire.Kicked,
// *wire.Notice, *wire.GuildEvent and asynchronous *wire.Error (for example
// the failure of a CastNoAck). The channel is closed after the connection
// ends and every push received before the end has been delivered, or at
// once when Close is called. See the package doc for the overflow policy.
func (c *Conn) Events() <-chan wire.Message { return c.events }

// Done returns a channel closed when the connection has ended, for any
// reason; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is up, then why it ended:
// ErrClosed after Close or Logout, a *KickedError when the server kicked the
// session, ErrEventOverflow, or a wrapped ErrServerClosed or I/O error.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection without logging out (the server treats it as
// a disconnect and still saves the character) and waits for the Conn's
// goroutines to exit. Pending requests fail with ErrClosed. Close is
// idempotent and always returns nil.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.fail(ErrClosed)
	})
	c.wg.Wait()
	return nil
}

// fail ends the connection with err unless it has ended already.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		if c.kicked != nil {
			c.err = c.kicked
		} else {
			c.err = err
		}
	}
	c.mu.Unlock()
	c.doneOnce.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		c.readerEnded = true
		c.mu.Unlock()
		c.signalEvents()
	}()
	var buf []byte
	for {
		f, nb, err := wire.ReadFrame(c.nc, buf)
		buf = nb
		if err != nil {
			c.mu.Lock()
			loggingOut := c.loggingOut
			c.mu.Unlock()
			if loggingOut {
				err = ErrClosed
			} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w: %w", ErrServerClosed, err)
			} else {
				err = fmt.Errorf("client: read: %w", err)
			}
			c.fail(err)
			return
		}
		m, err := f.Decode()
		if err != nil {
			c.opts.logger.Warn("client: bad frame from server", "type", f.Type, "req_id", f.ReqID, "err", err)
			c.fail(fmt.Errorf("client: bad frame from server: %w", err))
			return
		}
		if f.ReqID != 0 {
			c.mu.Lock()
			ch := c.pending[f.ReqID]
			delete(c.pending, f.ReqID)
			c.mu.Unlock()
			if ch == nil {
				// The request was abandoned (ctx ended); drop its answer.
				c.opts.logger.Debug("client: response to abandoned request", "type", f.Type, "req_id", f.ReqID)
				continue
			}
			ch <- result{msg: m} // cap 1, one send per request: never blocks
			continue
		}
		c.mu.Lock()
		if k, ok := m.(*wire.Kicked); ok && c.kicked == nil {
			c.kicked = &KickedError{Reason: k.Reason}
		}
		overflow := len(c.evq) >= c.opts.eventLimit
		if !overflow {
			c.evq = append(c.evq, m)
		}
		c.mu.Unlock()
		if overflow {
			c.opts.logger.Warn("client: event queue limit reached, closing", "limit", c.opts.eventLimit)
			c.fail(ErrEventOverflow)
			return
		}
		c.signalEvents()
	}
}

func (c *Conn) signalEvents() {
	select {
	case c.evSignal <- struct{}{}:
	default:
	}
}

func (c *Conn) eventLoop() {
	defer c.wg.Done()
	defer close(c.events)
	for {
		c.mu.Lock()
		if len(c.evq) == 0 {
			ended := c.readerEnded
			c.evq = nil
			c.mu.Unlock()
			if ended {
				return
			}
			select {
			case <-c.evSignal:
			case <-c.closing:
				return
			}
			continue
		}
		m := c.evq[0]
		c.evq[0] = nil
		c.evq = c.evq[1:]
		c.mu.Unlock()
		select {
		case c.events <- m:
		case <-c.closing:
			return
		}
	}
}

// Request sends m with a fresh request ID and waits for the answer. A
// server error is returned as the *wire.Error itself (use errors.As or a
// type assertion); any other answer is returned as is. If ctx ends first
// the request is abandoned (its late answer is dropped) and ctx's error is
// returned wrapped; if the connection ends first, Err's value is returned.
func (c *Conn) Request(ctx context.Context, m wire.Message) (wire.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("client: %s: %w", m.Type(), err)
	}
	ch := make(chan result, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	id := c.allocID()
	c.pending[id] = ch
	c.mu.Unlock()

	if err := c.write(id, m); err != nil {
		c.forget(id)
		return nil, err
	}
	select {
	case r := <-ch:
		return answer(r.msg)
	case <-ctx.Done():
		c.forget(id)
		return nil, fmt.Errorf("client: %s: %w", m.Type(), ctx.Err())
	case <-c.done:
		// The answer may have arrived just before the close.
		select {
		case r := <-ch:
			return answer(r.msg)
		default:
			return nil, c.Err()
		}
	}
}

// Send sends m with request ID 0: the server sends no OK, and an error (if
// any) arrives on Events as a *wire.Error. Send returns once m is written.
func (c *Conn) Send(m wire.Message) error {
	if err := c.Err(); err != nil {
		return err
	}
	return c.write(0, m)
}

func answer(m wire.Message) (wire.Message, error) {
	if e, ok := m.(*wire.Error); ok {
		return nil, e
	}
	return m, nil
}

// allocID returns an unused non-zero request ID. c.mu is held.
func (c *Conn) allocID() uint32 {
	for {
		c.nextID++
		if c.nextID == 0 {
			continue
		}
		if _, busy := c.pending[c.nextID]; !busy {
			return c.nextID
		}
	}
}

func (c *Conn) forget(id uint32) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// write queues the frame and writes the queue unless another writer does;
// it returns once the frame is on the socket. Frames queued while a write
// is in progress go out together in the next write.
func (c *Conn) write(id uint32, m wire.Message) error {
	c.qmu.Lock()
	if c.werr != nil {
		c.qmu.Unlock()
		return c.writeErr()
	}
	q, err := wire.AppendFrame(c.wq, id, m)
	c.wq = q
	c.qmu.Unlock()
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}

	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.qmu.Lock()
	if c.werr != nil {
		c.qmu.Unlock()
		return c.writeErr()
	}
	buf := c.wq
	c.wq, c.wfree = c.wfree[:0], nil
	c.qmu.Unlock()
	if len(buf) == 0 {
		return nil // written by the previous holder of wmu
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.opts.writeTimeout))
	_, werr := c.nc.Write(buf)
	c.qmu.Lock()
	if cap(buf) <= maxKeptWriteBuf {
		c.wfree = buf[:0]
	}
	if werr != nil && c.werr == nil {
		c.werr = werr
	}
	c.qmu.Unlock()
	if werr != nil {
		c.fail(fmt.Errorf("client: write: %w", werr))
		return c.writeErr()
	}
	return nil
}

// writeErr is the error a writer reports once writing has failed: why the
// connection ended.
func (c *Conn) writeErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return fmt.Errorf("client: write: %w", c.werr)
}
