package channel

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// (1) One channel shut down leaves the others accepting.
func TestIsolationShutdownLeavesOthersAccepting(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, nil)
	b := h.start(t, 2, nil)
	ca := login(t, a, h.store.addChar(1, "alice"))
	cb := login(t, b, h.store.addChar(2, "bob"))

	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := kickedReason(ca.closed()); got != "server shutting down" {
		t.Fatalf("kicked reason %q", got)
	}
	if _, err := net.Dial("tcp", a.Addr()); err == nil {
		t.Fatal("shut-down channel still accepts connections")
	}
	// b keeps serving its session and accepts new ones.
	if _, ok := cb.call(&wire.Ping{ClientTime: 7}).(*wire.Pong); !ok {
		t.Fatal("existing session on the other channel stopped answering")
	}
	login(t, b, h.store.addChar(3, "carol"))
	if got := b.Info().Players; got != 2 {
		t.Fatalf("players on b = %d, want 2", got)
	}
}

// (2) A listener closed under a channel leaves the others accepting, and the
// channel's own sessions keep working.
func TestIsolationListenerClosed(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, nil)
	b := h.start(t, 2, nil)
	ca := login(t, a, h.store.addChar(1, "alice"))

	a.mu.Lock()
	ln := a.ln
	a.mu.Unlock()
	_ = ln.Close()

	if _, err := net.Dial("tcp", a.Addr()); err == nil {
		t.Fatal("closed listener still accepts")
	}
	if _, ok := ca.call(&wire.Ping{}).(*wire.Pong); !ok {
		t.Fatal("session of the channel that lost its listener stopped answering")
	}
	cb := login(t, b, h.store.addChar(2, "bob"))
	if _, ok := cb.call(&wire.Ping{}).(*wire.Pong); !ok {
		t.Fatal("other channel does not serve")
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after listener loss: %v", err)
	}
	if n := h.store.saveCount(1); n != 1 {
		t.Fatalf("saves of alice = %d, want 1", n)
	}
}

// (3) A session whose handler panics is closed, logged out once, and its
// channel keeps serving.
func TestIsolationHandlerPanic(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, func(_ *Config, d *Deps) {
		d.handlerHook = func(charID uint32, typ wire.Type) {
			if charID == 1 && typ == wire.TStageList {
				panic("injected handler failure")
			}
		}
	})
	bad := login(t, a, h.store.addChar(1, "alice"))
	good := login(t, a, h.store.addChar(2, "bob"))

	bad.send(9, &wire.StageList{})
	bad.closed()
	h.store.waitFor(t, "alice's logout save", func() bool { return h.store.saves[1] == 1 })

	if _, ok := good.call(&wire.StageList{}).(*wire.StageListResp); !ok {
		t.Fatal("the other session of the channel stopped answering")
	}
	login(t, a, h.store.addChar(3, "carol"))
	if got := counter(h.met.PanicsRecovered); got != 1 {
		t.Fatalf("panics recovered = %d, want 1", got)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "injected handler failure") || !strings.Contains(logs, "stack=") {
		t.Fatalf("panic not logged with its stack:\n%s", logs)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := h.store.saveCount(1); n != 1 {
		t.Fatalf("alice saved %d times, want 1", n)
	}
}

// (4) After one channel's shutdown the registry finds, searches and
// worldcasts only the live ones.
func TestIsolationRegistryAfterShutdown(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, nil)
	b := h.start(t, 2, nil)
	login(t, a, h.store.addChar(1, "alice"))
	cb := login(t, b, h.store.addChar(2, "bob"))
	ctx := context.Background()

	if _, err := h.reg.FindSession(ctx, 1); err != nil {
		t.Fatalf("before shutdown: FindSession(1): %v", err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.FindSession(ctx, 1); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("FindSession(1) after its channel stopped: %v, want ErrNotFound", err)
	}
	if s, err := h.reg.FindSession(ctx, 2); err != nil || s.ChannelID != 2 || s.Addr != b.Addr() {
		t.Fatalf("FindSession(2) = %+v, %v", s, err)
	}
	all, err := h.reg.SearchSessions(ctx, registry.SessionFilter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := sortedIDs(all); len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("SearchSessions = %v, want [2]", ids)
	}
	chans, err := h.reg.Channels(ctx)
	if err != nil || len(chans) != 1 || chans[0].ID != 2 {
		t.Fatalf("Channels = %+v, %v", chans, err)
	}
	frame, _ := wire.Encode(0, &wire.Notice{Text: "world"})
	if err := h.reg.Worldcast(ctx, frame, 0, 0); err != nil {
		t.Fatalf("Worldcast: %v", err)
	}
	if n := cb.push(wire.TNotice).(*wire.Notice); n.Text != "world" {
		t.Fatalf("notice %q", n.Text)
	}
}

// (5) A stage in one channel is invisible in another.
func TestIsolationStagesPerChannel(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, nil)
	b := h.start(t, 2, nil)
	ca := login(t, a, h.store.addChar(1, "alice"))
	cb := login(t, b, h.store.addChar(2, "bob"))

	ca.mustOK(&wire.StageCreate{StageID: "quest-1", MaxPlayers: 4})
	cb.mustErr(&wire.StageEnter{StageID: "quest-1"}, wire.CodeNotFound)
	list := cb.call(&wire.StageList{Prefix: "quest"}).(*wire.StageListResp)
	if len(list.Stages) != 0 {
		t.Fatalf("channel 2 lists %+v", list.Stages)
	}
	// The same ID may exist independently on channel 2.
	cb.mustOK(&wire.StageCreate{StageID: "quest-1", MaxPlayers: 2})
	if got := a.Stages("quest", 0); len(got) != 1 || got[0].ChannelID != 1 || got[0].MaxPlayers != 4 {
		t.Fatalf("channel 1 stages = %+v", got)
	}
	// The cluster-wide lobby search sees both, each on its own channel.
	cl := cb.call(&wire.StageList{Prefix: "quest", Cluster: true}).(*wire.StageListResp)
	if len(cl.Stages) != 2 || cl.Stages[0].ChannelID == cl.Stages[1].ChannelID {
		t.Fatalf("cluster list = %+v", cl.Stages)
	}
}
