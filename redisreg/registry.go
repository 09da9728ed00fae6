// Package redisreg is the Redis implementation of registry.ChannelRegistry:
// it makes the replicas of a cluster one world.
//
// Layout in Redis (every name starts with Options.Prefix, written P):
//
//	P:world                 pub/sub: worldcasts and leave events, to every replica
//	P:replica:ID            pub/sub: directed to replica ID (casts, mail, kicks, kick acks)
//	P:presence:CHAR         string, TTL PresenceTTL: encoded SessionSnapshot
//	P:chsess:CH             hash charID → SessionSnapshot, TTL indexTTL (whole key)
//	P:chstages:CH           hash stageID → StageSnapshot, TTL indexTTL (whole key)
//	P:channel:CH            string, TTL LeaseTTL: the replica that claims channel CH
//	P:chinfo:CH             string, TTL LeaseTTL: encoded ChannelInfo
//	P:channels              set of channel IDs ever registered and not removed
//	P:lease:ID              string, TTL LeaseTTL: replica ID is alive
//	P:replicas              set of replica IDs with (possibly expired) leases
//	P:rchans:ID             set of channel IDs replica ID runs (for the sweeper)
//	P:sweep:ID              string, short TTL: the sweep lock of dead replica ID
//	P:sema:{NAME}           redislock lock of global semaphore NAME (metadata: Holder)
//	P:fence:{NAME}          fencing counter of NAME (no TTL)
//
// Everything a replica publishes is re-written (not merely expired) every
// RefreshInterval in pipelined batches, so after Redis loses its dataset the
// cluster is whole again within one interval. No per-field TTLs (Redis 7.0
// has no HEXPIRE), no keyspace notifications, no KEYS or SCAN.
//
// Redis Cluster: only fence.lua touches two keys, which share the hash tag
// {NAME}; every other script takes one key, and multi-key work is pipelined
// single-key commands (go-redis splits pipelines, and MULTI blocks, by slot).
//
// Local recipients are always served directly, so local traffic flows while
// Redis is down. Cross-replica operations then fail fast with an error
// wrapping registry.ErrUnavailable: after a failed Redis operation the
// registry refuses further ones until a background ping succeeds.
//
// Lock order: wmu, then semMu, then mu. mu is never held during a Redis call
// or a Channel call.
package redisreg

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bsm/redislock"
	"github.com/guildhall/guildhall/registry"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed fence.lua
	fenceLua string
	//go:embed claim.lua
	claimLua string
	//go:embed casdel.lua
	casdelLua string
)

// Registry is the Redis ChannelRegistry of one replica. Create it with New,
// then Start it; Close it on shutdown. All methods are safe for concurrent use.
type Registry struct {
	c      redis.UniversalClient
	o      Options
	k      keys
	log    *slog.Logger
	m      *Metrics
	locker *redislock.Client
	fence  *redis.Script
	claim  *redis.Script
	casdel *redis.Script

	down atomic.Bool // a Redis operation failed; cleared by a successful ping

	life   context.Context // cancelled when background work stops
	cancel context.CancelFunc
	wake   chan struct{} // asks the refresher for an immediate refresh
	// kickSlots holds one token per kick being handled (MaxKickHandlers);
	// refusals queues the immediate answers to kicks shed when it is full.
	kickSlots chan struct{}
	refusals  chan refusal
	shedding  atomic.Bool // kicks are being shed (logged once per episode)
	wg        sync.WaitGroup
	halted    sync.Once

	wmu   sync.Mutex // serialises presence/index writes with the refresh
	semMu sync.Mutex // serialises semaphore acquire and release

	mu       sync.Mutex
	started  bool
	closed   bool
	ps       *redis.PubSub
	channels map[uint16]*localChannel
	sessions map[uint32]registry.SessionSnapshot // sessions on this replica
	gens     map[uint32]uint64                   // registration of each session (SessionOnline's count)
	nextGen  uint64
	sems     map[string]*heldSem
	lostSems map[string]registry.Holder // semaphores found lost, until their holder learns it
	kicks    map[uint64]pendingKick     // pending kick acks by request ID
	nextReq  uint64
}

type localChannel struct {
	ch     registry.Channel
	info   registry.ChannelInfo
	stages map[string]registry.StageSnapshot
}

var _ registry.ChannelRegistry = (*Registry)(nil)

// New returns a Registry for client (a single Redis, Sentinel or Cluster
// client) with opts. It does no I/O; call Start.
func New(client redis.UniversalClient, opts Options) (*Registry, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrBadOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// Kick request IDs start at a random point so that a restarted process
	// with the same replica ID does not reuse its predecessor's IDs.
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("redisreg: seed request IDs: %w", err)
	}
	life, cancel := context.WithCancel(context.Background())
	return &Registry{
		nextReq: binary.BigEndian.Uint64(seed[:]) >> 1,
		c:       client, o: o, k: keys{o.Prefix},
		log:       o.Logger.With("component", "redisreg", "replica", o.ReplicaID),
		m:         o.Metrics,
		locker:    redislock.New(client),
		fence:     redis.NewScript(fenceLua),
		claim:     redis.NewScript(claimLua),
		casdel:    redis.NewScript(casdelLua),
		life:      life,
		cancel:    cancel,
		wake:      make(chan struct{}, 1),
		kickSlots: make(chan struct{}, o.MaxKickHandlers),
		refusals:  make(chan refusal, o.MaxKickHandlers),
		channels:  make(map[uint16]*localChannel),
		sessions:  make(map[uint32]registry.SessionSnapshot),
		gens:      make(map[uint32]uint64),
		sems:      make(map[string]*heldSem),
		lostSems:  make(map[string]registry.Holder),
		kicks:     make(map[uint64]pendingKick),
	}, nil
}

// ReplicaID returns this replica's ID.
func (r *Registry) ReplicaID() string { return r.o.ReplicaID }

// Start subscribes to the world and this replica's channels, writes the
// replica lease, and starts the refresher, the health check and the sweeper.
// It fails with an error wrapping registry.ErrUnavailable if Redis cannot be
// reached; the registry must then be closed. Start may be called once.
func (r *Registry) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.closed || r.started {
		r.mu.Unlock()
		return fmt.Errorf("redisreg: start: already started or %w", registry.ErrClosed)
	}
	r.started = true
	ps := r.c.Subscribe(r.life, r.k.world(), r.k.replicaChan(r.o.ReplicaID))
	r.ps = ps
	r.mu.Unlock()

	// Wait for both subscription confirmations so nothing published after
	// Start returns is missed.
	sctx, cancel := context.WithTimeout(ctx, 10*r.o.OpTimeout)
	defer cancel()
	for n := 0; n < 2; {
		msg, err := ps.Receive(sctx)
		if err != nil {
			return r.fail(ctx, err, "start: subscribe")
		}
		if _, ok := msg.(*redis.Subscription); ok {
			n++
		}
	}
	if err := r.Refresh(ctx); err != nil {
		return err
	}
	msgs := ps.Channel(redis.WithChannelSize(4096))
	r.wg.Add(5)
	go r.receiveLoop(msgs)
	go r.refusalLoop()
	go r.refreshLoop()
	go r.healthLoop()
	go r.sweepLoop()
	r.log.Info("redis registry started", "prefix", r.o.Prefix)
	return nil
}

// halt stops background work and the subscription without removing
// anything from Redis (what a crash looks like to the rest of the cluster).
func (r *Registry) halt() {
	r.halted.Do(func() {
		r.cancel()
		r.mu.Lock()
		ps := r.ps
		r.mu.Unlock()
		if ps != nil {
			_ = ps.Close()
		}
		r.wg.Wait()
	})
}

// Close stops background work, releases held semaphores and removes what
// this replica published (presence, indexes, claims, lease). It is
// idempotent; the cleanup is best-effort and bounded by ctx.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.halt()

	r.semMu.Lock()
	r.mu.Lock()
	sems := r.sems
	r.sems = make(map[string]*heldSem)
	clear(r.lostSems)
	r.mu.Unlock()
	for _, h := range sems {
		_ = r.releaseLock(ctx, h)
	}
	r.semMu.Unlock()

	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	var ids []uint16
	for id := range r.channels {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, r.unpublishChannel(ctx, id))
	}
	cctx, cancel := r.opCtx(ctx)
	defer cancel()
	_, err := r.c.Pipelined(cctx, func(p redis.Pipeliner) error {
		p.Del(cctx, r.k.lease(r.o.ReplicaID))
		p.Del(cctx, r.k.replicaChans(r.o.ReplicaID))
		p.SRem(cctx, r.k.replicas(), r.o.ReplicaID)
		return nil
	})
	errs = append(errs, err)
	r.log.Info("redis registry closed")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redisreg: close: cleanup: %w", err)
	}
	return nil
}

// opCtx bounds one Redis round trip by OpTimeout.
func (r *Registry) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.o.OpTimeout)
}

// ready fails fast when the registry is closed or Redis is known down.
func (r *Registry) ready(what string) error {
	if r.isClosed() {
		return fmt.Errorf("redisreg: %s: %w", what, registry.ErrClosed)
	}
	if r.down.Load() {
		r.m.Unavailable.Inc()
		return fmt.Errorf("redisreg: %s: %w (waiting for a successful health check)", what, registry.ErrUnavailable)
	}
	return nil
}

// fail classifies err from a Redis call. A reply error from the server is
// returned as is (wrapped); the caller's own cancellation is returned as
// the context's error; anything else (network, OpTimeout) marks Redis down
// and wraps registry.ErrUnavailable.
func (r *Registry) fail(ctx context.Context, err error, what string) error {
	if err == nil {
		return nil
	}
	r.m.RedisErrors.Inc()
	var rerr redis.Error
	if errors.As(err, &rerr) && !isConnErr(err) {
		return fmt.Errorf("redisreg: %s: %w", what, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("redisreg: %s: %w", what, cerr)
	}
	if !r.down.Swap(true) {
		r.log.Warn("redis unreachable; cross-replica operations fail fast until it answers", "op", what, "err", err)
	}
	r.m.Unavailable.Inc()
	return fmt.Errorf("redisreg: %s: %w: %w", what, registry.ErrUnavailable, err)
}

// isConnErr reports reply errors that mean the server cannot serve now.
func isConnErr(err error) bool {
	s := err.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// publish sends v on channel. It counts and logs; errors are classified by fail.
func (r *Registry) publish(ctx context.Context, channel string, v envelope) error {
	v.Origin = r.o.ReplicaID
	octx, cancel := r.opCtx(ctx)
	defer cancel()
	if err := r.c.Publish(octx, channel, v.encode()).Err(); err != nil {
		return r.fail(ctx, err, "publish "+v.Kind.String())
	}
	r.m.Published.WithLabelValues(v.Kind.String()).Inc()
	return nil
}

// local returns the registered channels, copied under mu.
func (r *Registry) local() []*localChannel {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*localChannel, 0, len(r.channels))
	for _, lc := range r.channels {
		out = append(out, lc)
	}
	return out
}

// localSession returns the local session of char and its channel.
func (r *Registry) localSession(char uint32) (registry.SessionSnapshot, registry.Channel, bool) {
	s, ch, _, ok := r.localSessionGen(char)
	return s, ch, ok
}

// localSessionGen is localSession with the session's registration number
// (distinct for every SessionOnline, so a new login of the same character
// on the same channel is told apart from the session it replaced).
func (r *Registry) localSessionGen(char uint32) (registry.SessionSnapshot, registry.Channel, uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[char]
	if !ok {
		return s, nil, 0, false
	}
	lc := r.channels[s.ChannelID]
	if lc == nil {
		return s, nil, 0, false
	}
	return s, lc.ch, r.gens[char], true
}

func (r *Registry) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// tick waits for t or until background work stops; it reports false on stop.
func (r *Registry) tick(t *time.Ticker) bool {
	select {
	case <-r.life.Done():
		return false
	case <-t.C:
		return true
	}
}
