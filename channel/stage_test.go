package channel

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

func enter(t *testing.T, c *tclient, id, pw string) *wire.StageInfo {
	t.Helper()
	got := c.call(&wire.StageEnter{StageID: id, Password: pw})
	in, ok := got.(*wire.StageInfo)
	if !ok {
		t.Fatalf("enter %s: got %T %v", id, got, got)
	}
	return in
}

func TestStageCastsAndPushes(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	a := login(t, srv, h.store.addChar(1, "alice"))
	b := login(t, srv, h.store.addChar(2, "bob"))
	outsider := login(t, srv, h.store.addChar(3, "olga"))

	enter(t, a, "town", "")
	in := enter(t, b, "town", "")
	if len(in.Members) != 2 || in.Members[0].CharID != 1 || in.Members[1].CharID != 2 {
		t.Fatalf("members = %+v", in.Members)
	}
	j := a.push(wire.TStageJoined).(*wire.StageJoined)
	if j.CharID != 2 || j.Name != "bob" || j.StageID != "town" {
		t.Fatalf("joined = %+v", j)
	}
	ok := a.mustOK(&wire.Cast{Scope: wire.ScopeStage, Payload: []byte("hello stage")})
	if ok.ID != 1 {
		t.Fatalf("stage cast reached %d, want 1", ok.ID)
	}
	cm := b.push(wire.TCastMsg).(*wire.CastMsg)
	if cm.SenderID != 1 || cm.SenderName != "alice" || string(cm.Payload) != "hello stage" || cm.Scope != wire.ScopeStage {
		t.Fatalf("cast = %+v", cm)
	}
	b.mustOK(&wire.Cast{Scope: wire.ScopeStage, Payload: []byte("back")})
	if cm := a.push(wire.TCastMsg).(*wire.CastMsg); string(cm.Payload) != "back" || cm.SenderID != 2 {
		t.Fatalf("cast = %+v", cm)
	}
	b.mustOK(&wire.StageLeave{})
	if l := a.push(wire.TStageLeft).(*wire.StageLeft); l.CharID != 2 {
		t.Fatalf("left = %+v", l)
	}
	// The outsider, not in the stage, got none of it: its next frame is
	// the answer to its own request.
	if _, isPong := outsider.call(&wire.Ping{}).(*wire.Pong); !isPong || len(outsider.pending) != 0 {
		t.Fatalf("outsider received stage traffic: %v", outsider.pending)
	}
	outsider.mustErr(&wire.Cast{Scope: wire.ScopeStage, Payload: []byte("x")}, wire.CodeNotInStage)

	// Channel, targets and world scopes.
	a.mustOK(&wire.Cast{Scope: wire.ScopeChannel, Payload: []byte("ch")})
	for _, c := range []*tclient{b, outsider} {
		if cm := c.push(wire.TCastMsg).(*wire.CastMsg); string(cm.Payload) != "ch" {
			t.Fatalf("channel cast = %+v", cm)
		}
	}
	if ok := a.mustOK(&wire.Cast{Scope: wire.ScopeTargets, Targets: []uint32{3, 99}, Payload: []byte("psst")}); ok.ID != 1 {
		t.Fatalf("whisper found %d, want 1", ok.ID)
	}
	if cm := outsider.push(wire.TCastMsg).(*wire.CastMsg); string(cm.Payload) != "psst" {
		t.Fatalf("whisper = %+v", cm)
	}
	a.mustOK(&wire.Cast{Scope: wire.ScopeWorld, Payload: []byte("world")})
	for _, c := range []*tclient{b, outsider} {
		if cm := c.push(wire.TCastMsg).(*wire.CastMsg); string(cm.Payload) != "world" {
			t.Fatalf("world cast = %+v", cm)
		}
	}
	// Request ID 0: no answer.
	a.send(0, &wire.Cast{Scope: wire.ScopeTargets, Targets: []uint32{2}, Payload: []byte("quiet")})
	if cm := b.push(wire.TCastMsg).(*wire.CastMsg); string(cm.Payload) != "quiet" {
		t.Fatalf("cast = %+v", cm)
	}
	if _, isPong := a.call(&wire.Ping{}).(*wire.Pong); !isPong {
		t.Fatal("cast with request ID 0 was answered")
	}
}

func TestStageRules(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	a := login(t, srv, h.store.addChar(1, "alice"))
	b := login(t, srv, h.store.addChar(2, "bob"))
	c := login(t, srv, h.store.addChar(3, "carl"))

	// Full.
	a.mustOK(&wire.StageCreate{StageID: "duo", MaxPlayers: 1})
	a.mustErr(&wire.StageCreate{StageID: "duo"}, wire.CodeExists)
	enter(t, a, "duo", "")
	b.mustErr(&wire.StageEnter{StageID: "duo"}, wire.CodeStageFull)

	// Password and reservations.
	a.mustOK(&wire.StageCreate{StageID: "vault", MaxPlayers: 4, Password: "s3cret"})
	b.mustErr(&wire.StageReserve{StageID: "vault", Password: "wrong"}, wire.CodeWrongPass)
	b.mustErr(&wire.StageEnter{StageID: "vault", Password: "wrong"}, wire.CodeWrongPass)
	b.mustOK(&wire.StageReserve{StageID: "vault", Password: "s3cret"})
	b.mustOK(&wire.StageReady{StageID: "vault", Ready: true})
	c.mustErr(&wire.StageReady{StageID: "vault", Ready: true}, wire.CodeNotFound)

	// Lock: while the stage is empty only its creator manages it; a
	// reservation holder still enters, and the first to enter is the host
	// (the creator, outside, no longer manages it).
	b.mustErr(&wire.StageLock{StageID: "vault", Locked: true}, wire.CodeForbidden)
	a.mustOK(&wire.StageLock{StageID: "vault", Locked: true})
	c.mustErr(&wire.StageEnter{StageID: "vault", Password: "s3cret"}, wire.CodeStageLocked)
	in := enter(t, b, "vault", "")
	if !in.Locked || !in.HasPassword || in.HostID != 2 || len(in.Reservations) != 1 || !in.Reservations[0].Ready {
		t.Fatalf("vault = %+v", in)
	}

	// Binary data: host sets, anyone reads.
	a.mustErr(&wire.StageSetBinary{StageID: "vault", Key: 3, Data: []byte("nope")}, wire.CodeForbidden)
	b.mustOK(&wire.StageSetBinary{StageID: "vault", Key: 3, Data: []byte("map-7")})
	bin := b.call(&wire.StageGetBinary{Key: 3}).(*wire.StageBinary) // current stage
	if !bytes.Equal(bin.Data, []byte("map-7")) || bin.StageID != "vault" {
		t.Fatalf("binary = %+v", bin)
	}
	if bin := b.call(&wire.StageGetBinary{StageID: "vault", Key: 4}).(*wire.StageBinary); len(bin.Data) != 0 {
		t.Fatalf("unset key = %+v", bin)
	}
	cl := c.call(&wire.StageClients{StageID: "vault"}).(*wire.StageInfo)
	if len(cl.Members) != 1 || cl.Members[0].CharID != 2 {
		t.Fatalf("clients = %+v", cl)
	}
}

func TestStageBackStack(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	a := login(t, srv, h.store.addChar(1, "alice"))
	a.mustOK(&wire.StageCreate{StageID: "r1"})
	a.mustOK(&wire.StageCreate{StageID: "r2"})
	// Reservations keep the rooms alive while nobody is inside.
	a.mustOK(&wire.StageReserve{StageID: "r1"})
	a.mustOK(&wire.StageReserve{StageID: "r2"})
	enter(t, a, "town", "")
	move := func(id string) {
		if in, ok := a.call(&wire.StageMove{StageID: id}).(*wire.StageInfo); !ok || in.StageID != id {
			t.Fatalf("move %s: %v", id, in)
		}
	}
	back := func(want string) {
		t.Helper()
		if in, ok := a.call(&wire.StageBack{}).(*wire.StageInfo); !ok || in.StageID != want {
			t.Fatalf("back: %v, want %s", in, want)
		}
	}
	move("r1")
	move("r2")
	back("r1")
	if s, _ := h.reg.FindSession(context.Background(), 1); s.StageID != "r1" {
		t.Fatalf("registry stage = %q", s.StageID)
	}
	back("town")
	a.mustErr(&wire.StageBack{}, wire.CodeNotFound)
	// Enter clears the stack.
	move("r1")
	enter(t, a, "town", "")
	a.mustErr(&wire.StageBack{}, wire.CodeNotFound)
}

func TestEmptyStageDestroyed(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	a := login(t, srv, h.store.addChar(1, "alice"))
	b := login(t, srv, h.store.addChar(2, "bob"))
	ctx := context.Background()

	a.mustOK(&wire.StageCreate{StageID: "tmp"})
	if s, err := h.reg.FindChannelForStage(ctx, "tmp"); err != nil || s.ChannelID != 1 {
		t.Fatalf("FindChannelForStage = %+v, %v", s, err)
	}
	enter(t, a, "tmp", "")
	b.mustOK(&wire.StageReserve{StageID: "tmp"})
	a.mustOK(&wire.StageLeave{})
	if len(srv.Stages("tmp", 0)) != 1 {
		t.Fatal("stage with a reservation destroyed")
	}
	b.mustOK(&wire.StageUnreserve{StageID: "tmp"})
	if got := srv.Stages("tmp", 0); len(got) != 0 {
		t.Fatalf("empty stage still there: %+v", got)
	}
	if _, err := h.reg.FindChannelForStage(ctx, "tmp"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("registry still has the stage: %v", err)
	}
	b.mustErr(&wire.StageEnter{StageID: "tmp"}, wire.CodeNotFound)
	// Town stages persist empty.
	enter(t, a, "town", "")
	a.mustOK(&wire.StageLeave{})
	if len(srv.Stages("town", 0)) != 1 {
		t.Fatal("town stage destroyed")
	}
	// A created stage never entered goes when its creator logs out.
	b.mustOK(&wire.StageCreate{StageID: "never"})
	b.mustOK(&wire.Logout{})
	b.closed()
	h.store.waitFor(t, "bob's save", func() bool { return h.store.saves[2] == 1 })
	if got := srv.Stages("never", 0); len(got) != 0 {
		t.Fatalf("abandoned stage kept: %+v", got)
	}
}

func TestSemaphores(t *testing.T) {
	h := newHarness(t)
	a1 := h.start(t, 1, nil)
	a2 := h.start(t, 2, nil)
	a := login(t, a1, h.store.addChar(1, "alice"))
	b := login(t, a1, h.store.addChar(2, "bob"))
	c := login(t, a2, h.store.addChar(3, "carl"))

	// Local, capacity 2.
	a.mustOK(&wire.SemaAcquire{Name: "raid", Capacity: 2})
	b.mustOK(&wire.SemaAcquire{Name: "raid", Capacity: 2})
	c.mustOK(&wire.SemaAcquire{Name: "raid", Capacity: 2}) // another channel: its own
	login3 := login(t, a1, h.store.addChar(4, "dan"))
	e := login3.mustErr(&wire.SemaAcquire{Name: "raid"}, wire.CodeSemaHeld)
	if e.Channel != 1 {
		t.Fatalf("held error = %+v", e)
	}
	b.mustOK(&wire.SemaRelease{Name: "raid"})
	login3.mustOK(&wire.SemaAcquire{Name: "raid"})

	// Global with fencing.
	ok := a.mustOK(&wire.SemaAcquire{Name: "boss", Global: true})
	held := c.mustErr(&wire.SemaAcquire{Name: "boss", Global: true}, wire.CodeSemaHeld)
	if held.Channel != 1 || held.Addr != a1.Addr() {
		t.Fatalf("held = %+v", held)
	}
	if got := a.mustOK(&wire.SemaWrite{Name: "boss", Data: []byte("v1")}); got.ID != ok.ID {
		t.Fatalf("write token %d, want %d", got.ID, ok.ID)
	}
	c.mustErr(&wire.SemaWrite{Name: "boss", Data: []byte("x")}, wire.CodeForbidden)
	// Logout releases both kinds.
	a.mustOK(&wire.Logout{})
	a.closed()
	h.store.waitFor(t, "alice's save", func() bool { return h.store.saves[1] == 1 })
	ok2 := c.mustOK(&wire.SemaAcquire{Name: "boss", Global: true})
	if ok2.ID <= ok.ID {
		t.Fatalf("token %d not above %d", ok2.ID, ok.ID)
	}
	c.mustOK(&wire.SemaWrite{Name: "boss", Data: []byte("v2")})
	// A stale token is refused by the store.
	h.store.mu.Lock()
	h.store.fences["boss"] = ok2.ID + 10
	h.store.mu.Unlock()
	c.mustErr(&wire.SemaWrite{Name: "boss", Data: []byte("v3")}, wire.CodeStaleToken)
	b.mustOK(&wire.SemaAcquire{Name: "raid", Capacity: 2}) // alice's slot was freed
}

func TestCharData(t *testing.T) {
	h := newHarness(t)
	srv := h.start(t, 1, nil)
	a := login(t, srv, h.store.addChar(1, "alice"))
	a.mustOK(&wire.SaveData{Data: []byte("save-1")})
	cd := a.call(&wire.LoadData{}).(*wire.CharData)
	if string(cd.Data) != "save-1" || len(cd.Hash) != 32 {
		t.Fatalf("char data = %+v", cd)
	}
}

func TestFindAndSearchPlayers(t *testing.T) {
	h := newHarness(t)
	a1 := h.start(t, 1, nil)
	a2 := h.start(t, 2, nil)
	a := login(t, a1, h.store.addChar(1, "alice"))
	b := login(t, a2, h.store.addChar(2, "albert"))
	h.store.addChar(3, "offline")
	enter(t, b, "town", "")

	pi := a.call(&wire.FindPlayer{Name: "ALBERT"}).(*wire.PlayerInfo)
	if !pi.Found || pi.Player.CharID != 2 || pi.Player.ChannelID != 2 || pi.Player.StageID != "town" || pi.Player.Addr != a2.Addr() {
		t.Fatalf("find = %+v", pi)
	}
	if pi := a.call(&wire.FindPlayer{CharID: 3}).(*wire.PlayerInfo); pi.Found {
		t.Fatalf("offline found: %+v", pi)
	}
	a.mustErr(&wire.FindPlayer{Name: "nobody"}, wire.CodeNotFound)
	pl := a.call(&wire.SearchPlayers{NamePrefix: "al"}).(*wire.PlayerList)
	if len(pl.Players) != 2 {
		t.Fatalf("search = %+v", pl)
	}
	pl = a.call(&wire.SearchPlayers{StageID: "town"}).(*wire.PlayerList)
	if len(pl.Players) != 1 || pl.Players[0].CharID != 2 {
		t.Fatalf("search by stage = %+v", pl)
	}
}

func TestMail(t *testing.T) {
	h := newHarness(t)
	a1 := h.start(t, 1, nil)
	a2 := h.start(t, 2, nil)
	a := login(t, a1, h.store.addChar(1, "alice"))
	b := login(t, a2, h.store.addChar(2, "bob"))
	h.store.addChar(3, "offline")

	ok := a.mustOK(&wire.MailSend{ToName: "Bob", Subject: "hi", Body: "see you"})
	n := b.push(wire.TMailNotify).(*wire.MailNotify)
	if n.MailID != int64(ok.ID) || n.FromID != 1 || n.Subject != "hi" {
		t.Fatalf("notify = %+v", n)
	}
	a.mustOK(&wire.MailSend{ToID: 3, Subject: "later"}) // offline: stored, no error
	a.mustErr(&wire.MailSend{ToName: "nobody"}, wire.CodeNotFound)
	list := b.call(&wire.MailList{}).(*wire.MailListResp)
	if len(list.Mail) != 1 || list.Mail[0].Read {
		t.Fatalf("list = %+v", list)
	}
	body := b.call(&wire.MailRead{ID: list.Mail[0].ID}).(*wire.MailBody)
	if body.Body != "see you" || !body.Header.Read {
		t.Fatalf("body = %+v", body)
	}
	b.mustOK(&wire.MailDelete{ID: list.Mail[0].ID})
	b.mustErr(&wire.MailRead{ID: list.Mail[0].ID}, wire.CodeNotFound)
	// Offline mail shows as unread at login.
	c := login(t, a1, h.store.addChar(3, "offline"))
	if c.welcome.UnreadMail != 1 {
		t.Fatalf("unread = %d", c.welcome.UnreadMail)
	}
}

func TestGuilds(t *testing.T) {
	h := newHarness(t)
	a1 := h.start(t, 1, nil)
	a2 := h.start(t, 2, nil)
	lead := login(t, a1, h.store.addChar(1, "lead"))
	inv := login(t, a2, h.store.addChar(2, "invitee"))
	app := login(t, a1, h.store.addChar(3, "applicant"))

	gid := uint32(lead.mustOK(&wire.GuildCreate{Name: "Knights"}).ID)
	inv.mustErr(&wire.GuildInvite{CharID: 3}, wire.CodeForbidden)
	lead.mustOK(&wire.GuildInvite{CharID: 2})
	ev := inv.push(wire.TGuildEvent).(*wire.GuildEvent)
	if ev.Event != wire.GuildInvited || ev.GuildID != gid || ev.GuildName != "Knights" || ev.CharID != 1 {
		t.Fatalf("invite event = %+v", ev)
	}
	inv.mustOK(&wire.GuildAccept{GuildID: gid})
	if ev := lead.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildJoined || ev.CharID != 2 {
		t.Fatalf("joined event = %+v", ev)
	}
	app.mustOK(&wire.GuildApply{GuildID: gid})
	if ev := lead.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildApplied || ev.CharID != 3 {
		t.Fatalf("applied event = %+v", ev)
	}
	lead.mustOK(&wire.GuildAccept{CharID: 3})
	if ev := app.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildJoined || ev.CharID != 3 {
		t.Fatalf("accepted applicant's event = %+v", ev)
	}
	if s, _ := h.reg.FindSession(context.Background(), 3); s.GuildID != gid {
		t.Fatalf("applicant's presence guild = %d", s.GuildID)
	}
	info := app.call(&wire.GuildMembers{}).(*wire.GuildInfo)
	if len(info.Members) != 3 || info.LeaderID != 1 || !info.Members[1].Ready {
		t.Fatalf("guild info = %+v", info)
	}
	// Guild chat reaches the members on both channels.
	if ok := lead.mustOK(&wire.Cast{Scope: wire.ScopeGuild, Payload: []byte("rally")}); ok.ID != 2 {
		t.Fatalf("guild cast found %d", ok.ID)
	}
	for _, c := range []*tclient{inv, app} {
		if cm := c.push(wire.TCastMsg).(*wire.CastMsg); string(cm.Payload) != "rally" {
			t.Fatalf("guild cast = %+v", cm)
		}
	}
	if ok := inv.mustOK(&wire.GuildMail{Subject: "meet", Body: "tonight"}); ok.ID != 3 {
		t.Fatalf("guild mail to %d", ok.ID)
	}
	for _, c := range []*tclient{lead, app} {
		if n := c.push(wire.TMailNotify).(*wire.MailNotify); n.Subject != "meet" {
			t.Fatalf("guild mail notify = %+v", n)
		}
	}
	lead.mustOK(&wire.GuildKick{CharID: 3})
	if ev := app.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildKicked || ev.CharID != 3 {
		t.Fatalf("kick event = %+v", ev)
	}
	app.mustErr(&wire.GuildMembers{}, wire.CodeNotFound)
	inv.mustOK(&wire.GuildLeave{})
	if ev := lead.push(wire.TGuildEvent).(*wire.GuildEvent); ev.Event != wire.GuildLeft || ev.CharID != 2 {
		t.Fatalf("left event = %+v", ev)
	}
}
