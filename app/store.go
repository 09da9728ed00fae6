package app

import (
	"context"
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/pgstore"
)

// StoreModule provides *Store: the PostgreSQL store, connected and migrated
// by its OnStart hook and closed by its OnStop hook.
func StoreModule() fx.Option { return fx.Module("store", fx.Provide(NewStore)) }

// Store is the replica's database. It embeds *pgstore.Store, which is nil
// until the OnStart hook has connected and migrated; every other component
// starts after it and stops before it, so none sees it nil.
type Store struct {
	*pgstore.Store
}

// NewStore returns the Store and registers its lifecycle.
func NewStore(lc fx.Lifecycle, cfg *config.Config, log *slog.Logger) *Store {
	s := &Store{}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			st, err := pgstore.Open(ctx, cfg.Database.URL, pgstore.Options{
				MaxConns: int32(cfg.Database.MaxConns),
				Logger:   log.With("component", "pgstore"),
			})
			if err != nil {
				return fmt.Errorf("app: open database: %w", err)
			}
			if err := st.Migrate(ctx); err != nil {
				st.Close()
				return fmt.Errorf("app: migrate database: %w", err)
			}
			s.Store = st
			return nil
		},
		OnStop: func(context.Context) error {
			if s.Store != nil {
				s.Store.Close()
			}
			return nil
		},
	})
	return s
}
