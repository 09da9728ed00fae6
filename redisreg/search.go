package redisreg

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/guildhall/guildhall/registry"
	"github.com/redis/go-redis/v9"
)

// liveChannels returns the IDs of channels with a live info key, and their
// infos (one SMEMBERS, then pipelined GETs).
func (r *Registry) liveChannels(ctx context.Context) ([]registry.ChannelInfo, error) {
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	members, err := r.c.SMembers(octx, r.k.channels()).Result()
	if err != nil {
		return nil, r.fail(ctx, err, "list channels")
	}
	ids := make([]uint16, 0, len(members))
	for _, m := range members {
		if id, err := strconv.ParseUint(m, 10, 16); err == nil {
			ids = append(ids, uint16(id))
		}
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(octx, r.k.chinfo(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.fail(ctx, err, "list channels")
	}
	out := make([]registry.ChannelInfo, 0, len(ids))
	for _, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil {
			continue // expired: not live
		}
		info, err := decodeChannel(v)
		if err != nil {
			r.log.Warn("ignoring malformed channel info", "key", cmd.Args()[1], "err", err)
			continue
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b registry.ChannelInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Channels lists the live channels of the cluster, sorted by ID. Local
// channels report their current Info; remote ones their last refresh.
func (r *Registry) Channels(ctx context.Context) ([]registry.ChannelInfo, error) {
	if err := r.ready("channels"); err != nil {
		return nil, err
	}
	out, err := r.liveChannels(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	local := map[uint16]registry.Channel{}
	for id, lc := range r.channels {
		local[id] = lc.ch
	}
	r.mu.Unlock()
	for i, info := range out {
		if ch, ok := local[info.ID]; ok && info.ReplicaID == r.o.ReplicaID {
			cur := ch.Info()
			cur.ReplicaID = r.o.ReplicaID
			out[i] = cur
		}
	}
	return out, nil
}

// hashes reads whole per-channel hashes of the live channels (pipelined
// HGETALL; each is bounded by the channel's population or stage count).
func (r *Registry) hashes(ctx context.Context, key func(uint16) string, what string) ([]map[string]string, error) {
	if err := r.ready(what); err != nil {
		return nil, err
	}
	chans, err := r.liveChannels(ctx)
	if err != nil {
		return nil, err
	}
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	cmds := make([]*redis.MapStringStringCmd, len(chans))
	_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
		for i, ch := range chans {
			cmds[i] = p.HGetAll(octx, key(ch.ID))
		}
		return nil
	})
	if err != nil {
		return nil, r.fail(ctx, err, what)
	}
	out := make([]map[string]string, 0, len(cmds))
	for _, cmd := range cmds {
		out = append(out, cmd.Val())
	}
	return out, nil
}

// SearchSessions returns at most max (<= 0: all) sessions passing f across
// the cluster, sorted by CharID. A CharID filter is one presence lookup;
// otherwise the session indexes of the live channels are read.
func (r *Registry) SearchSessions(ctx context.Context, f registry.SessionFilter, max int) ([]registry.SessionSnapshot, error) {
	if r.isClosed() {
		return nil, fmt.Errorf("redisreg: search sessions: %w", registry.ErrClosed)
	}
	if f.CharID != 0 {
		s, err := r.FindSession(ctx, f.CharID)
		if errors.Is(err, registry.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !f.Match(s) {
			return nil, nil
		}
		return []registry.SessionSnapshot{s}, nil
	}
	hs, err := r.hashes(ctx, r.k.chsess, "search sessions")
	if err != nil {
		return nil, err
	}
	seen := map[uint32]bool{}
	var out []registry.SessionSnapshot
	for _, h := range hs {
		for _, v := range h {
			s, err := decodeSession(v)
			if err != nil || seen[s.CharID] || !f.Match(s) {
				continue
			}
			seen[s.CharID] = true
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b registry.SessionSnapshot) int { return cmp.Compare(a.CharID, b.CharID) })
	if max > 0 && len(out) > max {
		out = out[:max:max]
	}
	return out, nil
}

// SearchStages returns at most max (<= 0: all) stages whose ID starts with
// prefix, sorted by StageID then ChannelID.
func (r *Registry) SearchStages(ctx context.Context, prefix string, max int) ([]registry.StageSnapshot, error) {
	if r.isClosed() {
		return nil, fmt.Errorf("redisreg: search stages: %w", registry.ErrClosed)
	}
	hs, err := r.hashes(ctx, r.k.chstages, "search stages")
	if err != nil {
		return nil, err
	}
	var out []registry.StageSnapshot
	for _, h := range hs {
		for id, v := range h {
			if !strings.HasPrefix(id, prefix) {
				continue
			}
			if s, err := decodeStage(v); err == nil {
				out = append(out, s)
			}
		}
	}
	sortStages(out)
	if max > 0 && len(out) > max {
		out = out[:max:max]
	}
	return out, nil
}

func sortStages(s []registry.StageSnapshot) {
	slices.SortFunc(s, func(a, b registry.StageSnapshot) int {
		if c := cmp.Compare(a.StageID, b.StageID); c != 0 {
			return c
		}
		return cmp.Compare(a.ChannelID, b.ChannelID)
	})
}

// FindChannelForStage returns the stage stageID (the lowest channel ID if
// several channels host one), from local stages first, else by a pipelined
// HGET on every live channel's stage index; or ErrNotFound.
func (r *Registry) FindChannelForStage(ctx context.Context, stageID string) (registry.StageSnapshot, error) {
	what := fmt.Sprintf("find stage %q", stageID)
	if r.isClosed() {
		return registry.StageSnapshot{}, fmt.Errorf("redisreg: %s: %w", what, registry.ErrClosed)
	}
	var found []registry.StageSnapshot
	r.mu.Lock()
	for _, lc := range r.channels {
		if s, ok := lc.stages[stageID]; ok {
			found = append(found, s)
		}
	}
	r.mu.Unlock()
	if err := r.ready(what); err == nil {
		chans, err := r.liveChannels(ctx)
		if err != nil {
			return registry.StageSnapshot{}, err
		}
		octx, cancel := r.opCtx(ctx)
		defer cancel()
		cmds := make([]*redis.StringCmd, len(chans))
		_, err = r.c.Pipelined(octx, func(p redis.Pipeliner) error {
			for i, ch := range chans {
				cmds[i] = p.HGet(octx, r.k.chstages(ch.ID), stageID)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return registry.StageSnapshot{}, r.fail(ctx, err, what)
		}
		for _, cmd := range cmds {
			if v, err := cmd.Result(); err == nil {
				if s, err := decodeStage(v); err == nil {
					found = append(found, s)
				}
			}
		}
	} else if len(found) == 0 {
		return registry.StageSnapshot{}, err
	}
	if len(found) == 0 {
		return registry.StageSnapshot{}, fmt.Errorf("redisreg: %s: %w", what, registry.ErrNotFound)
	}
	sortStages(found)
	return found[0], nil
}
