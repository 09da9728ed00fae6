// Package app wires a guildhall replica with uber fx: one module per
// concern (config, logging, metrics, store, registry, channels, HTTP), each
// binding in its OnStart hook and draining in its OnStop hook.
//
// Start order is store (open, migrate), registry, HTTP (sign-in, health,
// metrics), channels (listen, register, claim servers rows); stop runs in
// reverse, so /readyz keeps answering "draining" while the channels drain:
// channels drain (bounded by session.drain_timeout) and shut down, their servers rows
// are removed, then the HTTP server, the registry and the store close.
//
// The package holds no mutable state: two apps with different
// configurations may run in one process (the tests do).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/guildhall/guildhall/config"
)

// Timeouts of the lifecycle.
const (
	// StartTimeout bounds all OnStart hooks (database connect and
	// migrations included).
	StartTimeout = 60 * time.Second
	// StopMargin is the time StopTimeoutFor allows after the passive drain
	// (session.drain_timeout) for the forced close with logout saves, row
	// removal and HTTP shutdown.
	StopMargin = 45 * time.Second
	// StopTimeout bounds all OnStop hooks of a replica with the default
	// session.drain_timeout; see StopTimeoutFor.
	StopTimeout = config.DefaultDrainTimeout + StopMargin
	// PopulationInterval is how often channel populations are written to
	// the servers table.
	PopulationInterval = 5 * time.Second
	// SignSessionSweepInterval is how often this replica deletes its
	// expired sign sessions.
	SignSessionSweepInterval = time.Minute
)

// ErrNoChannelStarted is returned by Start when channels are enabled in the
// configuration but none of them could start.
var ErrNoChannelStarted = errors.New("app: no enabled channel could start")

// Module returns every module of a replica configured by cfg. Modules are
// built by functions, not held in package variables: the package keeps no
// mutable state.
func Module(cfg *config.Config) fx.Option {
	return fx.Options(
		ConfigModule(cfg),
		LoggingModule(),
		MetricsModule(),
		StoreModule(),
		RegistryModule(),
		HTTPModule(),
		ChannelsModule(),
		// Construct HTTP before channels so its hooks start first and stop
		// last: /readyz reports the drain.
		fx.Invoke(func(*HTTPServer) {}),
		fx.Invoke(func(*Channels) {}),
	)
}

// ConfigModule supplies cfg. New validates it first.
func ConfigModule(cfg *config.Config) fx.Option {
	return fx.Module("config", fx.Supply(cfg))
}

// New builds (but does not start) a replica. cfg is validated first; a bad
// configuration makes app.Err() (and Start) return the error naming the
// field. extra options are for tests and tools (fx.Populate, fx.Decorate of
// the *slog.Logger, ...).
func New(cfg *config.Config, extra ...fx.Option) *fx.App {
	if cfg == nil {
		return fx.New(fx.NopLogger, fx.Error(errors.New("app: nil config")))
	}
	if err := cfg.Validate(); err != nil {
		return fx.New(fx.NopLogger, fx.Error(err))
	}
	opts := []fx.Option{
		Module(cfg),
		fx.StartTimeout(StartTimeout),
		fx.StopTimeout(StopTimeoutFor(cfg)),
		fxLogger(cfg),
	}
	return fx.New(append(opts, extra...)...)
}

// Run starts a replica, serves until ctx is cancelled or fx is told to shut
// down, then stops it gracefully. It returns the start error, or the stop
// error.
func Run(ctx context.Context, cfg *config.Config, extra ...fx.Option) error {
	a := New(cfg, extra...)
	if err := a.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		return fmt.Errorf("app: start: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-a.Wait():
	}
	stopCtx, cancel2 := context.WithTimeout(context.WithoutCancel(ctx), StopTimeoutFor(cfg))
	defer cancel2()
	if err := a.Stop(stopCtx); err != nil {
		return fmt.Errorf("app: stop: %w", err)
	}
	return nil
}

// StopTimeoutFor bounds all OnStop hooks of a replica configured by cfg:
// its session.drain_timeout plus StopMargin.
func StopTimeoutFor(cfg *config.Config) time.Duration {
	return cfg.Session.DrainTimeout.D() + StopMargin
}

// WithLogger replaces the configured logger (tests, tools).
func WithLogger(log *slog.Logger) fx.Option {
	return fx.Decorate(func(*slog.Logger) *slog.Logger { return log })
}
