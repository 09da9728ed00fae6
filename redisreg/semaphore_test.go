package redisreg

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/guildhall/guildhall/registry"
)

// recordHandler keeps every log record's message and attributes.
type recordHandler struct {
	mu   sync.Mutex
	recs []map[string]string // "msg" and "level" plus the attributes
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message, "level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, m)
	h.mu.Unlock()
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// find returns the records whose message is msg.
func (h *recordHandler) find(msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, m := range h.recs {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

const lostMsg = "semaphore lock lost; its holder no longer holds it and its fencing token is stale"

// Redis loses its data (restart without persistence) while A holds a
// semaphore, and B takes it. A's refresher finds the lock lost: it warns
// naming the holder and semaphore and counts it; A's release then fails
// with ErrNotHolder (ErrLockLost the first time) without freeing B's lock,
// and A's re-acquisitions see B, then get a new lease with a higher token.
func TestSemaphoreLostWithRedisData(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	logs := &recordHandler{}
	a := c.start(t, "A", func(o *Options) { o.Logger = slog.New(logs) })
	b := c.start(t, "B", nil)
	h1 := registry.Holder{CharID: 1, ChannelID: 1}
	h2 := registry.Holder{CharID: 2, ChannelID: 2}
	l1, err := a.AcquireSemaphore(ctx, "forge", h1)
	if err != nil {
		t.Fatal(err)
	}
	c.mini.FlushAll()
	l2, err := b.AcquireSemaphore(ctx, "forge", h2)
	if err != nil {
		t.Fatalf("B after the data loss: %v", err)
	}
	if l2.Token <= l1.Token {
		t.Fatalf("B's token %d not above A's stale %d", l2.Token, l1.Token)
	}

	a.refreshSems(ctx) // what A's refresher does every LockTTL/3
	if n := counterValue(t, a.m.SemaphoresLost); n != 1 {
		t.Fatalf("semaphores lost = %v, want 1", n)
	}
	recs := logs.find(lostMsg)
	if len(recs) != 1 {
		t.Fatalf("%d lost-lock logs, want 1", len(recs))
	}
	if r := recs[0]; r["level"] != "WARN" || r["name"] != "forge" || r["char"] != "1" || r["channel"] != "1" || r["holder_replica"] != "A" {
		t.Fatalf("lost-lock log = %v, want WARN naming forge and holder 1/1/A", r)
	}

	err = a.ReleaseSemaphore(ctx, "forge", h1)
	if !errors.Is(err, registry.ErrNotHolder) || !errors.Is(err, ErrLockLost) {
		t.Fatalf("release of the lost lease: %v, want ErrNotHolder and ErrLockLost", err)
	}
	if err := a.ReleaseSemaphore(ctx, "forge", h1); !errors.Is(err, registry.ErrNotHolder) || errors.Is(err, ErrLockLost) {
		t.Fatalf("second release: %v, want plain ErrNotHolder", err)
	}
	var held *registry.SemaphoreHeldError
	if _, err := a.AcquireSemaphore(ctx, "forge", h1); !errors.As(err, &held) || held.Holder.CharID != 2 || held.Holder.ReplicaID != "B" {
		t.Fatalf("A's re-acquire while B holds it: %v, want held by character 2 on B", err)
	}
	if err := b.ReleaseSemaphore(ctx, "forge", h2); err != nil {
		t.Fatalf("B's release after A's releases: %v (A must not have freed B's lock)", err)
	}
	l3, err := a.AcquireSemaphore(ctx, "forge", h1)
	if err != nil || l3.Token <= l2.Token {
		t.Fatalf("A's re-acquire: %+v %v, want a new lease above %d", l3, err, l2.Token)
	}
	if n := counterValue(t, a.m.SemaphoresLost); n != 1 {
		t.Fatalf("semaphores lost = %v after the holder learned it, want still 1", n)
	}
}

// The holder acts before the refresher noticed the loss: a re-acquire
// yields a new lease with a higher token (not the stale one), and a release
// fails with ErrNotHolder wrapping ErrLockLost. Either way the loss is
// counted once.
func TestSemaphoreLostNoticedByHolder(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", nil)
	h := registry.Holder{CharID: 1, ChannelID: 1}
	l1, err := a.AcquireSemaphore(ctx, "x", h)
	if err != nil {
		t.Fatal(err)
	}
	if same, err := a.AcquireSemaphore(ctx, "x", h); err != nil || same != l1 {
		t.Fatalf("re-acquire of a held lock: %+v %v, want the same lease %+v", same, err, l1)
	}
	c.mini.FlushAll()
	l2, err := a.AcquireSemaphore(ctx, "x", h)
	if err != nil || l2.Token <= l1.Token {
		t.Fatalf("re-acquire after the loss: %+v %v, want a new lease above %d", l2, err, l1.Token)
	}
	if !c.mini.Exists(a.k.sema("x")) {
		t.Fatal("the new lease has no lock in Redis")
	}
	c.mini.FlushAll()
	if err := a.ReleaseSemaphore(ctx, "x", h); !errors.Is(err, registry.ErrNotHolder) || !errors.Is(err, ErrLockLost) {
		t.Fatalf("release after the loss: %v, want ErrNotHolder and ErrLockLost", err)
	}
	if n := counterValue(t, a.m.SemaphoresLost); n != 2 {
		t.Fatalf("semaphores lost = %v, want 2", n)
	}
}
