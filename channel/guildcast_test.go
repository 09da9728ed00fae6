package channel

import (
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// A guild cast goes to the sender's current guild even when the sender
// joined it through a leader's action on another channel (its session's
// cached guild is still 0).
func TestGuildCastUsesCurrentGuild(t *testing.T) {
	h := newHarness(t)
	a1 := h.start(t, 1, nil)
	a2 := h.start(t, 2, nil)
	lead := login(t, a1, h.store.addChar(1, "lead"))
	app := login(t, a2, h.store.addChar(3, "applicant"))
	gid := uint32(lead.mustOK(&wire.GuildCreate{Name: "Knights"}).ID)
	app.mustOK(&wire.GuildApply{GuildID: gid})
	lead.mustOK(&wire.GuildAccept{CharID: 3})
	if ok := app.mustOK(&wire.Cast{Scope: wire.ScopeGuild, Payload: []byte("hi all")}); ok.ID != 1 {
		t.Fatalf("guild cast reached %d, want 1", ok.ID)
	}
	if cm := lead.push(wire.TCastMsg).(*wire.CastMsg); string(cm.Payload) != "hi all" || cm.SenderID != 3 {
		t.Fatalf("cast = %+v", cm)
	}
}
