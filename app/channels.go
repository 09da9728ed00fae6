package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/guildhall/guildhall/channel"
	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
)

// ChannelsModule provides *Channels: one channel.Server per enabled
// channel of the configuration, started by its OnStart hook and drained by
// its OnStop hook.
func ChannelsModule() fx.Option {
	return fx.Module("channels", fx.Provide(NewChannels, NewReadiness))
}

// DrainNotice is pushed to every player when the replica stops.
const DrainNotice = "This server is shutting down for maintenance; please reconnect to another channel."

// rowTimeout bounds the servers-table writes made on start and stop.
const rowTimeout = 10 * time.Second

// Channels runs the replica's channels. Channel IDs come from the
// configuration only: a disabled channel is skipped, a channel that fails
// to start is logged and reported (Failed, /readyz, the
// guildhall_channel_up metric) and the others start with their own IDs.
// Only channels that actually started are claimed in the servers table,
// and on stop only those rows are removed. Its methods are safe for
// concurrent use.
type Channels struct {
	cfg   *config.Config
	log   *slog.Logger
	reg   registry.ChannelRegistry
	store *Store
	met   *channel.Metrics
	up    *prometheus.GaugeVec

	mu       sync.Mutex
	started  bool
	draining bool
	servers  map[uint16]*channel.Server // started channels
	failed   map[uint16]error

	stop chan struct{} // closed by Stop: ends the bookkeeping loop
	wg   sync.WaitGroup
}

// ChannelsParams are NewChannels' dependencies.
type ChannelsParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    *config.Config
	Logger    *slog.Logger
	Registry  registry.ChannelRegistry
	Store     *Store
	Metrics   *channel.Metrics
	Prom      *prometheus.Registry
	Readiness *Readiness
}

// NewChannels returns the channel set and registers its lifecycle.
func NewChannels(p ChannelsParams) (*Channels, error) {
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "guildhall", Name: "channel_up",
		Help: "1 when the configured channel is running on this replica, 0 when it failed or stopped.",
	}, []string{"channel"})
	if err := p.Prom.Register(up); err != nil {
		return nil, fmt.Errorf("app: register channel_up: %w", err)
	}
	c := &Channels{
		cfg: p.Config, log: p.Logger.With("component", "channels"), reg: p.Registry,
		store: p.Store, met: p.Metrics, up: up,
		servers: map[uint16]*channel.Server{}, failed: map[uint16]error{},
		stop: make(chan struct{}),
	}
	p.Readiness.set(c.Ready)
	p.Lifecycle.Append(fx.Hook{OnStart: c.Start, OnStop: c.Stop})
	return c, nil
}

// Start starts every enabled channel, claims the servers rows of those that
// started and starts the bookkeeping loop (population, expired sign
// sessions). It fails only when channels are enabled and none started, or
// when the servers rows cannot be written; it then leaves nothing running.
func (c *Channels) Start(ctx context.Context) error {
	enabled := c.cfg.EnabledChannels()
	var rows []store.ServerRow
	var failures []error
	for _, cc := range enabled {
		id := uint16(cc.ID)
		srv, err := c.startOne(ctx, cc)
		label := strconv.Itoa(cc.ID)
		if err != nil {
			c.log.Error("channel failed to start; the others continue", "channel", cc.ID, "port", cc.Port, "err", err)
			c.up.WithLabelValues(label).Set(0)
			c.mu.Lock()
			c.failed[id] = err
			c.mu.Unlock()
			failures = append(failures, err)
			continue
		}
		c.up.WithLabelValues(label).Set(1)
		c.mu.Lock()
		c.servers[id] = srv
		c.mu.Unlock()
		info := srv.Info()
		rows = append(rows, store.ServerRow{
			ChannelID: id, ReplicaID: c.cfg.Replica.ID, Name: info.Name, Addr: info.Addr,
			Population: info.Players, MaxPlayers: info.MaxPlayers,
		})
	}
	if len(enabled) > 0 && len(rows) == 0 {
		return fmt.Errorf("%w: %w", ErrNoChannelStarted, errors.Join(failures...))
	}
	if len(rows) > 0 {
		if err := c.store.ClaimServers(ctx, c.cfg.Replica.ID, rows); err != nil {
			c.storeError()
			c.closeAll()
			return fmt.Errorf("app: claim servers rows: %w", err)
		}
	}
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	c.wg.Add(1)
	go c.bookkeeping()
	c.log.Info("channels started", "started", c.Started(), "failed", len(failures))
	return nil
}

// startOne binds the channel's listener and starts its server. The
// advertised address is advertise_host with the port actually bound, so
// port 0 ("any free port") works.
func (c *Channels) startOne(ctx context.Context, cc config.ChannelConfig) (*channel.Server, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(c.cfg.Replica.BindHost, strconv.Itoa(cc.Port)))
	if err != nil {
		return nil, fmt.Errorf("channel %d: listen: %w", cc.ID, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s := c.cfg.Session
	srv, err := channel.New(channel.Config{
		ID:               uint16(cc.ID),
		Name:             cc.ChannelName(),
		ReplicaID:        c.cfg.Replica.ID,
		ListenAddr:       ln.Addr().String(),
		AdvertiseAddr:    net.JoinHostPort(c.cfg.Replica.AdvertiseHost, strconv.Itoa(port)),
		MaxPlayers:       cc.Players(),
		TownStages:       cc.TownStages,
		IdleTimeout:      s.IdleTimeout.D(),
		HandshakeTimeout: s.HandshakeTimeout.D(),
		SendQueueLen:     s.SendQueue,
		WriteTimeout:     s.WriteTimeout.D(),
		WriteCoalesce:    s.WriteCoalesce.D(),
		SaveTimeout:      s.SaveTimeout.D(),
		KickTimeout:      s.KickTimeout.D(),
	}, channel.Deps{Registry: c.reg, Store: c.store, Logger: c.log, Metrics: c.met})
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("channel %d: %w", cc.ID, err)
	}
	if err := srv.Serve(ctx, ln); err != nil {
		_ = ln.Close()
		_ = srv.Close()
		return nil, fmt.Errorf("channel %d: %w", cc.ID, err)
	}
	return srv, nil
}

// closeAll force-closes every started channel (start failed half-way).
func (c *Channels) closeAll() {
	for _, srv := range c.snapshot() {
		_ = srv.Close()
	}
}

// Stop drains and stops the channels: it marks the replica draining
// (/readyz answers 503); every channel stops accepting and refuses new
// logins; with a Redis registry the draining state is published at once,
// so the other replicas' channel lists leave these channels out; then
// every player is told (DrainNotice) and has up to session.drain_timeout to
// leave. Then the channels shut down (remaining sessions are closed, each
// logout saves and removes its presence) and this replica's servers rows
// for them are removed. It never touches another replica's rows. Stop is
// safe to call once after Start.
func (c *Channels) Stop(ctx context.Context) error {
	c.mu.Lock()
	c.draining = true
	wasStarted := c.started
	c.mu.Unlock()
	if wasStarted {
		close(c.stop)
		c.wg.Wait()
	}
	servers := c.snapshot()
	drain := c.cfg.Session.DrainTimeout.D()
	c.log.Info("draining channels", "channels", len(servers), "drain_timeout", drain)

	// Drain with an ended context returns at once: it only marks the
	// channel draining and closes its listener (and pushes the notice).
	ended, endNow := context.WithCancel(ctx)
	endNow()
	for _, srv := range servers {
		srv.Drain(ended, "")
	}
	c.publishDraining(ctx)
	for _, srv := range servers {
		srv.Drain(ended, DrainNotice)
	}

	dctx, cancel := context.WithTimeout(ctx, drain)
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.Drain(dctx, "")
		}()
	}
	wg.Wait()
	cancel()

	errs := make([]error, len(servers))
	ids := make([]uint16, len(servers))
	for i, srv := range servers {
		ids[i] = srv.ID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = srv.Shutdown(ctx)
			c.up.WithLabelValues(strconv.Itoa(int(srv.ID()))).Set(0)
		}()
	}
	wg.Wait()

	if len(ids) > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rowTimeout)
		if err := c.store.RemoveServers(rctx, c.cfg.Replica.ID, ids); err != nil {
			c.storeError()
			c.log.Error("removing this replica's servers rows", "channels", ids, "err", err)
			errs = append(errs, fmt.Errorf("app: remove servers rows: %w", err))
		}
		cancel()
	}
	c.log.Info("channels stopped", "channels", ids)
	return errors.Join(errs...)
}

// refresher is implemented by registries that publish this replica's
// channel state to other replicas (redisreg.Registry).
type refresher interface {
	Refresh(ctx context.Context) error
}

// publishDraining pushes the channels' draining state to the registry now
// rather than at its next periodic refresh. A failure is logged: the
// periodic refresh, or the removal at shutdown, publishes it later.
func (c *Channels) publishDraining(ctx context.Context) {
	r, ok := c.reg.(refresher)
	if !ok {
		return // the in-process registry reads the channels' state directly
	}
	rctx, cancel := context.WithTimeout(ctx, rowTimeout)
	defer cancel()
	if err := r.Refresh(rctx); err != nil {
		c.log.Warn("publishing the draining state", "err", err)
	}
}

// bookkeeping writes populations every PopulationInterval and deletes this
// replica's expired sign sessions every SignSessionSweepInterval, until
// Stop.
func (c *Channels) bookkeeping() {
	defer c.wg.Done()
	pop := time.NewTicker(PopulationInterval)
	defer pop.Stop()
	sweep := time.NewTicker(SignSessionSweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-pop.C:
			c.writePopulations()
		case <-sweep.C:
			ctx, cancel := context.WithTimeout(context.Background(), rowTimeout)
			n, err := c.store.DeleteExpiredSignSessions(ctx, c.cfg.Replica.ID)
			cancel()
			if err != nil {
				c.storeError()
				c.log.Warn("deleting expired sign sessions", "err", err)
			} else if n > 0 {
				c.log.Debug("expired sign sessions deleted", "count", n)
			}
		}
	}
}

// storeError counts a failed store call of the bookkeeping in the channel
// metrics (guildhall_channel_store_errors_total).
func (c *Channels) storeError() {
	if c.met != nil {
		c.met.StoreErrors.Inc()
	}
}

func (c *Channels) writePopulations() {
	for _, srv := range c.snapshot() {
		info := srv.Info()
		ctx, cancel := context.WithTimeout(context.Background(), rowTimeout)
		err := c.store.UpdatePopulation(ctx, c.cfg.Replica.ID, info.ID, info.Players)
		cancel()
		if err != nil {
			c.storeError()
			c.log.Warn("updating channel population", "channel", info.ID, "err", err)
		}
	}
}

func (c *Channels) snapshot() []*channel.Server {
	c.mu.Lock()
	out := make([]*channel.Server, 0, len(c.servers))
	for _, s := range c.servers {
		out = append(out, s)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *channel.Server) int { return int(a.ID()) - int(b.ID()) })
	return out
}

// Started returns the IDs of the running channels, ascending.
func (c *Channels) Started() []uint16 {
	var ids []uint16
	for _, s := range c.snapshot() {
		ids = append(ids, s.ID())
	}
	return ids
}

// Failed returns the channels that failed to start, with their errors.
func (c *Channels) Failed() map[uint16]error {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uint16]error, len(c.failed))
	for id, err := range c.failed {
		out[id] = err
	}
	return out
}

// Addrs returns the advertised address of each running channel.
func (c *Channels) Addrs() map[uint16]string {
	out := map[uint16]string{}
	for _, s := range c.snapshot() {
		out[s.ID()] = s.Addr()
	}
	return out
}

// Ready reports nil when the channels have started, none failed, and the
// replica is not draining; otherwise an error saying why.
func (c *Channels) Ready(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.draining:
		return errors.New("draining")
	case !c.started:
		return errors.New("channels not started")
	}
	ids := make([]uint16, 0, len(c.failed))
	for id := range c.failed {
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		return fmt.Errorf("channel %d failed to start: %w", ids[0], c.failed[ids[0]])
	}
	return nil
}

// Readiness is the replica's readiness check as /readyz sees it (the store
// ping aside). It exists apart from Channels so the HTTP server can be
// built, started first and stopped last, before the channels are.
type Readiness struct {
	mu    sync.Mutex
	check func(context.Context) error
}

// NewReadiness returns a Readiness reporting "channels not started" until
// the channels are built.
func NewReadiness() *Readiness { return &Readiness{} }

func (r *Readiness) set(f func(context.Context) error) {
	r.mu.Lock()
	r.check = f
	r.mu.Unlock()
}

// Check reports nil when the replica is ready to take players.
func (r *Readiness) Check(ctx context.Context) error {
	r.mu.Lock()
	f := r.check
	r.mu.Unlock()
	if f == nil {
		return errors.New("channels not started")
	}
	return f(ctx)
}
