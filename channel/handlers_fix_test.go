package channel

import (
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// A global semaphore refusal names the holder in its message and carries
// the holder's channel and address.
func TestGlobalSemaHeldNamesHolder(t *testing.T) {
	h := newHarness(t)
	a1 := h.start(t, 1, nil)
	a2 := h.start(t, 2, nil)
	holder := login(t, a2, h.store.addChar(7, "gwen"))
	asker := login(t, a1, h.store.addChar(8, "hal"))

	holder.mustOK(&wire.SemaAcquire{Name: "boss", Global: true})
	e := asker.mustErr(&wire.SemaAcquire{Name: "boss", Global: true}, wire.CodeSemaHeld)
	if want := "semaphore held by character 7 on channel 2 at " + a2.Addr(); e.Message != want {
		t.Fatalf("message = %q, want %q", e.Message, want)
	}
	if e.Channel != 2 || e.Addr != a2.Addr() {
		t.Fatalf("held error locates channel %d at %q, want channel 2 at %q", e.Channel, e.Addr, a2.Addr())
	}
}
