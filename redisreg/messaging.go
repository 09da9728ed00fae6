package redisreg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/redis/go-redis/v9"
)

// Worldcast queues frame to every local channel (except exceptChannel)
// directly, then publishes it once on the world channel for the other
// replicas. Local delivery happens even when Redis is down; the error then
// wraps registry.ErrUnavailable.
func (r *Registry) Worldcast(ctx context.Context, frame []byte, exceptChar uint32, exceptChannel uint16) error {
	if r.isClosed() {
		return fmt.Errorf("redisreg: worldcast: %w", registry.ErrClosed)
	}
	r.deliverWorld(frame, exceptChar, exceptChannel)
	if err := r.ready("worldcast"); err != nil {
		return err
	}
	return r.publish(ctx, r.k.world(), envelope{Kind: kindWorld, ExceptChar: exceptChar, ExceptChannel: exceptChannel, Frame: frame})
}

func (r *Registry) deliverWorld(frame []byte, exceptChar uint32, exceptChannel uint16) {
	for _, lc := range r.local() {
		if exceptChannel != 0 && lc.info.ID == exceptChannel {
			continue
		}
		lc.ch.Broadcast(frame, exceptChar)
	}
}

// Cast delivers frame to targets: local ones directly, the others through
// one PUBLISH per owning replica (found through their presence keys). It
// returns, sorted, the local targets reached and the remote targets found
// online (delivery to those is asynchronous). If Redis is down the local
// targets are still served and the error wraps registry.ErrUnavailable.
func (r *Registry) Cast(ctx context.Context, targets []uint32, frame []byte) ([]uint32, error) {
	if r.isClosed() {
		return nil, fmt.Errorf("redisreg: cast: %w", registry.ErrClosed)
	}
	byChannel, remote := r.localByChannel(dedup(targets))
	var reached []uint32
	for ch, ids := range byChannel {
		reached = append(reached, ch.Deliver(ids, frame)...)
	}
	var err error
	if len(remote) > 0 {
		var found []uint32
		found, err = r.castRemote(ctx, remote, frame)
		reached = append(reached, found...)
	}
	slices.Sort(reached)
	return reached, err
}

// localByChannel groups the characters online here by their channel; the
// others are returned in rest, in the order given.
func (r *Registry) localByChannel(chars []uint32) (byChannel map[registry.Channel][]uint32, rest []uint32) {
	byChannel = map[registry.Channel][]uint32{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range chars {
		s, ok := r.sessions[c]
		lc := r.channels[s.ChannelID]
		if !ok || lc == nil {
			rest = append(rest, c)
			continue
		}
		byChannel[lc.ch] = append(byChannel[lc.ch], c)
	}
	return byChannel, rest
}

func (r *Registry) castRemote(ctx context.Context, chars []uint32, frame []byte) ([]uint32, error) {
	if err := r.ready("cast"); err != nil {
		return nil, err
	}
	owners, err := r.owners(ctx, chars)
	if err != nil {
		return nil, err
	}
	var found []uint32
	var errs []error
	for replica, ids := range owners {
		if replica == r.o.ReplicaID {
			continue // stale presence of ours: the session is gone
		}
		for start := 0; start < len(ids); start += castChunk {
			chunk := ids[start:min(start+castChunk, len(ids))]
			if err := r.publish(ctx, r.k.replicaChan(replica), envelope{Kind: kindCast, Chars: chunk, Frame: frame}); err != nil {
				errs = append(errs, err)
				continue
			}
			found = append(found, chunk...)
		}
	}
	return found, errors.Join(errs...)
}

// castChunk bounds the targets of one cast message.
const castChunk = 1024

// owners reads the presence of chars (one pipelined GET each) and groups
// those online by replica.
func (r *Registry) owners(ctx context.Context, chars []uint32) (map[string][]uint32, error) {
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(chars))
	_, err := r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, c := range chars {
			cmds[i] = p.Get(octx, r.k.presence(c))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.fail(ctx, err, "read presence")
	}
	out := map[string][]uint32{}
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil {
			continue
		}
		s, err := decodeSession(v)
		if err != nil {
			r.log.Warn("ignoring malformed presence", "char", chars[i], "err", err)
			continue
		}
		out[s.ReplicaID] = append(out[s.ReplicaID], chars[i])
	}
	return out, nil
}

// NotifyMail tells charID that mail arrived: directly if online here, else
// by a message to its replica. It fails with an error wrapping
// registry.ErrNotFound if the character is not online.
func (r *Registry) NotifyMail(ctx context.Context, charID uint32, n registry.MailNotice) error {
	what := "notify mail to " + strconv.FormatUint(uint64(charID), 10)
	if r.isClosed() {
		return fmt.Errorf("redisreg: %s: %w", what, registry.ErrClosed)
	}
	if _, ch, ok := r.localSession(charID); ok {
		if ch.NotifyMail(charID, n) {
			return nil
		}
		return fmt.Errorf("redisreg: %s: %w", what, registry.ErrNotFound)
	}
	if err := r.ready(what); err != nil {
		return err
	}
	owners, err := r.owners(ctx, []uint32{charID})
	if err != nil {
		return err
	}
	for replica := range owners {
		if replica == r.o.ReplicaID {
			break
		}
		return r.publish(ctx, r.k.replicaChan(replica), envelope{Kind: kindMail, Chars: []uint32{charID}, Mail: n})
	}
	return fmt.Errorf("redisreg: %s: %w", what, registry.ErrNotFound)
}

// DisconnectUser closes the characters' sessions wherever they are,
// concurrently: local ones through their channel, remote ones by a kick to
// their replica awaiting its confirmation (bounded by ctx and KickTimeout).
// Characters not online are in neither list; both lists are sorted. The
// error is non-nil for ErrClosed, or ErrUnavailable when remote characters
// could not be looked up (local ones are still disconnected).
func (r *Registry) DisconnectUser(ctx context.Context, charIDs []uint32, reason string) (registry.DisconnectResult, error) {
	var res registry.DisconnectResult
	if r.isClosed() {
		return res, fmt.Errorf("redisreg: disconnect users: %w", registry.ErrClosed)
	}
	charIDs = dedup(charIDs)
	type outcome struct {
		char             uint32
		found, confirmed bool
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
		remote   []uint32
	)
	add := func(o outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }
	for _, c := range charIDs {
		s, ch, gen, ok := r.localSessionGen(c)
		if !ok {
			remote = append(remote, c)
			continue
		}
		wg.Go(func() {
			found, err := ch.Disconnect(ctx, c, reason)
			if err != nil {
				r.log.Warn("disconnect unconfirmed", "char", c, "channel", s.ChannelID, "err", err)
			} else {
				r.kickedOffline(ctx, c, gen, found)
			}
			add(outcome{c, found || err != nil, err == nil})
		})
	}
	var lookupErr error
	if len(remote) > 0 {
		if lookupErr = r.ready("disconnect users"); lookupErr == nil {
			owners, err := r.owners(ctx, remote)
			lookupErr = err
			for replica, ids := range owners {
				if replica == r.o.ReplicaID {
					continue
				}
				for _, c := range ids {
					wg.Go(func() {
						closed, err := r.kickRemote(ctx, registry.SessionSnapshot{CharID: c, ReplicaID: replica}, reason)
						add(outcome{c, closed || err != nil, err == nil})
					})
				}
			}
		}
	}
	wg.Wait()
	for _, o := range outcomes {
		switch {
		case o.confirmed && o.found:
			res.Closed = append(res.Closed, o.char)
		case !o.confirmed:
			res.Unconfirmed = append(res.Unconfirmed, o.char)
		}
	}
	slices.Sort(res.Closed)
	slices.Sort(res.Unconfirmed)
	return res, lookupErr
}

// kickRemote asks prev's replica to disconnect prev.CharID and waits for its
// confirmation. It reports whether the session was online there. A replica
// without a lease is dead: nothing to wait for.
func (r *Registry) kickRemote(ctx context.Context, prev registry.SessionSnapshot, reason string) (bool, error) {
	octx, cancel := r.opCtx(ctx)
	n, err := r.c.Exists(octx, r.k.lease(prev.ReplicaID)).Result()
	cancel()
	if err != nil {
		return false, r.fail(ctx, err, "kick: check lease")
	}
	if n == 0 {
		r.log.Info("previous session's replica has no lease; not waiting", "char", prev.CharID, "replica", prev.ReplicaID)
		return false, nil
	}
	reply := make(chan envelope, 1)
	r.mu.Lock()
	r.nextReq++
	id := r.nextReq
	r.kicks[id] = pendingKick{reply: reply, replica: prev.ReplicaID, char: prev.CharID}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.kicks, id)
		r.mu.Unlock()
	}()
	if err := r.publish(ctx, r.k.replicaChan(prev.ReplicaID), envelope{Kind: kindKick, ReqID: id, Chars: []uint32{prev.CharID}, Reason: reason}); err != nil {
		return false, err
	}
	wctx, wcancel := context.WithTimeout(ctx, r.o.KickTimeout)
	defer wcancel()
	select {
	case ack := <-reply:
		if ack.Reason != "" {
			r.m.KicksUnconfirmed.Inc()
			return ack.Closed, fmt.Errorf("kick of character %d on replica %s: %s: %w", prev.CharID, prev.ReplicaID, ack.Reason, registry.ErrKickUnconfirmed)
		}
		r.m.KicksConfirmed.Inc()
		return ack.Closed, nil
	case <-wctx.Done():
		r.m.KicksUnconfirmed.Inc()
		return false, fmt.Errorf("kick of character %d on replica %s: no confirmation: %w: %w", prev.CharID, prev.ReplicaID, registry.ErrKickUnconfirmed, wctx.Err())
	case <-r.life.Done():
		return false, fmt.Errorf("kick of character %d: %w", prev.CharID, registry.ErrClosed)
	}
}

// pendingKick is a kick awaiting its confirmation: only an ack from the
// kicked replica for the kicked character is delivered to reply.
type pendingKick struct {
	reply   chan envelope // buffered 1; only the genuine ack is ever sent
	replica string
	char    uint32
}

// handleKick runs on the kicked replica: disconnect, then confirm. The
// presence is removed only as kickedOffline allows: a channel answering
// "not online here" (a login still in progress, or a session it already
// closed) must not cost a live session its presence.
func (r *Registry) handleKick(v envelope) {
	char := v.char()
	ack := envelope{Kind: kindKickAck, ReqID: v.ReqID, Chars: []uint32{char}}
	ctx, cancel := context.WithTimeout(r.life, r.o.KickTimeout)
	defer cancel()
	if _, ch, gen, ok := r.localSessionGen(char); ok {
		found, err := ch.Disconnect(ctx, char, v.Reason)
		ack.Closed = found
		if err != nil {
			ack.Reason = err.Error()
		} else {
			r.kickedOffline(ctx, char, gen, found)
		}
	} else {
		r.kickedOffline(ctx, char, 0, false)
	}
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.OpTimeout)
	defer pcancel()
	if err := r.publish(pctx, r.k.replicaChan(v.Origin), ack); err != nil {
		r.log.Warn("kick confirmation not sent", "char", char, "to", v.Origin, "err", err)
	}
}

// refusal is the answer to a shed kick, to be published on channel.
type refusal struct {
	channel string
	ack     envelope
}

// shedKick answers a kick unconfirmed without handling it (every kick
// handler is busy). The answer is queued for refusalLoop; if that queue is
// full too the kicker's wait simply times out. It never blocks.
func (r *Registry) shedKick(v envelope) {
	r.m.KicksShed.Inc()
	if !r.shedding.Swap(true) {
		r.log.Warn("kick handlers all busy; answering kicks unconfirmed", "max", r.o.MaxKickHandlers, "char", v.char(), "from", v.Origin)
	}
	ack := envelope{Kind: kindKickAck, ReqID: v.ReqID, Chars: []uint32{v.char()},
		Reason: "too many kicks in progress on replica " + r.o.ReplicaID}
	select {
	case r.refusals <- refusal{channel: r.k.replicaChan(v.Origin), ack: ack}:
	default:
	}
}

// refusalLoop publishes the answers to shed kicks until background work stops.
func (r *Registry) refusalLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.life.Done():
			return
		case f := <-r.refusals:
			if err := r.publish(r.life, f.channel, f.ack); err != nil {
				r.log.Warn("kick refusal not sent", "char", f.ack.char(), "err", err)
			}
		}
	}
}

// receiveLoop handles pub/sub messages until background work stops.
func (r *Registry) receiveLoop(msgs <-chan *redis.Message) {
	defer r.wg.Done()
	for {
		select {
		case <-r.life.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			r.handle(m)
		}
	}
}

func (r *Registry) handle(m *redis.Message) {
	v, err := decodeEnvelope([]byte(m.Payload))
	if err != nil {
		r.log.Warn("dropping malformed pub/sub message", "channel", m.Channel, "err", err)
		return
	}
	r.m.Received.WithLabelValues(v.Kind.String()).Inc()
	if v.Origin == r.o.ReplicaID {
		return // our own world message: local recipients were served directly
	}
	switch v.Kind {
	case kindWorld:
		r.deliverWorld(v.Frame, v.ExceptChar, v.ExceptChannel)
	case kindCast:
		byChannel, _ := r.localByChannel(v.Chars)
		for ch, ids := range byChannel {
			ch.Deliver(ids, v.Frame)
		}
	case kindMail:
		if _, ch, ok := r.localSession(v.char()); ok {
			ch.NotifyMail(v.char(), v.Mail)
		}
	case kindKick:
		// Each kick waits for a logout: at most MaxKickHandlers at once,
		// and the receive loop never waits for a free slot.
		select {
		case r.kickSlots <- struct{}{}:
			r.shedding.Store(false)
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer func() { <-r.kickSlots }()
				r.handleKick(v)
			}()
		default:
			r.shedKick(v)
		}
	case kindKickAck:
		r.mu.Lock()
		p, ok := r.kicks[v.ReqID]
		r.mu.Unlock()
		if !ok {
			return // the kicker stopped waiting
		}
		// Only the kicked replica's confirmation for this character counts:
		// a late ack addressed to an earlier process with the same replica
		// ID (request IDs are per process) must not confirm a kick whose
		// logout save has not happened, nor take the genuine ack's slot.
		if v.Origin != p.replica || v.char() != p.char {
			r.log.Warn("ignoring kick confirmation from the wrong replica or character",
				"req", v.ReqID, "from", v.Origin, "char", v.char(), "want_from", p.replica, "want_char", p.char)
			return
		}
		select {
		case p.reply <- v:
		default: // a duplicate
		}
	case kindLeave:
		// OnSessionsLost is application code and may be slow: never run it
		// on the receive loop, which must keep delivering casts and acks.
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.sessionsLost(v.Dead, v.Sessions)
		}()
	}
}

func (r *Registry) sessionsLost(replica string, lost []registry.SessionSnapshot) {
	if r.o.OnSessionsLost == nil || len(lost) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(r.life, time.Minute)
	defer cancel()
	r.o.OnSessionsLost(ctx, replica, lost)
}

// dedup returns ids without zero and duplicates, in first-seen order.
func dedup(ids []uint32) []uint32 {
	seen := make(map[uint32]bool, len(ids))
	out := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
