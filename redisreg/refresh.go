package redisreg

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/redis/go-redis/v9"
)

// refreshBatch bounds the commands of one refresh pipeline.
const refreshBatch = 512

// Refresh re-writes everything this replica publishes: the lease, channel
// claims and infos, presence keys and the per-channel indexes (rewritten
// whole in a MULTI so fields of sessions gone meanwhile disappear). It runs
// every RefreshInterval and after Redis comes back; it is exported for
// tests and operators. A claim found held by another replica is logged.
func (r *Registry) Refresh(ctx context.Context) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.isClosed() {
		return nil
	}
	type chanState struct {
		info     registry.ChannelInfo
		sessions map[string]any
		stages   map[string]any
	}
	r.mu.Lock()
	chans := make([]*chanState, 0, len(r.channels))
	byID := map[uint16]*chanState{}
	lcs := make([]*localChannel, 0, len(r.channels))
	for id, lc := range r.channels {
		cs := &chanState{info: lc.info, sessions: map[string]any{}, stages: map[string]any{}}
		for sid, s := range lc.stages {
			cs.stages[sid] = encodeStage(s)
		}
		chans = append(chans, cs)
		byID[id] = cs
		lcs = append(lcs, lc)
	}
	presence := make(map[uint32]string, len(r.sessions))
	for c, s := range r.sessions {
		v := encodeSession(s)
		presence[c] = v
		if cs := byID[s.ChannelID]; cs != nil {
			cs.sessions[strconv.FormatUint(uint64(c), 10)] = v
		}
	}
	r.mu.Unlock()
	// Current population and draining state (outside mu: lock order).
	for i, lc := range lcs {
		info := lc.ch.Info()
		info.ReplicaID = r.o.ReplicaID
		chans[i].info = info
	}

	// Every round trip gets its own OpTimeout: one budget shared by all
	// batches would fail (and mark Redis down) once a replica hosts enough
	// sessions, however healthy Redis is.
	claims := make(map[uint16]*redis.Cmd, len(chans))
	err := r.pipelined(ctx, func(octx context.Context, p redis.Pipeliner) {
		p.Set(octx, r.k.lease(r.o.ReplicaID), strconv.FormatInt(time.Now().UnixMilli(), 10), r.o.LeaseTTL)
		p.SAdd(octx, r.k.replicas(), r.o.ReplicaID)
		for _, cs := range chans {
			claims[cs.info.ID] = r.claim.Eval(octx, p, []string{r.k.claim(cs.info.ID)}, r.o.ReplicaID, r.o.LeaseTTL.Milliseconds())
		}
	})
	if err != nil {
		return r.fail(ctx, err, "refresh lease")
	}
	// A channel whose claim another replica holds now (after this replica
	// was swept as dead, or lost it with Redis's data) is that replica's:
	// writing its info or indexes would overwrite the owner's.
	held := chans[:0]
	for _, cs := range chans {
		if h, _ := claims[cs.info.ID].Text(); h != r.o.ReplicaID {
			r.log.Error("channel claimed by another replica; not publishing it", "channel", cs.info.ID, "holder", h)
			continue
		}
		held = append(held, cs)
	}
	if len(held) > 0 {
		err = r.pipelined(ctx, func(octx context.Context, p redis.Pipeliner) {
			for _, cs := range held {
				r.writeChannelInfo(octx, p, cs.info)
			}
		})
		if err != nil {
			return r.fail(ctx, err, "refresh channel infos")
		}
	}
	for _, cs := range held {
		octx, cancel := r.opCtx(ctx)
		_, err := r.c.TxPipelined(octx, func(p redis.Pipeliner) error {
			for _, k := range []struct {
				key    string
				fields map[string]any
			}{{r.k.chsess(cs.info.ID), cs.sessions}, {r.k.chstages(cs.info.ID), cs.stages}} {
				p.Del(octx, k.key)
				if len(k.fields) > 0 {
					p.HSet(octx, k.key, k.fields)
					p.PExpire(octx, k.key, r.o.indexTTL())
				}
			}
			return nil
		})
		cancel()
		if err != nil {
			return r.fail(ctx, err, "refresh channel indexes")
		}
	}
	chars := slices.Collect(maps.Keys(presence))
	for batch := range slices.Chunk(chars, refreshBatch) {
		err := r.pipelined(ctx, func(octx context.Context, p redis.Pipeliner) {
			for _, c := range batch {
				p.Set(octx, r.k.presence(c), presence[c], r.o.PresenceTTL)
			}
		})
		if err != nil {
			return r.fail(ctx, err, "refresh presence")
		}
	}
	return nil
}

// pipelined runs one pipeline bounded by its own OpTimeout.
func (r *Registry) pipelined(ctx context.Context, fill func(octx context.Context, p redis.Pipeliner)) error {
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	_, err := r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		fill(octx, p)
		return nil
	})
	return err
}

// refreshLoop refreshes presence every RefreshInterval (and at once when
// woken after Redis came back) and semaphore locks every LockTTL/3.
func (r *Registry) refreshLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.o.RefreshInterval)
	defer t.Stop()
	st := time.NewTicker(r.o.LockTTL / 3)
	defer st.Stop()
	for {
		select {
		case <-r.life.Done():
			return
		case <-t.C:
		case <-r.wake:
		case <-st.C:
			r.refreshSems(r.life)
			continue
		}
		if r.down.Load() {
			continue
		}
		if err := r.Refresh(r.life); err != nil {
			r.log.Warn("refresh failed", "err", err)
		}
	}
}

// healthLoop pings Redis every HealthInterval while it is marked down and
// clears the mark (and asks for an immediate refresh) when it answers.
func (r *Registry) healthLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.o.HealthInterval)
	defer t.Stop()
	for r.tick(t) {
		if !r.down.Load() {
			continue
		}
		octx, cancel := r.opCtx(r.life)
		err := r.c.Ping(octx).Err()
		cancel()
		if err != nil {
			continue
		}
		r.down.Store(false)
		r.log.Info("redis reachable again; re-registering")
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}
