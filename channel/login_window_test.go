package channel

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// helloAsync sends a Hello on a new connection to srv and returns a channel
// that receives the first answer (an Error carrying the read error if the
// connection closed without one).
func helloAsync(t *testing.T, srv *Server, token string) (*tclient, <-chan wire.Message) {
	t.Helper()
	c := dial(t, srv.Addr())
	c.send(1, &wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: token})
	answer := make(chan wire.Message, 1)
	go func() {
		m, _, err := c.read()
		if err != nil {
			m = &wire.Error{Message: "read: " + err.Error()}
		}
		answer <- m
	}()
	return c, answer
}

// A kick that arrives after the registry recorded a login's presence but
// before the login finished (SessionOnline has not returned yet) cancels
// that login: it is told Kicked and closed without loading the character,
// and the kick is confirmed only once it has ended. Before, Disconnect
// answered "not online here", the kicker took over the presence and both
// sessions went live.
func TestKickDuringLoginCancelsIt(t *testing.T) {
	h := newHarness(t)
	recorded := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	reg := &hookReg{ChannelRegistry: h.reg, online: func(ctx context.Context, s registry.SessionSnapshot, next func() error) error {
		err := next()
		if s.ChannelID == 1 {
			close(recorded) // one login on channel 1 in this test
			select {        // stalls in the window between record and return
			case <-release:
			case <-ctx.Done():
			}
		}
		return err
	}}
	wrap := func(_ *Config, d *Deps) { d.Registry = reg }
	a := h.start(t, 1, wrap)
	b := h.start(t, 2, wrap)

	first, firstAnswer := helloAsync(t, a, h.store.addChar(7, "gina"))
	await(t, "channel 1's presence record", recorded)

	_, secondAnswer := helloAsync(t, b, h.store.addChar(7, "gina"))
	if m := await(t, "channel 2's answer", secondAnswer); m.Type() != wire.TWelcome {
		t.Fatalf("login on channel 2: got %T %v, want Welcome", m, m)
	}
	// If the first login were still pending it could go live now.
	unblock()
	m := await(t, "channel 1's answer", firstAnswer)
	if k, ok := m.(*wire.Kicked); !ok {
		t.Fatalf("pending login on channel 1: got %T %v, want Kicked", m, m)
	} else if k.Reason == "" {
		t.Fatal("Kicked without a reason")
	}
	first.closed()
	waitEmpty(t, a)

	if got := a.Info().Players; got != 0 {
		t.Fatalf("channel 1 players = %d, want 0", got)
	}
	if ev := h.store.eventLog(); fmt.Sprint(ev) != "[load:7]" {
		t.Fatalf("store events %v, want one load (channel 2's) and no save of the cancelled login", ev)
	}
	s, err := h.reg.FindSession(context.Background(), 7)
	if err != nil || s.ChannelID != 2 {
		t.Fatalf("presence = %+v, %v; want channel 2", s, err)
	}
}
