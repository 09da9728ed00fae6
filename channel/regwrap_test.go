package channel

import (
	"context"
	"fmt"
	"sync"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
)

// blockingSaveStore is a fakeStore whose SaveCharacter blocks until release
// is closed (or its context ends), after telling entered.
type blockingSaveStore struct {
	*fakeStore
	entered chan uint32 // buffered; a full buffer drops the signal
	release chan struct{}
	once    sync.Once
}

func newBlockingSaveStore(f *fakeStore) *blockingSaveStore {
	return &blockingSaveStore{fakeStore: f, entered: make(chan uint32, 8), release: make(chan struct{})}
}

func (b *blockingSaveStore) unblock() { b.once.Do(func() { close(b.release) }) }

func (b *blockingSaveStore) SaveCharacter(ctx context.Context, s store.CharacterSave) error {
	select {
	case b.entered <- s.CharID:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
		return fmt.Errorf("blocking save: %w", ctx.Err())
	}
	return b.fakeStore.SaveCharacter(ctx, s)
}

// hookReg wraps a registry: each hook, if set, runs around the call.
// Registered channels are wrapped so that onDisconnect sees every
// Disconnect the registry makes.
type hookReg struct {
	registry.ChannelRegistry
	// online replaces SessionOnline; next is the wrapped call.
	online func(ctx context.Context, s registry.SessionSnapshot, next func() error) error
	// onDisconnect runs before the registry's Disconnect call reaches channel ch.
	onDisconnect func(ch uint16, charID uint32)
}

func (r *hookReg) Register(ctx context.Context, ch registry.Channel) error {
	if r.onDisconnect != nil {
		ch = &hookChannel{Channel: ch, onDisconnect: r.onDisconnect}
	}
	return r.ChannelRegistry.Register(ctx, ch)
}

func (r *hookReg) SessionOnline(ctx context.Context, s registry.SessionSnapshot) error {
	if r.online == nil {
		return r.ChannelRegistry.SessionOnline(ctx, s)
	}
	return r.online(ctx, s, func() error { return r.ChannelRegistry.SessionOnline(ctx, s) })
}

type hookChannel struct {
	registry.Channel
	onDisconnect func(ch uint16, charID uint32)
}

func (c *hookChannel) Disconnect(ctx context.Context, charID uint32, reason string) (bool, error) {
	c.onDisconnect(c.Info().ID, charID)
	return c.Channel.Disconnect(ctx, charID, reason)
}
