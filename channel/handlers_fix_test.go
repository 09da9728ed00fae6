package channel

import (
	"context"
	"net"
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

// hostOf returns the HostID of a stage as c sees it.
func hostOf(t *testing.T, c *tclient, id string) uint32 {
	t.Helper()
	in, ok := c.call(&wire.StageClients{StageID: id}).(*wire.StageInfo)
	if !ok {
		t.Fatalf("stage clients %s: not a StageInfo", id)
	}
	return in.HostID
}

// The host role passes to the remaining member who entered earliest when
// the host leaves, moves or logs out, and an empty stage has no host.
func TestStageHostPassesToEarliestEntrant(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	a := login(t, srv, h.store.addChar(1, "alice"))
	b := login(t, srv, h.store.addChar(2, "bob"))
	c := login(t, srv, h.store.addChar(3, "carl"))
	d := login(t, srv, h.store.addChar(4, "dora"))
	e := login(t, srv, h.store.addChar(5, "eve"))

	a.mustOK(&wire.StageCreate{StageID: "hall"})
	e.mustOK(&wire.StageReserve{StageID: "hall"}) // keeps the stage alive when empty
	if got := hostOf(t, e, "hall"); got != 0 {
		t.Fatalf("host of a never-entered stage = %d, want 0", got)
	}
	// Entry order d, a, c, b: neither ID order nor creation decides.
	for _, cl := range []*tclient{d, a, c, b} {
		enter(t, cl, "hall", "")
	}
	if got := hostOf(t, e, "hall"); got != 4 {
		t.Fatalf("host = %d, want 4 (first to enter)", got)
	}
	a.mustErr(&wire.StageLock{StageID: "hall", Locked: true}, wire.CodeForbidden) // creator, not host

	d.mustOK(&wire.StageLeave{}) // leave
	if got := hostOf(t, e, "hall"); got != 1 {
		t.Fatalf("after the host left: host = %d, want 1 (entered next)", got)
	}
	if in := enter(t, d, "hall", ""); in.HostID != 1 {
		t.Fatalf("re-entering does not restore the old host: host = %d, want 1", in.HostID)
	}
	if in, ok := a.call(&wire.StageMove{StageID: "town"}).(*wire.StageInfo); !ok || in.StageID != "town" { // move
		t.Fatalf("move to town: %v", in)
	}
	if got := hostOf(t, e, "hall"); got != 3 {
		t.Fatalf("after the host moved: host = %d, want 3", got)
	}
	c.mustOK(&wire.Logout{}) // logout
	c.closed()
	h.store.waitFor(t, "carl's save", func() bool { return h.store.saves[3] == 1 })
	if got := hostOf(t, e, "hall"); got != 2 {
		t.Fatalf("after the host logged out: host = %d, want 2", got)
	}
	b.mustOK(&wire.StageLock{StageID: "hall", Locked: false})
	d.mustErr(&wire.StageLock{StageID: "hall", Locked: true}, wire.CodeForbidden)
	b.mustOK(&wire.StageLeave{})
	if got := hostOf(t, e, "hall"); got != 4 {
		t.Fatalf("host = %d, want 4 (the only member)", got)
	}
	d.mustOK(&wire.StageLeave{})
	if got := hostOf(t, e, "hall"); got != 0 {
		t.Fatalf("host of an empty stage = %d, want 0", got)
	}
	// With nobody inside, the creator manages the stage; nobody else does.
	e.mustErr(&wire.StageLock{StageID: "hall", Locked: true}, wire.CodeForbidden)
	a.mustOK(&wire.StageSetBinary{StageID: "hall", Key: 1, Data: []byte("map")})
	if in := enter(t, e, "hall", ""); in.HostID != 5 {
		t.Fatalf("first to enter the empty stage: host = %d, want 5", in.HostID)
	}
}

// Back to a stage destroyed meanwhile fails with CodeNotFound and says the
// stage no longer exists; the entry is dropped from the stack.
func TestStageBackToDestroyedStage(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	a := login(t, srv, h.store.addChar(1, "alice"))
	a.mustOK(&wire.StageCreate{StageID: "cave"})
	enter(t, a, "town", "")
	for _, id := range []string{"cave", "town"} {
		if in, ok := a.call(&wire.StageMove{StageID: id}).(*wire.StageInfo); !ok || in.StageID != id {
			t.Fatalf("move %s: %v", id, in)
		}
	}
	if got := srv.Stages("cave", 0); len(got) != 0 { // emptied and unreserved: gone
		t.Fatalf("cave still exists: %+v", got)
	}
	e := a.mustErr(&wire.StageBack{}, wire.CodeNotFound)
	if want := `stage "cave" no longer exists`; e.Message != want {
		t.Fatalf("back to a destroyed stage: message %q, want %q", e.Message, want)
	}
	// The next Back goes on down the stack.
	if in, ok := a.call(&wire.StageBack{}).(*wire.StageInfo); !ok || in.StageID != "town" {
		t.Fatalf("back after the failed one: %v, want town", in)
	}
}

// guildOf returns the guild the registry's presence record shows for charID.
func guildOf(t *testing.T, h *harness, charID uint32) uint32 {
	t.Helper()
	s, err := h.reg.FindSession(context.Background(), charID)
	if err != nil {
		t.Fatalf("FindSession %d: %v", charID, err)
	}
	return s.GuildID
}

// Guild mail uses the sender's current guild from the store: a player
// accepted (or kicked) by a leader on another channel while online can use
// (or is refused) guild mail at once, and their presence catches up.
func TestGuildMailUsesCurrentGuild(t *testing.T) {
	h := newHarness(t)
	a1 := h.start(t, 1, nil)
	a2 := h.start(t, 2, nil)
	lead := login(t, a1, h.store.addChar(1, "lead"))
	app := login(t, a2, h.store.addChar(3, "applicant"))

	gid := uint32(lead.mustOK(&wire.GuildCreate{Name: "Knights"}).ID)
	app.mustOK(&wire.GuildApply{GuildID: gid})
	lead.mustOK(&wire.GuildAccept{CharID: 3})
	if ev := app.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildJoined || ev.CharID != 3 {
		t.Fatalf("joined event = %+v", ev)
	}
	if ok := app.mustOK(&wire.GuildMail{Subject: "hello", Body: "new here"}); ok.ID != 2 {
		t.Fatalf("guild mail reached %d members, want 2", ok.ID)
	}
	if n := lead.push(wire.TMailNotify).(*wire.MailNotify); n.Subject != "hello" || n.FromID != 3 {
		t.Fatalf("leader's notify = %+v", n)
	}
	if got := guildOf(t, h, 3); got != gid {
		t.Fatalf("applicant's presence guild = %d, want %d", got, gid)
	}

	// A member who joined on their own session (so their session cached the
	// guild) and is then kicked from another channel can no longer mail it.
	inv := login(t, a2, h.store.addChar(2, "invitee"))
	lead.mustOK(&wire.GuildInvite{CharID: 2})
	if ev := inv.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildInvited {
		t.Fatalf("invite event = %+v", ev)
	}
	inv.mustOK(&wire.GuildAccept{GuildID: gid})
	if got := guildOf(t, h, 2); got != gid {
		t.Fatalf("invitee's presence guild = %d, want %d", got, gid)
	}
	lead.mustOK(&wire.GuildKick{CharID: 2})
	if ev := inv.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildKicked || ev.CharID != 2 {
		t.Fatalf("kick event = %+v", ev)
	}
	inv.mustErr(&wire.GuildMail{Subject: "still here?"}, wire.CodeNotFound)
	if got := guildOf(t, h, 2); got != 0 {
		t.Fatalf("kicked player's presence guild = %d, want 0", got)
	}
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	for _, m := range h.store.mail {
		if m.Subject == "still here?" {
			t.Fatalf("a kicked player's guild mail was sent: %+v", m)
		}
	}
}

// Accept, leave and kick keep the cached guild and the presence record of
// sessions on the acting channel current at once.
func TestGuildChangesUpdateLocalPresence(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	lead := login(t, srv, h.store.addChar(1, "lead"))
	inv := login(t, srv, h.store.addChar(2, "invitee"))
	app := login(t, srv, h.store.addChar(3, "applicant"))

	gid := uint32(lead.mustOK(&wire.GuildCreate{Name: "Knights"}).ID)
	if got := guildOf(t, h, 1); got != gid {
		t.Fatalf("creator's presence guild = %d, want %d", got, gid)
	}
	lead.mustOK(&wire.GuildInvite{CharID: 2})
	inv.mustOK(&wire.GuildAccept{GuildID: gid})
	app.mustOK(&wire.GuildApply{GuildID: gid})
	lead.mustOK(&wire.GuildAccept{CharID: 3})
	for _, id := range []uint32{2, 3} {
		if got := guildOf(t, h, id); got != gid {
			t.Fatalf("member %d's presence guild = %d, want %d", id, got, gid)
		}
	}
	lead.mustOK(&wire.GuildKick{CharID: 3})
	if got := guildOf(t, h, 3); got != 0 {
		t.Fatalf("kicked member's presence guild = %d, want 0", got)
	}
	inv.mustOK(&wire.GuildLeave{})
	if got := guildOf(t, h, 2); got != 0 {
		t.Fatalf("leaver's presence guild = %d, want 0", got)
	}
	// The leader leaving disbands the guild; nobody keeps it.
	lead.mustOK(&wire.GuildLeave{})
	if got := guildOf(t, h, 1); got != 0 {
		t.Fatalf("leader's presence guild after disbanding = %d, want 0", got)
	}
}

// alternateChannel picks the least populated other channel that is live,
// not draining and not full.
func TestAlternateChannel(t *testing.T) {
	h := newHarness(t)
	ch1 := h.start(t, 1, nil)
	ch2 := h.start(t, 2, nil)
	ch3 := h.start(t, 3, func(c *Config, _ *Deps) { c.MaxPlayers = 1 })
	ch4 := h.start(t, 4, nil)
	ch5 := h.start(t, 5, nil)
	login(t, ch3, h.store.addChar(31, "full"))
	login(t, ch4, h.store.addChar(41, "four"))
	login(t, ch5, h.store.addChar(51, "five-a"))
	login(t, ch5, h.store.addChar(52, "five-b"))
	ch2.Drain(context.Background(), "") // nobody there: returns at once, stays draining
	ctx := context.Background()

	// ch2 (empty) is draining and ch3 (1 player, lower ID than ch4) is full.
	if alt, ok := ch1.alternateChannel(ctx); !ok || alt.ID != 4 || alt.Addr != ch4.Addr() {
		t.Fatalf("from channel 1: %+v, %v; want channel 4 at %s", alt, ok, ch4.Addr())
	}
	if alt, ok := ch4.alternateChannel(ctx); !ok || alt.ID != 1 || alt.Addr != ch1.Addr() {
		t.Fatalf("from channel 4: %+v, %v; want channel 1 at %s", alt, ok, ch1.Addr())
	}
	ch1.Drain(ctx, "") // nobody there: returns at once
	if alt, ok := ch2.alternateChannel(ctx); !ok || alt.ID != 4 {
		t.Fatalf("from channel 2 with channel 1 draining: %+v, %v; want channel 4", alt, ok)
	}

	lone := newHarness(t)
	only := lone.start(t, 9, nil)
	if alt, ok := only.alternateChannel(ctx); ok {
		t.Fatalf("single channel: got %+v, want none", alt)
	}
}

// refuseDraining answers CodeDraining with another channel to go to, or
// with empty Channel and Addr when there is none, and closes.
func TestRefuseDrainingRedirects(t *testing.T) {
	refusal := func(t *testing.T, srv *Server) *wire.Error {
		t.Helper()
		srvConn, cliConn := net.Pipe()
		t.Cleanup(func() { _ = cliConn.Close() })
		sess := newSession(srv, srvConn)
		sess.refuseDraining(7) // starts the send goroutine
		c := &tclient{t: t, conn: cliConn}
		m, rid, err := c.read()
		if err != nil {
			t.Fatalf("read refusal: %v", err)
		}
		e, ok := m.(*wire.Error)
		if !ok || rid != 7 || e.Code != wire.CodeDraining {
			t.Fatalf("refusal = %T %v (request %d), want Error %s for request 7", m, m, rid, wire.CodeDraining)
		}
		if rest := c.closed(); len(rest) != 0 {
			t.Fatalf("sent after the refusal: %v", rest)
		}
		return e
	}

	h := newHarness(t)
	ch1 := h.start(t, 1, nil)
	ch2 := h.start(t, 2, nil)
	ch1.Drain(context.Background(), "")
	e := refusal(t, ch1)
	if e.Channel != 2 || e.Addr != ch2.Addr() || e.Message != "channel is draining; connect to channel 2 at "+ch2.Addr() {
		t.Fatalf("refusal = %+v, want a redirect to channel 2 at %s", e, ch2.Addr())
	}
	ch2.Drain(context.Background(), "")
	e = refusal(t, ch1)
	if e.Channel != 0 || e.Addr != "" || e.Message != "channel is draining; try again later" {
		t.Fatalf("refusal with nowhere to go = %+v, want no channel and no address", e)
	}
}
