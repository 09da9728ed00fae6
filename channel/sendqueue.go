package channel

import "sync"

// sendQueue is a session's bounded queue of encoded frames. Frames are
// shared between recipients and never modified. push never blocks: when the
// queue holds max frames it refuses, and the caller closes the session (the
// client cannot keep up). One consumer (the session's send goroutine) takes
// everything queued at once and writes it in one system call.
type sendQueue struct {
	mu     sync.Mutex
	frames [][]byte
	max    int
	closed bool
	// notify holds a token when frames are queued; buffered 1 so push never blocks.
	notify chan struct{}
}

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, notify: make(chan struct{}, 1)}
}

// push queues frame. full reports that it was refused because the queue
// holds max frames; a closed queue refuses silently (the session is ending).
func (q *sendQueue) push(frame []byte) (full bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if len(q.frames) >= q.max {
		q.mu.Unlock()
		return true
	}
	q.frames = append(q.frames, frame)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return false
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

// close refuses further pushes.
func (q *sendQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// len returns the number of queued frames.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames)
}
