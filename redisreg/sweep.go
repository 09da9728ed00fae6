package redisreg

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/redis/go-redis/v9"
)

// leaveChunk bounds the sessions of one leave message.
const leaveChunk = 256

// Sweep looks for replicas in the replica set whose lease expired and, for
// each one whose sweep lock it wins, removes its channel indexes, claims,
// infos and the presence keys still pointing to it, drops it from the set,
// publishes leave events, calls OnSessionsLost and OnReplicaDead. It returns
// the IDs of the replicas it swept. It runs every SweepInterval; it is
// exported for tests and operators.
func (r *Registry) Sweep(ctx context.Context) ([]string, error) {
	if err := r.ready("sweep"); err != nil {
		return nil, err
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	members, err := r.c.SMembers(octx, r.k.replicas()).Result()
	if err != nil {
		return nil, r.fail(ctx, err, "sweep: list replicas")
	}
	others := members[:0]
	for _, m := range members {
		if m != r.o.ReplicaID {
			others = append(others, m)
		}
	}
	if len(others) == 0 {
		return nil, nil
	}
	exists := make([]*redis.IntCmd, len(others))
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, m := range others {
			exists[i] = p.Exists(octx, r.k.lease(m))
		}
		return nil
	})
	if err != nil {
		return nil, r.fail(ctx, err, "sweep: check leases")
	}
	var swept []string
	for i, m := range others {
		if exists[i].Val() != 0 {
			continue
		}
		ok, err := r.c.SetNX(octx, r.k.sweepLock(m), r.o.ReplicaID, r.o.LeaseTTL).Result()
		if err != nil {
			return swept, r.fail(ctx, err, "sweep: lock")
		}
		if !ok {
			continue // another replica sweeps it
		}
		// Check again under the sweep lock: the replica may have refreshed
		// its lease since the check above (a pause, not a crash), or another
		// sweeper may have finished with it and let its lock expire.
		var lease *redis.IntCmd
		var member *redis.BoolCmd
		_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
			lease = p.Exists(octx, r.k.lease(m))
			member = p.SIsMember(octx, r.k.replicas(), m)
			return nil
		})
		if err != nil {
			return swept, r.fail(ctx, err, "sweep: recheck lease")
		}
		if lease.Val() != 0 {
			// Alive: drop our sweep lock so a later sweep is not held off.
			r.casdel.Run(octx, r.c, []string{r.k.sweepLock(m)}, r.o.ReplicaID)
			continue
		}
		if !member.Val() {
			continue // already swept
		}
		if err := r.sweepReplica(ctx, m); err != nil {
			return swept, err
		}
		swept = append(swept, m)
	}
	return swept, nil
}

func (r *Registry) sweepReplica(ctx context.Context, dead string) error {
	log := r.log.With("dead_replica", dead)
	octx, cancel := context.WithTimeout(ctx, 4*r.o.OpTimeout)
	defer cancel()
	members, err := r.c.SMembers(octx, r.k.replicaChans(dead)).Result()
	if err != nil {
		return r.fail(ctx, err, "sweep: channels of "+dead)
	}
	var ids []uint16
	for _, m := range members {
		if id, err := strconv.ParseUint(m, 10, 16); err == nil {
			ids = append(ids, uint16(id))
		}
	}
	sess := make([]*redis.MapStringStringCmd, len(ids))
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			sess[i] = p.HGetAll(octx, r.k.chsess(id))
		}
		return nil
	})
	if err != nil {
		return r.fail(ctx, err, "sweep: sessions of "+dead)
	}
	// Channels another replica has claimed since (a takeover) keep their
	// keys; the others lose them. Single-key commands only (Cluster-safe).
	claims := make([]*redis.StringCmd, len(ids))
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			claims[i] = p.Get(octx, r.k.claim(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return r.fail(ctx, err, "sweep: read claims of "+dead)
	}
	var lost []registry.SessionSnapshot
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			for _, v := range sess[i].Val() {
				s, err := decodeSession(v)
				if err != nil || s.ReplicaID != dead {
					continue
				}
				lost = append(lost, s)
				// Only while the presence still points to the dead session.
				r.casdel.Eval(octx, p, []string{r.k.presence(s.CharID)}, v)
			}
			if holder, err := claims[i].Result(); err == nil && holder != dead {
				continue // taken over
			}
			r.casdel.Eval(octx, p, []string{r.k.claim(id)}, dead)
			p.Del(octx, r.k.chsess(id))
			p.Del(octx, r.k.chstages(id))
			p.Del(octx, r.k.chinfo(id))
			p.SRem(octx, r.k.channels(), id)
		}
		p.Del(octx, r.k.replicaChans(dead))
		p.SRem(octx, r.k.replicas(), dead)
		return nil
	})
	if err != nil {
		return r.fail(ctx, err, "sweep: remove keys of "+dead)
	}
	r.m.Sweeps.Inc()
	log.Info("swept dead replica", "channels", len(ids), "sessions", len(lost))
	for start := 0; start < len(lost); start += leaveChunk {
		chunk := lost[start:min(start+leaveChunk, len(lost))]
		if err := r.publish(ctx, r.k.world(), envelope{Kind: kindLeave, Dead: dead, Sessions: chunk}); err != nil {
			log.Warn("leave event not published", "err", err)
		}
	}
	r.sessionsLost(dead, lost)
	if r.o.OnReplicaDead != nil {
		r.o.OnReplicaDead(ctx, dead)
	}
	return nil
}

// sweepLoop runs Sweep every SweepInterval.
func (r *Registry) sweepLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.o.SweepInterval)
	defer t.Stop()
	for r.tick(t) {
		if r.down.Load() {
			continue
		}
		if _, err := r.Sweep(r.life); err != nil && !errors.Is(err, registry.ErrUnavailable) && !errors.Is(err, context.Canceled) {
			r.log.Warn("sweep failed", "err", err)
		}
	}
}
