package channel

import (
	"fmt"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// A character that logs out of channel A and logs in on channel B while A's
// logout save is still running stays present on A until the save is done:
// B's login kicks A (waiting for the save) and only then loads the
// character, so it never loads stale save data.
func TestLoginWaitsForPreviousLogoutSave(t *testing.T) {
	h := newHarness(t)
	bs := newBlockingSaveStore(h.store)
	wrap := func(_ *Config, d *Deps) {
		d.Store = bs
		d.Registry = &hookReg{ChannelRegistry: h.reg, onDisconnect: func(ch uint16, id uint32) {
			h.store.note(fmt.Sprintf("kick:%d@%d", id, ch))
		}}
	}
	a := h.start(t, 1, wrap)
	b := h.start(t, 2, wrap)
	t.Cleanup(bs.unblock) // before the servers close (cleanups run last first)

	old := login(t, a, h.store.addChar(7, "gina"))
	_ = old.conn.Close() // logout on A; its save blocks
	select {
	case <-bs.entered:
	case <-timeAfter(t):
		t.Fatal("logout save never started")
	}

	c := dial(t, b.Addr())
	c.send(1, &wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: h.store.addChar(7, "gina")})
	answer := make(chan wire.Message, 1)
	go func() {
		m, _, err := c.read()
		if err != nil {
			m = &wire.Error{Message: err.Error()}
		}
		answer <- m
	}()

	// Either B kicks the session still logging out on A (right), or it
	// goes ahead and loads the character while A is still saving (wrong).
	h.store.waitFor(t, "B's login to kick A or load", func() bool {
		return h.store.countEvents("kick:7@1") > 0 || h.store.countEvents("load:7") > 1
	})
	h.store.mu.Lock()
	loads := h.store.countEvents("load:7")
	h.store.mu.Unlock()
	if loads > 1 {
		t.Fatalf("B loaded the character while A's logout save was in progress; events %v", h.store.eventLog())
	}
	select {
	case m := <-answer:
		t.Fatalf("B answered %T %v before A's save finished", m, m)
	default:
	}

	bs.unblock()
	if m := await(t, "B's answer", answer); m.Type() != wire.TWelcome {
		t.Fatalf("B's login: got %T %v, want Welcome", m, m)
	}
	ev := h.store.eventLog()
	want := []string{"load:7", "kick:7@1", "save:7", "load:7"}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
}
