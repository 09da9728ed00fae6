package redisreg

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/guildhall/guildhall/registry"
	"github.com/redis/go-redis/v9"
)

// kickReason is given to a previous session of a character logging in again.
const kickReason = "logged in elsewhere"

// Register claims ch's channel ID for this replica (failing with an error
// wrapping registry.ErrChannelClaimed, naming the holder, when another live
// replica has it) and publishes its info. Channel ID 0 is refused. Register
// needs Redis: without it the error wraps registry.ErrUnavailable.
func (r *Registry) Register(ctx context.Context, ch registry.Channel) error {
	if ch == nil {
		return errors.New("redisreg: register: nil channel")
	}
	info := ch.Info()
	if info.ID == 0 {
		return errors.New("redisreg: register: channel ID 0 is reserved")
	}
	info.ReplicaID = r.o.ReplicaID
	what := "register channel " + strconv.Itoa(int(info.ID))
	if err := r.ready(what); err != nil {
		return err
	}
	r.mu.Lock()
	if _, ok := r.channels[info.ID]; ok {
		r.mu.Unlock()
		return fmt.Errorf("redisreg: %s: registered twice on this replica: %w", what, registry.ErrChannelClaimed)
	}
	r.mu.Unlock()

	octx, cancel := r.opCtx(ctx)
	defer cancel()
	holder, err := r.claim.Run(octx, r.c, []string{r.k.claim(info.ID)}, r.o.ReplicaID, r.o.LeaseTTL.Milliseconds()).Text()
	if err != nil {
		return r.fail(ctx, err, what)
	}
	if holder != r.o.ReplicaID {
		return fmt.Errorf("redisreg: %s: held by replica %q: %w", what, holder, registry.ErrChannelClaimed)
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return fmt.Errorf("redisreg: %s: %w", what, registry.ErrClosed)
	}
	if _, ok := r.channels[info.ID]; ok {
		r.mu.Unlock()
		return fmt.Errorf("redisreg: %s: registered twice on this replica: %w", what, registry.ErrChannelClaimed)
	}
	r.channels[info.ID] = &localChannel{ch: ch, info: info, stages: make(map[string]registry.StageSnapshot)}
	r.mu.Unlock()
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		r.writeChannelInfo(octx, p, info)
		return nil
	})
	if err != nil {
		r.mu.Lock()
		delete(r.channels, info.ID)
		r.mu.Unlock()
		return r.fail(ctx, err, what)
	}
	r.log.Info("channel registered", "channel", info.ID, "addr", info.Addr)
	return nil
}

// writeChannelInfo queues the channel's info, set memberships and lease-bound keys.
func (r *Registry) writeChannelInfo(ctx context.Context, p redis.Pipeliner, info registry.ChannelInfo) {
	p.Set(ctx, r.k.chinfo(info.ID), encodeChannel(info), r.o.LeaseTTL)
	p.SAdd(ctx, r.k.channels(), info.ID)
	p.SAdd(ctx, r.k.replicaChans(r.o.ReplicaID), info.ID)
}

// Unregister removes a local channel, its sessions' presence, its stages,
// its claim, and the semaphores of its characters. Redis cleanup is
// best-effort (the keys expire anyway).
func (r *Registry) Unregister(ctx context.Context, channelID uint16) {
	r.wmu.Lock()
	if _, err := r.unregister(ctx, channelID); err != nil {
		r.log.Warn("unregister: redis cleanup failed; keys will expire", "channel", channelID, "err", err)
	}
	r.wmu.Unlock()
}

func (r *Registry) unregister(ctx context.Context, channelID uint16) ([]uint32, error) {
	r.mu.Lock()
	if _, ok := r.channels[channelID]; !ok {
		r.mu.Unlock()
		return nil, nil
	}
	r.mu.Unlock()
	err := r.unpublishChannel(ctx, channelID)
	r.mu.Lock()
	var gone []uint32
	for c, s := range r.sessions {
		if s.ChannelID == channelID {
			gone = append(gone, c)
			delete(r.sessions, c)
			delete(r.gens, c)
		}
	}
	delete(r.channels, channelID)
	r.mu.Unlock()
	for _, c := range gone {
		r.ReleaseAll(ctx, c)
	}
	r.releaseChannelSems(ctx, channelID)
	r.log.Info("channel unregistered", "channel", channelID, "sessions", len(gone))
	return gone, err
}

// unpublishChannel deletes what Redis holds about a local channel (wmu held).
func (r *Registry) unpublishChannel(ctx context.Context, id uint16) error {
	r.mu.Lock()
	var mine []registry.SessionSnapshot
	for _, s := range r.sessions {
		if s.ChannelID == id {
			mine = append(mine, s)
		}
	}
	r.mu.Unlock()
	// The channel's shared keys (indexes, info, set membership) belong to
	// whichever replica holds its claim: if another one took the channel
	// over, they are its and stay.
	octx, cancel := r.opCtx(ctx)
	holder, err := r.c.Get(octx, r.k.claim(id)).Result()
	cancel()
	if err != nil && !errors.Is(err, redis.Nil) {
		return r.fail(ctx, err, "unpublish channel: read claim")
	}
	ours := errors.Is(err, redis.Nil) || holder == r.o.ReplicaID
	octx, cancel = context.WithTimeout(ctx, 2*r.o.OpTimeout)
	defer cancel()
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for _, s := range mine {
			r.casdel.Eval(octx, p, []string{r.k.presence(s.CharID)}, encodeSession(s))
		}
		if ours {
			p.Del(octx, r.k.chsess(id))
			p.Del(octx, r.k.chstages(id))
			p.Del(octx, r.k.chinfo(id))
			r.casdel.Eval(octx, p, []string{r.k.claim(id)}, r.o.ReplicaID)
			p.SRem(octx, r.k.channels(), id)
		}
		p.SRem(octx, r.k.replicaChans(r.o.ReplicaID), id)
		return nil
	})
	if err != nil {
		return r.fail(ctx, err, "unpublish channel")
	}
	return nil
}

// SessionOnline claims s.CharID for s, which must be on a channel registered
// here (s.ReplicaID is set to this replica, an empty s.Addr to the channel's).
// A previous session on this replica is disconnected directly; one on
// another replica is sent a kick on that replica's directed channel, and
// SessionOnline waits (bounded by ctx and KickTimeout) for its confirmation,
// published after that replica's Disconnect (the logout save) returned.
// Unconfirmed → an error wrapping registry.ErrKickUnconfirmed. A replica
// whose lease has expired is not waited for. Then the presence is written.
// Without Redis SessionOnline fails with an error wrapping
// registry.ErrUnavailable: the channel must refuse the login.
func (r *Registry) SessionOnline(ctx context.Context, s registry.SessionSnapshot) error {
	what := "session online of character " + strconv.FormatUint(uint64(s.CharID), 10)
	if s.CharID == 0 {
		return fmt.Errorf("redisreg: %s: character ID 0", what)
	}
	if s.ReplicaID != "" && s.ReplicaID != r.o.ReplicaID {
		return fmt.Errorf("redisreg: %s: snapshot names replica %q, this is %q", what, s.ReplicaID, r.o.ReplicaID)
	}
	s.ReplicaID = r.o.ReplicaID
	if err := r.ready(what); err != nil {
		return err
	}
	r.mu.Lock()
	lc, ok := r.channels[s.ChannelID]
	if ok && s.Addr == "" {
		s.Addr = lc.info.Addr
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("redisreg: %s: channel %d not registered here: %w", what, s.ChannelID, registry.ErrNotFound)
	}
	// A previous session here: disconnect it directly.
	if prev, ch, ok := r.localSession(s.CharID); ok {
		if _, err := ch.Disconnect(ctx, s.CharID, kickReason); err != nil {
			return fmt.Errorf("redisreg: %s: kick on channel %d: %w: %w", what, prev.ChannelID, registry.ErrKickUnconfirmed, err)
		}
		r.SessionOffline(ctx, s.CharID, prev.ChannelID)
	}
	// A previous session elsewhere: kick it through its replica.
	octx, cancel := r.opCtx(ctx)
	val, err := r.c.Get(octx, r.k.presence(s.CharID)).Result()
	cancel()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return r.fail(ctx, err, what)
	default:
		prev, derr := decodeSession(val)
		if derr != nil {
			r.log.Warn("ignoring malformed presence", "char", s.CharID, "err", derr)
		} else if prev.ReplicaID != r.o.ReplicaID {
			if _, err := r.kickRemote(ctx, prev, kickReason); err != nil {
				return fmt.Errorf("redisreg: %s: %w", what, err)
			}
		}
	}
	r.wmu.Lock()
	prevVal, err := r.writeSession(ctx, s)
	if err != nil {
		r.wmu.Unlock()
		return fmt.Errorf("redisreg: %s: %w", what, err)
	}
	r.mu.Lock()
	if _, ok := r.channels[s.ChannelID]; !ok || r.closed {
		r.mu.Unlock()
		r.wmu.Unlock()
		return fmt.Errorf("redisreg: %s: channel %d went away: %w", what, s.ChannelID, registry.ErrNotFound)
	}
	r.sessions[s.CharID] = s
	r.nextGen++
	r.gens[s.CharID] = r.nextGen
	r.mu.Unlock()
	r.wmu.Unlock()
	// A login of the same character on another replica that slipped in
	// between our GET and SET: we replaced its presence, so it must go.
	if prevVal != "" && prevVal != val {
		if prev, err := decodeSession(prevVal); err == nil && prev.ReplicaID != r.o.ReplicaID {
			r.log.Warn("concurrent login on another replica; kicking it", "char", s.CharID, "replica", prev.ReplicaID)
			if _, err := r.kickRemote(ctx, prev, kickReason); err != nil {
				r.log.Warn("concurrent login not confirmed closed", "char", s.CharID, "err", err)
			}
		}
	}
	return nil
}

// writeSession writes the presence and the channel index entry (wmu held)
// and returns the presence value it replaced ("" if none).
func (r *Registry) writeSession(ctx context.Context, s registry.SessionSnapshot) (string, error) {
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	v := encodeSession(s)
	var set *redis.StatusCmd
	_, err := r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		set = p.SetArgs(octx, r.k.presence(s.CharID), v, redis.SetArgs{TTL: r.o.PresenceTTL, Get: true})
		p.HSet(octx, r.k.chsess(s.ChannelID), strconv.FormatUint(uint64(s.CharID), 10), v)
		p.PExpire(octx, r.k.chsess(s.ChannelID), r.o.indexTTL())
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", r.fail(ctx, err, "write presence")
	}
	prev, _ := set.Result()
	return prev, nil
}

// SessionUpdated records a change of a local session's stage or guild. It
// ignores a character not online on s.ChannelID here. A Redis failure is
// logged; the next refresh writes the change.
func (r *Registry) SessionUpdated(ctx context.Context, s registry.SessionSnapshot) {
	s.ReplicaID = r.o.ReplicaID
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	cur, ok := r.sessions[s.CharID]
	if !ok || cur.ChannelID != s.ChannelID {
		r.mu.Unlock()
		return
	}
	if s.Addr == "" {
		s.Addr = cur.Addr
	}
	r.sessions[s.CharID] = s
	r.mu.Unlock()
	if r.down.Load() {
		return
	}
	if _, err := r.writeSession(ctx, s); err != nil {
		r.log.Warn("session update not written; the refresher will", "char", s.CharID, "err", err)
	}
}

// SessionOffline removes charID's presence if it is on channelID here. The
// presence key is deleted only while it still points to this session.
func (r *Registry) SessionOffline(ctx context.Context, charID uint32, channelID uint16) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	cur, ok := r.sessions[charID]
	if !ok || cur.ChannelID != channelID {
		r.mu.Unlock()
		return
	}
	delete(r.sessions, charID)
	delete(r.gens, charID)
	r.mu.Unlock()
	if r.down.Load() {
		return // the presence expires; the refresher no longer writes it
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	_, err := r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		r.casdel.Eval(octx, p, []string{r.k.presence(charID)}, encodeSession(cur))
		p.HDel(octx, r.k.chsess(channelID), strconv.FormatUint(uint64(charID), 10))
		return nil
	})
	if err := r.fail(ctx, err, "session offline"); err != nil {
		r.log.Warn("presence not removed; it expires", "char", charID, "err", err)
	}
}

// kickedOffline settles charID's presence after this replica handled a kick
// of it (Disconnect returned without error, or there was no local session
// to disconnect). closed reports that the channel confirmed it closed the
// session registered here as gen (0: none). The presence is removed only
// while it points to this replica, and only if it is that closed session's
// or no session of this replica holds the character any more (a stale
// presence). A session the channel did not confirm closing (its login may
// be in progress: channels register presence before they list the
// session) and a session registered since (a new login here) keep it.
func (r *Registry) kickedOffline(ctx context.Context, charID uint32, gen uint64, closed bool) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	cur, ok := r.sessions[charID]
	if ok {
		if !closed || gen == 0 || r.gens[charID] != gen {
			r.mu.Unlock()
			return
		}
		delete(r.sessions, charID)
		delete(r.gens, charID)
	}
	r.mu.Unlock()
	if r.down.Load() {
		return // the presence expires; the refresher no longer writes it
	}
	if !ok {
		// Nothing here holds the character: a presence naming this
		// replica is stale (wmu keeps SessionOnline's write out meanwhile).
		octx, cancel := r.opCtx(ctx)
		val, err := r.c.Get(octx, r.k.presence(charID)).Result()
		cancel()
		if err != nil {
			if !errors.Is(err, redis.Nil) {
				r.log.Warn("kicked character's presence not checked; it expires", "char", charID, "err", r.fail(ctx, err, "kick: read presence"))
			}
			return
		}
		prev, err := decodeSession(val)
		if err != nil || prev.ReplicaID != r.o.ReplicaID {
			return
		}
		cur = prev
	}
	r.mu.Lock()
	_, ownIndex := r.channels[cur.ChannelID]
	r.mu.Unlock()
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	_, err := r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		r.casdel.Eval(octx, p, []string{r.k.presence(charID)}, encodeSession(cur))
		if ownIndex {
			p.HDel(octx, r.k.chsess(cur.ChannelID), strconv.FormatUint(uint64(charID), 10))
		}
		return nil
	})
	if err := r.fail(ctx, err, "kick: remove presence"); err != nil {
		r.log.Warn("kicked character's presence not removed; it expires", "char", charID, "err", err)
	}
}

// StageUpdated records a local stage (ignored for an unregistered channel
// or an empty ID). A Redis failure is logged; the refresher writes it later.
func (r *Registry) StageUpdated(ctx context.Context, s registry.StageSnapshot) {
	if s.StageID == "" {
		return
	}
	s.ReplicaID = r.o.ReplicaID
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	lc, ok := r.channels[s.ChannelID]
	if !ok {
		r.mu.Unlock()
		return
	}
	if s.Addr == "" {
		s.Addr = lc.info.Addr
	}
	lc.stages[s.StageID] = s
	r.mu.Unlock()
	if r.down.Load() {
		return
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	_, err := r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		p.HSet(octx, r.k.chstages(s.ChannelID), s.StageID, encodeStage(s))
		p.PExpire(octx, r.k.chstages(s.ChannelID), r.o.indexTTL())
		return nil
	})
	if err := r.fail(ctx, err, "stage updated"); err != nil {
		r.log.Warn("stage not written; the refresher will", "stage", s.StageID, "err", err)
	}
}

// StageRemoved drops a local stage.
func (r *Registry) StageRemoved(ctx context.Context, channelID uint16, stageID string) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	lc, ok := r.channels[channelID]
	if ok {
		delete(lc.stages, stageID)
	}
	r.mu.Unlock()
	if !ok || r.down.Load() {
		return
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	if err := r.fail(ctx, r.c.HDel(octx, r.k.chstages(channelID), stageID).Err(), "stage removed"); err != nil {
		r.log.Warn("stage not removed; the refresher will", "stage", stageID, "err", err)
	}
}

// FindSession returns where charID is online: from this replica's own
// sessions, else from its presence key (one GET).
func (r *Registry) FindSession(ctx context.Context, charID uint32) (registry.SessionSnapshot, error) {
	what := "find session " + strconv.FormatUint(uint64(charID), 10)
	if r.isClosed() {
		return registry.SessionSnapshot{}, fmt.Errorf("redisreg: %s: %w", what, registry.ErrClosed)
	}
	r.mu.Lock()
	s, ok := r.sessions[charID]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	if err := r.ready(what); err != nil {
		return s, err
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	val, err := r.c.Get(octx, r.k.presence(charID)).Result()
	if errors.Is(err, redis.Nil) {
		return s, fmt.Errorf("redisreg: %s: %w", what, registry.ErrNotFound)
	}
	if err != nil {
		return s, r.fail(ctx, err, what)
	}
	s, err = decodeSession(val)
	if err != nil {
		return s, fmt.Errorf("redisreg: %s: %w", what, err)
	}
	return s, nil
}
