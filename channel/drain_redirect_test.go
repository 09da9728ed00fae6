package channel

import (
	"context"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// A login refused by a draining channel is told which live channel to
// reconnect to (Error.Channel and Error.Addr).
func TestDrainLoginRedirected(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	other := h.start(t, 2, nil)
	c := login(t, srv, h.store.addChar(1, "alice"))
	early := dial(t, srv.Addr())
	probe := login(t, srv, h.store.addChar(3, "probe"))
	probe.mustOK(&wire.Logout{})
	probe.closed()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Drain(context.Background(), "restarting")
	}()
	c.push(wire.TNotice)
	e, ok := early.hello(h.store.addChar(2, "bob")).(*wire.Error)
	if !ok || e.Code != wire.CodeDraining || e.Channel != 2 || e.Addr != other.Addr() {
		t.Fatalf("login while draining: %+v", e)
	}
	early.closed()
	c.mustOK(&wire.Logout{})
	<-done
}
