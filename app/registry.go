package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/registry"
)

// RegistryModule provides the registry.ChannelRegistry chosen by
// NewRegistry; its OnStop hook closes it.
var RegistryModule = fx.Module("registry", fx.Provide(provideRegistry))

// ErrRedisNotWired: a Redis registry is configured but this build cannot
// run one yet.
var ErrRedisNotWired = errors.New("app: redis registry not available in this build")

// NewRegistry chooses the registry from cfg: the in-process registry when
// no Redis is configured (redis.url and redis.addrs empty; the replica runs
// alone), the Redis registry otherwise. This is the one place that decides.
func NewRegistry(cfg *config.Config, log *slog.Logger) (registry.ChannelRegistry, error) {
	if !cfg.Redis.Enabled() {
		return registry.NewLocal(cfg.Replica.ID, log.With("component", "registry")), nil
	}
	// TODO(lead): construct redisreg here once it lands.
	return nil, fmt.Errorf("config: redis.url: %w", ErrRedisNotWired)
}

func provideRegistry(lc fx.Lifecycle, cfg *config.Config, log *slog.Logger) (registry.ChannelRegistry, error) {
	reg, err := NewRegistry(cfg, log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStop: func(ctx context.Context) error {
			if err := reg.Close(ctx); err != nil {
				return fmt.Errorf("app: close registry: %w", err)
			}
			return nil
		},
	})
	return reg, nil
}
