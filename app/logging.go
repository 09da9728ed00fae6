package app

import (
	"fmt"
	"log/slog"
	"os"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/guildhall/guildhall/config"
)

// LoggingModule provides the *slog.Logger: text or JSON on stderr at the
// configured level, every record tagged with the replica ID.
func LoggingModule() fx.Option { return fx.Module("logging", fx.Provide(NewLogger)) }

// NewLogger builds the logger described by cfg.Log.
func NewLogger(cfg *config.Config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return nil, fmt.Errorf("config: log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch cfg.Log.Format {
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	case "text", "":
		h = slog.NewTextHandler(os.Stderr, opts)
	default:
		return nil, fmt.Errorf("config: log.format: %q: want text or json", cfg.Log.Format)
	}
	return slog.New(h).With("replica", cfg.Replica.ID), nil
}

// fxLogger routes fx's own events to the replica's logger at debug level,
// and silences them otherwise.
func fxLogger(cfg *config.Config) fx.Option {
	if cfg.Log.Level != "debug" {
		return fx.NopLogger
	}
	return fx.WithLogger(func(log *slog.Logger) fxevent.Logger {
		l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
		l.UseLogLevel(slog.LevelDebug)
		return l
	})
}
