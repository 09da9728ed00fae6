package channel

import "sync"

// sendQueue is a session's bounded queue of encoded frames. Frames are
// shared between recipients and never modified. push never blocks: when the
// queue holds max frames it refuses, and the caller closes the session (the
// client cannot keep up). One consumer (the session's send goroutine) takes
// everything queued at once and writes it in one system call.
//
// The send goroutine runs only while there is something to send: the queue
// records whether one is running, push asks its caller to start one when
// none is, and the goroutine retires (retire) once the queue has stayed
// empty for a while. At most one send goroutine runs per queue, so frames
// are written in order by one writer at a time. Invariant (under mu): when
// frames is not empty, running is true.
type sendQueue struct {
	mu      sync.Mutex
	frames  [][]byte
	max     int
	closed  bool
	running bool // a send goroutine runs (or is being started) for this queue
	// notify holds a token when frames are queued; buffered 1 so push never blocks.
	notify chan struct{}
}

// pushResult is what push did with a frame.
type pushResult uint8

const (
	pushQueued pushResult = iota // queued; a send goroutine is running
	pushStart                    // queued; no send goroutine was running: the caller must start one
	pushFull                     // refused: the queue holds max frames
	pushClosed                   // refused silently: the queue is closed (the session is ending)
)

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, notify: make(chan struct{}, 1)}
}

// push queues frame. With pushStart, the caller must start the send
// goroutine (see running).
func (q *sendQueue) push(frame []byte) pushResult {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return pushClosed
	}
	if len(q.frames) >= q.max {
		q.mu.Unlock()
		return pushFull
	}
	q.frames = append(q.frames, frame)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	if start {
		return pushStart
	}
	return pushQueued
}

// take swaps the queued frames out, handing back spare (emptied) for reuse.
func (q *sendQueue) take(spare [][]byte) [][]byte {
	clear(spare)
	q.mu.Lock()
	out := q.frames
	q.frames = spare[:0]
	q.mu.Unlock()
	return out
}

// retire is called by the send goroutine after a quiet period. If nothing is
// queued and the queue is open, it records that no send goroutine runs
// (the next push asks for a new one), drops the frame slice, and reports
// true: the goroutine must exit without touching the connection. Otherwise
// it reports false and the goroutine keeps running.
func (q *sendQueue) retire() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) > 0 || q.closed {
		return false
	}
	q.running = false
	q.frames = nil
	return true
}

// close refuses further pushes. It reports whether no send goroutine is
// running: then nothing is queued and nobody else will close the
// connection, so the caller must.
func (q *sendQueue) close() (noWriter bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	return !q.running
}

// len returns the number of queued frames.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames)
}
