package channel

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/guildhall/guildhall/registry"
)

// recordingReg wraps a registry and records, per stage and per character,
// the last stage or presence update it was given. Each update yields the
// processor a few times before it is recorded, widening the window in which
// a publish that is not ordered with another can be overtaken.
type recordingReg struct {
	registry.ChannelRegistry
	mu        sync.Mutex
	lastStage map[string]string // stage ID -> "updated" or "removed"
	lastSess  map[uint32]registry.SessionSnapshot
}

func newRecordingReg(inner registry.ChannelRegistry) *recordingReg {
	return &recordingReg{ChannelRegistry: inner, lastStage: map[string]string{}, lastSess: map[uint32]registry.SessionSnapshot{}}
}

func yieldSome() {
	for range 3 {
		runtime.Gosched()
	}
}

func (r *recordingReg) StageUpdated(ctx context.Context, s registry.StageSnapshot) {
	yieldSome()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastStage[s.StageID] = "updated"
	r.ChannelRegistry.StageUpdated(ctx, s)
}

func (r *recordingReg) StageRemoved(ctx context.Context, ch uint16, id string) {
	yieldSome()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastStage[id] = "removed"
	r.ChannelRegistry.StageRemoved(ctx, ch, id)
}

func (r *recordingReg) SessionUpdated(ctx context.Context, s registry.SessionSnapshot) {
	yieldSome()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastSess[s.CharID] = s
	r.ChannelRegistry.SessionUpdated(ctx, s)
}

// testSession returns a session of srv for charID that is not connected;
// it is enough for stage membership and presence snapshots.
// Its queue is marked as having a send goroutine, so frames queued to it
// stay queued (there is no socket to write to).
func testSession(srv *Server, charID uint32) *session {
	q := newSendQueue(64)
	q.running = true
	return &session{srv: srv, charID: charID, name: "p", q: q,
		closing: make(chan struct{}), loggedOut: make(chan struct{})}
}

// Two members leave a stage at once: one publishes the stage's new state,
// the other its removal. Whatever the interleaving, the registry must end
// with the removal (the stage is gone). Before each stage had a publish
// mutex, the update could land after the removal and leave a destroyed
// stage published. A stress test: on the old code it failed in most runs
// of its iterations, not deterministically.
func TestStagePublishOrderedWithRemoval(t *testing.T) {
	h := newHarness(t)
	rec := newRecordingReg(h.reg)
	srv := h.start(t, 1, func(_ *Config, d *Deps) { d.Registry = rec })
	ctx := context.Background()
	leave := func(st *stage, s *session) {
		st.leave(s)
		srv.destroyIfEmpty(st)
		srv.publishStage(ctx, st)
	}
	for i := range 300 {
		st := newStage("room", false, 8, "", 1)
		srv.mu.Lock()
		srv.stages[st.id] = st
		srv.mu.Unlock()
		a, b := testSession(srv, 1), testSession(srv, 2)
		st.join(a, "")
		st.join(b, "")
		srv.publishStage(ctx, st)
		var wg sync.WaitGroup
		wg.Go(func() { leave(st, a) })
		wg.Go(func() { leave(st, b) })
		wg.Wait()
		rec.mu.Lock()
		last := rec.lastStage["room"]
		rec.mu.Unlock()
		if last != "removed" {
			t.Fatalf("iteration %d: last publish of the destroyed stage was %q, want removed", i, last)
		}
		if _, err := h.reg.FindChannelForStage(ctx, "room"); err == nil {
			t.Fatalf("iteration %d: destroyed stage still in the registry", i)
		}
	}
}

// The session's own goroutine and another session's (refreshLocalGuild)
// change its guild at once: the last presence published must be the
// session's final state. A stress test like the one above.
func TestPresencePublishOrdered(t *testing.T) {
	h := newHarness(t)
	rec := newRecordingReg(h.reg)
	srv := h.start(t, 1, func(_ *Config, d *Deps) { d.Registry = rec })
	ctx := context.Background()
	s := testSession(srv, 9)
	for i := range 300 {
		var wg sync.WaitGroup
		wg.Go(func() { s.setGuild(ctx, uint32(2*i+1)) })
		wg.Go(func() { s.setGuild(ctx, uint32(2*i+2)) })
		wg.Wait()
		rec.mu.Lock()
		got := rec.lastSess[9].GuildID
		rec.mu.Unlock()
		if want := s.snapshot().GuildID; got != want {
			t.Fatalf("iteration %d: last presence published has guild %d, the session's is %d", i, got, want)
		}
	}
}
