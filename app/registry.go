package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/redisreg"
	"github.com/guildhall/guildhall/registry"
)

// RegistryModule provides the registry.ChannelRegistry chosen by
// NewRegistry. A Redis registry is started by the OnStart hook (which fails
// when Redis cannot be reached); either kind is closed by the OnStop hook.
func RegistryModule() fx.Option { return fx.Module("registry", fx.Provide(provideRegistry)) }

// reapTimeout bounds the reaping of a dead replica's durable rows.
const reapTimeout = 10 * time.Second

// RegistryParams are NewRegistry's dependencies.
type RegistryParams struct {
	fx.In
	Config *config.Config
	Logger *slog.Logger
	Prom   *prometheus.Registry
	Store  *Store
}

// Registry is the chosen registry with its lifecycle: Start is nil for the
// in-process registry.
type Registry struct {
	registry.ChannelRegistry
	Start func(context.Context) error
	Close func(context.Context) error
}

// NewRegistry chooses the registry from the configuration: the in-process
// registry.Local when redis.url and redis.addrs are empty (the replica runs
// alone), the Redis registry (redisreg) otherwise. It does no I/O. This is
// the one place that decides.
func NewRegistry(p RegistryParams) (*Registry, error) {
	cfg := p.Config
	log := p.Logger.With("component", "registry")
	if !cfg.Redis.Enabled() {
		l := registry.NewLocal(cfg.Replica.ID, p.Logger) // it tags its own records component=registry
		return &Registry{ChannelRegistry: l, Close: l.Close}, nil
	}
	client, err := NewRedisClient(cfg.Redis)
	if err != nil {
		return nil, err
	}
	met, err := redisreg.NewMetrics(p.Prom)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("app: %w", err)
	}
	st := p.Store
	// The channels register with the registry after it is built; the
	// wrapper below records them so that the sweep callback can reach them
	// (Channels depends on the registry, so fx cannot hand them to it).
	local := newOfflineRelay(log)
	reg, err := redisreg.New(client, redisreg.Options{
		Prefix:      cfg.Redis.Prefix,
		ReplicaID:   cfg.Replica.ID,
		PresenceTTL: cfg.Redis.PresenceTTL.D(),
		LeaseTTL:    cfg.Redis.LeaseTTL.D(),
		LockTTL:     cfg.Redis.LockTTL.D(),
		KickTimeout: cfg.Session.KickTimeout.D(),
		Logger:      p.Logger,
		Metrics:     met,
		// A replica whose lease expired (crashed): reap its servers rows and
		// sign sessions. Only the replica that swept it calls this.
		OnReplicaDead: func(ctx context.Context, dead string) {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reapTimeout)
			defer cancel()
			n, err := st.ReapReplica(rctx, dead)
			if err != nil {
				log.Error("reaping dead replica's rows", "dead_replica", dead, "err", err)
				return
			}
			log.Info("dead replica reaped", "dead_replica", dead, "rows", n)
		},
		// Every live replica: tell its players which characters went with
		// the dead replica.
		OnSessionsLost: local.sessionsLost,
	})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("app: %w", err)
	}
	local.Registry = reg
	return &Registry{
		ChannelRegistry: local,
		Start: func(ctx context.Context) error {
			if err := reg.Start(ctx); err != nil {
				// fx does not stop a hook whose start failed: clean up here.
				_ = errors.Join(reg.Close(ctx), client.Close())
				return fmt.Errorf("app: start redis registry: %w", err)
			}
			return nil
		},
		Close: func(ctx context.Context) error {
			return errors.Join(reg.Close(ctx), client.Close())
		},
	}, nil
}

// offliner is implemented by channels that can tell their players about
// characters lost with a dead replica (*channel.Server).
type offliner interface {
	NotifyOffline(lost []registry.SessionSnapshot)
}

// offlineRelay is the Redis registry as the channels see it: it records the
// channels registered through it (this replica's running channels) and
// relays redisreg's OnSessionsLost to each of them. The embedded registry
// also supplies Refresh, which Channels uses to publish the draining state.
type offlineRelay struct {
	*redisreg.Registry
	log *slog.Logger

	mu    sync.Mutex
	chans map[uint16]offliner
}

func newOfflineRelay(log *slog.Logger) *offlineRelay {
	return &offlineRelay{log: log, chans: map[uint16]offliner{}}
}

// Register registers ch and, once it is registered, relays lost sessions to it.
func (o *offlineRelay) Register(ctx context.Context, ch registry.Channel) error {
	if err := o.Registry.Register(ctx, ch); err != nil {
		return err
	}
	if n, ok := ch.(offliner); ok {
		o.mu.Lock()
		o.chans[ch.Info().ID] = n
		o.mu.Unlock()
	}
	return nil
}

// Unregister stops relaying to the channel, then unregisters it.
func (o *offlineRelay) Unregister(ctx context.Context, channelID uint16) {
	o.mu.Lock()
	delete(o.chans, channelID)
	o.mu.Unlock()
	o.Registry.Unregister(ctx, channelID)
}

// sessionsLost is redisreg's OnSessionsLost: it pushes wire.PlayersOffline
// for lost to every session of every registered channel.
func (o *offlineRelay) sessionsLost(_ context.Context, dead string, lost []registry.SessionSnapshot) {
	o.mu.Lock()
	chans := make([]offliner, 0, len(o.chans))
	for _, n := range o.chans {
		chans = append(chans, n)
	}
	o.mu.Unlock()
	o.log.Info("telling players a dead replica's characters went offline",
		"dead_replica", dead, "players", len(lost), "channels", len(chans))
	for _, n := range chans {
		n.NotifyOffline(lost)
	}
}

// NewRedisClient builds the go-redis client described by rc: redis.url
// (a single server) or redis.addrs (with master_name: Sentinel; several
// addresses: Cluster; one: a single server). Username and password, when
// set, override those of the URL.
func NewRedisClient(rc config.RedisConfig) (redis.UniversalClient, error) {
	if rc.URL != "" {
		opts, err := redis.ParseURL(rc.URL)
		if err != nil {
			return nil, fmt.Errorf("config: redis.url: %w", err)
		}
		if rc.Username != "" {
			opts.Username = rc.Username
		}
		if rc.Password != "" {
			opts.Password = rc.Password
		}
		return redis.NewClient(opts), nil
	}
	if len(rc.Addrs) == 0 {
		return nil, errors.New("config: redis: neither url nor addrs set")
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:      rc.Addrs,
		MasterName: rc.MasterName,
		Username:   rc.Username,
		Password:   rc.Password,
	}), nil
}

func provideRegistry(lc fx.Lifecycle, p RegistryParams) (registry.ChannelRegistry, error) {
	reg, err := NewRegistry(p)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if reg.Start == nil {
				return nil
			}
			return reg.Start(ctx)
		},
		OnStop: func(ctx context.Context) error {
			if err := reg.Close(ctx); err != nil {
				return fmt.Errorf("app: close registry: %w", err)
			}
			return nil
		},
	})
	return reg.ChannelRegistry, nil
}
