package loadgen

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// errBotClosed: the bot's connection is closed.
var errBotClosed = errors.New("loadgen: connection closed")

// castHandler receives the opaque payload of every CastMsg a bot reads. It
// runs on the bot's reader goroutine; payload is valid only during the call.
type castHandler func(b *bot, scope uint8, sender uint32, payload []byte)

// response is a copy of a frame answering a request.
type response struct {
	typ     wire.Type
	payload []byte
}

// bot is one player connection speaking wire directly: one reader goroutine
// demultiplexes responses by request ID and hands casts to the scenario;
// writes are serialised by wmu, one write() per frame.
type bot struct {
	idx     int
	replica int
	charID  uint32
	name    string
	addr    string
	conn    net.Conn
	inbox   Inbox // written only by the reader goroutine

	onCast       castHandler
	writeTimeout time.Duration

	wmu sync.Mutex

	pmu     sync.Mutex
	pending map[uint32]chan response
	nextReq atomic.Uint32

	closing   atomic.Bool
	done      chan struct{}
	err       error // why the reader stopped; read after done
	kicked    atomic.Bool
	asyncErrs atomic.Int64
}

// dialBot connects to a channel, performs the handshake and starts the reader.
// The reader goroutine is tracked by wg.
func dialBot(ctx context.Context, addr, token string, idx, replica int, onCast castHandler, writeTimeout time.Duration, wg *sync.WaitGroup) (*bot, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	hello, err := wire.Encode(0, &wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: token})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("encode hello: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send hello to %s: %w", addr, err)
	}
	br := bufio.NewReaderSize(conn, 16<<10)
	f, _, err := wire.ReadFrame(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read welcome from %s: %w", addr, err)
	}
	m, err := f.Decode()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("decode welcome from %s: %w", addr, err)
	}
	var w *wire.Welcome
	switch v := m.(type) {
	case *wire.Welcome:
		w = v
	case *wire.Error:
		conn.Close()
		return nil, fmt.Errorf("login to %s refused: %w", addr, v)
	default:
		conn.Close()
		return nil, fmt.Errorf("login to %s: unexpected %s", addr, f.Type)
	}
	_ = conn.SetDeadline(time.Time{})
	b := &bot{
		idx: idx, replica: replica, charID: w.CharID, name: w.Name, addr: addr,
		conn: conn, onCast: onCast, writeTimeout: writeTimeout,
		pending: make(map[uint32]chan response), done: make(chan struct{}),
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.readLoop(br)
	}()
	return b, nil
}

func (b *bot) readLoop(br *bufio.Reader) {
	var buf []byte
	var err error
	defer func() {
		b.pmu.Lock()
		b.err = err
		b.pending = nil
		b.pmu.Unlock()
		close(b.done)
	}()
	for {
		var f wire.Frame
		f, buf, err = wire.ReadFrame(br, buf)
		if err != nil {
			if b.closing.Load() {
				err = errBotClosed
			}
			return
		}
		switch {
		case f.Type == wire.TCastMsg:
			b.handleCast(f.Payload)
		case f.ReqID != 0:
			b.pmu.Lock()
			ch := b.pending[f.ReqID]
			delete(b.pending, f.ReqID)
			b.pmu.Unlock()
			if ch != nil {
				ch <- response{typ: f.Type, payload: append([]byte(nil), f.Payload...)}
			}
		case f.Type == wire.TKicked:
			b.kicked.Store(true)
		case f.Type == wire.TError:
			b.asyncErrs.Add(1)
		}
	}
}

// handleCast parses a CastMsg payload in place (no allocation) and passes
// the opaque payload on: u8 scope | u32 sender | string name | blob payload.
func (b *bot) handleCast(p []byte) {
	if len(p) < 1+4+2 || b.onCast == nil {
		return
	}
	scope := p[0]
	sender := binary.BigEndian.Uint32(p[1:])
	nl := int(binary.BigEndian.Uint16(p[5:]))
	off := 7 + nl
	if len(p) < off+4 {
		return
	}
	bl := int(binary.BigEndian.Uint32(p[off:]))
	off += 4
	if bl < 0 || len(p) < off+bl {
		return
	}
	b.onCast(b, scope, sender, p[off:off+bl])
}

// write sends one complete frame.
func (b *bot) write(frame []byte) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if b.writeTimeout > 0 {
		_ = b.conn.SetWriteDeadline(time.Now().Add(b.writeTimeout))
	}
	if _, err := b.conn.Write(frame); err != nil {
		return fmt.Errorf("bot %d write: %w", b.idx, err)
	}
	return nil
}

// request sends m with a fresh request ID and waits for its answer. A
// wire.Error answer is returned as the error (a *wire.Error).
func (b *bot) request(ctx context.Context, m wire.Message) (wire.Message, error) {
	id := b.nextReq.Add(1)
	if id == 0 {
		id = b.nextReq.Add(1)
	}
	ch := make(chan response, 1)
	b.pmu.Lock()
	if b.pending == nil {
		b.pmu.Unlock()
		return nil, fmt.Errorf("bot %d %s: %w", b.idx, m.Type(), errBotClosed)
	}
	b.pending[id] = ch
	b.pmu.Unlock()
	frame, err := wire.Encode(id, m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	if err := b.write(frame); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		f := wire.Frame{Type: r.typ, ReqID: id, Payload: r.payload}
		resp, err := f.Decode()
		if err != nil {
			return nil, fmt.Errorf("bot %d %s: %w", b.idx, m.Type(), err)
		}
		if e, ok := resp.(*wire.Error); ok {
			return nil, e
		}
		return resp, nil
	case <-b.done:
		return nil, fmt.Errorf("bot %d %s: %w", b.idx, m.Type(), errBotClosed)
	case <-ctx.Done():
		b.pmu.Lock()
		if b.pending != nil {
			delete(b.pending, id)
		}
		b.pmu.Unlock()
		return nil, fmt.Errorf("bot %d %s: %w", b.idx, m.Type(), ctx.Err())
	}
}

// alive reports whether the reader is still running.
func (b *bot) alive() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// close closes the connection; the reader goroutine ends soon after.
func (b *bot) close() {
	b.closing.Store(true)
	_ = b.conn.Close()
}

// logout asks the server to log out (bounded by ctx), then closes.
func (b *bot) logout(ctx context.Context) error {
	defer b.close()
	b.closing.Store(true) // the server closes after its OK: not a failure
	if !b.alive() {
		return nil
	}
	_, err := b.request(ctx, &wire.Logout{})
	if err != nil && !errors.Is(err, errBotClosed) {
		return err
	}
	return nil
}

// failure returns why the connection ended unexpectedly, or nil.
func (b *bot) failure() error {
	select {
	case <-b.done:
	default:
		return nil
	}
	if b.err == nil || errors.Is(b.err, errBotClosed) {
		return nil
	}
	return b.err
}
