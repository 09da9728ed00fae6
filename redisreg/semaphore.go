package redisreg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/bsm/redislock"
	"github.com/guildhall/guildhall/registry"
	"github.com/redis/go-redis/v9"
)

// tokenLen is the length of the redislock tokens this package generates;
// a lock's value is token followed by the encoded Holder (metadata).
const tokenLen = 32

// maxSemName bounds semaphore names.
const maxSemName = 256

// ErrLockLost is returned (wrapped, with registry.ErrNotHolder) when a
// semaphore's lock expired or was taken over before a fencing token could be
// issued for it.
var ErrLockLost = errors.New("redisreg: semaphore lock lost")

type heldSem struct {
	lock  *redislock.Lock
	lease registry.SemaphoreLease
}

func sameHolder(a, b registry.Holder) bool {
	return a.CharID == b.CharID && a.ReplicaID == b.ReplicaID && a.ChannelID == b.ChannelID
}

// AcquireSemaphore takes the cluster-wide semaphore name for h (an empty
// h.ReplicaID means this replica) with a redislock lock of LockTTL, kept
// alive by the refresher, and a fencing token from fence.lua, issued only
// while the lock is still this holder's. If h already holds it and Redis
// still has its lock, its lease is returned (also when Redis cannot be
// asked). If that lock was lost (expired, or gone with Redis's data), the
// loss is logged and counted and the semaphore is acquired afresh: the new
// lease has a higher token, so writes fenced with the old one are refused.
// If another holder has it the error is a *registry.SemaphoreHeldError
// naming it (read from the lock's metadata).
func (r *Registry) AcquireSemaphore(ctx context.Context, name string, h registry.Holder) (registry.SemaphoreLease, error) {
	var none registry.SemaphoreLease
	if name == "" || len(name) > maxSemName {
		return none, fmt.Errorf("redisreg: acquire semaphore: name must be 1..%d bytes", maxSemName)
	}
	if h.CharID == 0 {
		return none, fmt.Errorf("redisreg: acquire semaphore %q: character ID 0", name)
	}
	if h.ReplicaID == "" {
		h.ReplicaID = r.o.ReplicaID
	}
	what := fmt.Sprintf("acquire semaphore %q", name)
	if r.isClosed() {
		return none, fmt.Errorf("redisreg: %s: %w", what, registry.ErrClosed)
	}
	r.semMu.Lock()
	defer r.semMu.Unlock()
	r.mu.Lock()
	held, ok := r.sems[name]
	r.mu.Unlock()
	if ok && !sameHolder(held.lease.Holder, h) {
		return none, &registry.SemaphoreHeldError{Name: name, Holder: held.lease.Holder}
	}
	if ok {
		if !r.lockLost(ctx, held) {
			return held.lease, nil
		}
		r.semLost(held, "acquire")
	}
	if err := r.ready(what); err != nil {
		return none, err
	}
	var raw [tokenLen / 2]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return none, fmt.Errorf("redisreg: %s: token: %w", what, err)
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	lock, err := r.locker.Obtain(octx, r.k.sema(name), r.o.LockTTL, &redislock.Options{
		Token: hex.EncodeToString(raw[:]), Metadata: encodeHolder(h),
	})
	if errors.Is(err, redislock.ErrNotObtained) {
		return none, r.heldBy(ctx, name)
	}
	if err != nil {
		return none, r.fail(ctx, err, what)
	}
	token, err := r.fenceToken(octx, name, lock.Key(), lock.Token()+lock.Metadata())
	if err != nil {
		_ = lock.Release(octx)
		if errors.Is(err, ErrLockLost) {
			return none, fmt.Errorf("redisreg: %s: %w", what, err)
		}
		return none, r.fail(ctx, err, what)
	}
	lease := registry.SemaphoreLease{Name: name, Token: token, Holder: h}
	r.mu.Lock()
	r.sems[name] = &heldSem{lock: lock, lease: lease}
	delete(r.lostSems, name)
	r.mu.Unlock()
	return lease, nil
}

// lockLost reports whether Redis no longer has h's lock. When Redis cannot
// be asked (down, or the call fails) it reports false: the lock is then
// presumed held until the refresher learns otherwise.
func (r *Registry) lockLost(ctx context.Context, h *heldSem) bool {
	if r.down.Load() {
		return false
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	ttl, err := h.lock.TTL(octx)
	if err != nil {
		_ = r.fail(ctx, err, "check semaphore lock")
		return false
	}
	return ttl == 0
}

// semLost records that Redis lost h's lock (found by op): it logs at warn,
// counts it, and forgets the lease, remembering the loss for the holder's
// next ReleaseSemaphore. The holder's fencing token is stale from now on.
func (r *Registry) semLost(h *heldSem, op string) {
	hd := h.lease.Holder
	r.mu.Lock()
	mine := r.sems[h.lease.Name] == h
	if mine {
		delete(r.sems, h.lease.Name)
		r.lostSems[h.lease.Name] = hd
	}
	r.mu.Unlock()
	if !mine {
		return // released, or already found lost, meanwhile
	}
	r.m.SemaphoresLost.Inc()
	r.log.Warn("semaphore lock lost; its holder no longer holds it and its fencing token is stale",
		"name", h.lease.Name, "char", hd.CharID, "channel", hd.ChannelID, "holder_replica", hd.ReplicaID,
		"token", h.lease.Token, "found_by", op)
}

// fenceToken runs fence.lua for the lock value.
func (r *Registry) fenceToken(ctx context.Context, name, lockKey, value string) (uint64, error) {
	n, err := r.fence.Run(ctx, r.c, []string{lockKey, r.k.fence(name)}, value).Int64()
	if err != nil {
		if strings.Contains(err.Error(), "LOCKLOST") {
			return 0, fmt.Errorf("%w: %w", ErrLockLost, registry.ErrNotHolder)
		}
		return 0, err
	}
	return uint64(n), nil
}

// heldBy builds the SemaphoreHeldError for a refused acquisition.
func (r *Registry) heldBy(ctx context.Context, name string) error {
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	v, err := r.c.Get(octx, r.k.sema(name)).Result()
	if errors.Is(err, redis.Nil) {
		// Released in between: report held without a known holder.
		return &registry.SemaphoreHeldError{Name: name}
	}
	if err != nil {
		return r.fail(ctx, err, "read semaphore holder")
	}
	var h registry.Holder
	if len(v) >= tokenLen {
		if h, err = decodeHolder(v[tokenLen:]); err != nil {
			r.log.Warn("malformed semaphore holder", "name", name, "err", err)
		}
	}
	return &registry.SemaphoreHeldError{Name: name, Holder: h}
}

// ReleaseSemaphore frees name if h holds it here and returns nil; otherwise
// it fails with an error wrapping registry.ErrNotHolder. A semaphore whose
// lock Redis lost (expired, or gone with Redis's data) is not held: its
// release fails with registry.ErrNotHolder, and the first such release
// after the loss also wraps ErrLockLost. Releasing never frees a lock that
// another holder has taken since. If Redis cannot be reached the lease is
// dropped here, nil is returned and the lock expires after LockTTL.
func (r *Registry) ReleaseSemaphore(ctx context.Context, name string, h registry.Holder) error {
	if h.ReplicaID == "" {
		h.ReplicaID = r.o.ReplicaID
	}
	if r.isClosed() {
		return fmt.Errorf("redisreg: release semaphore %q: %w", name, registry.ErrClosed)
	}
	what := fmt.Sprintf("redisreg: release semaphore %q by character %d", name, h.CharID)
	r.semMu.Lock()
	defer r.semMu.Unlock()
	r.mu.Lock()
	held, ok := r.sems[name]
	if ok && sameHolder(held.lease.Holder, h) {
		delete(r.sems, name)
	}
	lostBy, lost := r.lostSems[name]
	lost = lost && !ok && sameHolder(lostBy, h)
	if lost {
		delete(r.lostSems, name)
	}
	r.mu.Unlock()
	if lost {
		return fmt.Errorf("%s: %w: %w", what, ErrLockLost, registry.ErrNotHolder)
	}
	if !ok || !sameHolder(held.lease.Holder, h) {
		return fmt.Errorf("%s: %w", what, registry.ErrNotHolder)
	}
	if !r.releaseLock(ctx, held) {
		r.m.SemaphoresLost.Inc()
		r.log.Warn("semaphore lock lost before its release; its fencing token was stale",
			"name", name, "char", h.CharID, "channel", h.ChannelID, "holder_replica", h.ReplicaID, "token", held.lease.Token)
		return fmt.Errorf("%s: %w: %w", what, ErrLockLost, registry.ErrNotHolder)
	}
	return nil
}

// ReleaseAll frees every semaphore held here by charID.
func (r *Registry) ReleaseAll(ctx context.Context, charID uint32) {
	r.releaseWhere(ctx, func(h registry.Holder) bool { return h.CharID == charID })
}

func (r *Registry) releaseChannelSems(ctx context.Context, channelID uint16) {
	r.releaseWhere(ctx, func(h registry.Holder) bool {
		return h.ChannelID == channelID && h.ReplicaID == r.o.ReplicaID
	})
}

func (r *Registry) releaseWhere(ctx context.Context, match func(registry.Holder) bool) {
	r.semMu.Lock()
	defer r.semMu.Unlock()
	var rel []*heldSem
	r.mu.Lock()
	for name, h := range r.sems {
		if match(h.lease.Holder) {
			rel = append(rel, h)
			delete(r.sems, name)
		}
	}
	for name, h := range r.lostSems {
		if match(h) {
			delete(r.lostSems, name)
		}
	}
	r.mu.Unlock()
	for _, h := range rel {
		_ = r.releaseLock(ctx, h)
	}
}

// releaseLock releases a lock in Redis, best-effort: on failure it expires
// after LockTTL. It reports false only if Redis answered that the lock was
// no longer h's (lost); redislock compares the token, so another holder's
// lock is never freed.
func (r *Registry) releaseLock(ctx context.Context, h *heldSem) bool {
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	err := h.lock.Release(octx)
	switch {
	case errors.Is(err, redislock.ErrLockNotHeld):
		return false
	case err != nil:
		r.log.Warn("semaphore release failed; it expires", "name", h.lease.Name, "err", r.fail(ctx, err, "release semaphore"))
	}
	return true
}

// refreshSems extends every held lock by LockTTL. A lock found lost is
// dropped, logged and counted (see semLost): its holder's fencing token is
// stale, its next ReleaseSemaphore fails with ErrNotHolder and its next
// AcquireSemaphore takes a new lease.
func (r *Registry) refreshSems(ctx context.Context) {
	r.mu.Lock()
	held := make([]*heldSem, 0, len(r.sems))
	for _, h := range r.sems {
		held = append(held, h)
	}
	r.mu.Unlock()
	for _, h := range held {
		octx, cancel := r.opCtx(ctx)
		err := h.lock.Refresh(octx, r.o.LockTTL, nil)
		cancel()
		switch {
		case errors.Is(err, redislock.ErrNotObtained):
			r.semLost(h, "refresh")
		case err != nil:
			_ = r.fail(ctx, err, "refresh semaphore")
			return
		}
	}
}
