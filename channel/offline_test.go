package channel

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// nextOffline returns the next PlayersOffline pushed to c.
func nextOffline(t *testing.T, c *tclient) *wire.PlayersOffline {
	t.Helper()
	return c.push(wire.TPlayersOffline).(*wire.PlayersOffline)
}

// noMoreOffline checks, with a Ping round trip (a session's frames arrive
// in order), that no further PlayersOffline was queued for c.
func noMoreOffline(t *testing.T, c *tclient) {
	t.Helper()
	if _, ok := c.call(&wire.Ping{ClientTime: 1}).(*wire.Pong); !ok {
		t.Fatal("ping: no Pong")
	}
	for _, m := range c.pending {
		if m.Type() == wire.TPlayersOffline {
			t.Fatalf("unexpected extra PlayersOffline: %v", m)
		}
	}
}

func TestNotifyOfflineTellsEverySession(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	alice := login(t, srv, h.store.addChar(1, "Alice"))
	bob := login(t, srv, h.store.addChar(2, "Bob"))

	lost := []registry.SessionSnapshot{
		{CharID: 7, Name: "Carol", ReplicaID: "replica-dead", ChannelID: 3},
		{CharID: 8, Name: "Dave", ReplicaID: "replica-dead", ChannelID: 3},
		{CharID: 2, Name: "Bob", ReplicaID: "replica-dead", ChannelID: 4}, // back online here
	}
	before := counter(h.met.Broadcasts)
	srv.NotifyOffline(lost)
	if got := counter(h.met.Broadcasts) - before; got != 1 {
		t.Errorf("broadcasts = %d, want 1 (one encoding shared by all sessions)", got)
	}
	want := []wire.Member{{CharID: 7, Name: "Carol"}, {CharID: 8, Name: "Dave"}}
	for name, c := range map[string]*tclient{"alice": alice, "bob": bob} {
		got := nextOffline(t, c)
		if !reflect.DeepEqual(got.Players, want) {
			t.Errorf("%s got players %+v, want %+v", name, got.Players, want)
		}
		noMoreOffline(t, c)
	}
}

func TestNotifyOfflineChunksLongLists(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	alice := login(t, srv, h.store.addChar(1, "Alice"))

	lost := make([]registry.SessionSnapshot, wire.MaxList+3)
	for i := range lost {
		lost[i] = registry.SessionSnapshot{CharID: uint32(1000 + i), Name: fmt.Sprintf("p%d", i)}
	}
	// A name over wire.MaxName must not make the push unencodable.
	lost[len(lost)-1].Name = "a-name-far-longer-than-thirty-two-bytes-allowed"
	before := counter(h.met.Broadcasts)
	srv.NotifyOffline(lost)
	if got := counter(h.met.Broadcasts) - before; got != 2 {
		t.Errorf("broadcasts = %d, want 2 (one per chunk)", got)
	}
	first, second := nextOffline(t, alice), nextOffline(t, alice)
	if len(first.Players) != wire.MaxList || len(second.Players) != 3 {
		t.Fatalf("chunks of %d and %d players, want %d and 3", len(first.Players), len(second.Players), wire.MaxList)
	}
	all := append(first.Players, second.Players...)
	for i, p := range all {
		if p.CharID != lost[i].CharID {
			t.Fatalf("player %d: char %d, want %d", i, p.CharID, lost[i].CharID)
		}
	}
	if got := all[len(all)-1].Name; got != lost[len(lost)-1].Name[:wire.MaxName] {
		t.Errorf("long name sent as %q, want it cut to %d bytes", got, wire.MaxName)
	}
	noMoreOffline(t, alice)
}

func TestNotifyOfflineNothingToSay(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	alice := login(t, srv, h.store.addChar(1, "Alice"))
	before := counter(h.met.Broadcasts)
	srv.NotifyOffline(nil)
	srv.NotifyOffline([]registry.SessionSnapshot{{CharID: 1, Name: "Alice"}}) // online here
	if got := counter(h.met.Broadcasts) - before; got != 0 {
		t.Errorf("broadcasts = %d, want 0", got)
	}
	noMoreOffline(t, alice)
}
