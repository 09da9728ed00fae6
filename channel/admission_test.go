package channel

import (
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// A refused login gives its MaxPlayers slot back before the client is
// answered: a client that reconnects as soon as it reads the refusal never
// finds the channel full of its own refused attempt. (TestHandshakeRefusals
// once failed that way: the slot was given back only when the refused
// session's goroutine ended, after the client had seen the answer.) A
// stress test: on the old code the race was rare, not deterministic.
func TestRefusedLoginFreesSlotBeforeAnswer(t *testing.T) {
	h := newHarness(t)
	a := h.start(t, 1, func(c *Config, _ *Deps) { c.MaxPlayers = 1 })
	for i := range 100 {
		c := dial(t, a.Addr())
		m := c.hello("no such token")
		if e, ok := m.(*wire.Error); !ok || e.Code != wire.CodeUnauthorized {
			t.Fatalf("iteration %d: got %T %v, want Error unauthorized", i, m, m)
		}
		a.mu.Lock()
		n := a.admitted
		a.mu.Unlock()
		if n != 0 {
			t.Fatalf("iteration %d: %d slot(s) still taken once the refusal was read", i, n)
		}
		_ = c.conn.Close()
	}
	login(t, a, h.store.addChar(1, "alice"))
}
