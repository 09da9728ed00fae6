package e2e

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

// TestEndToEnd drives one replica (two channels, local registry, real
// PostgreSQL) with client-library players over real sockets. Subtests share
// the server and use distinct accounts and stage names.
func TestEndToEnd(t *testing.T) {
	srv := startServer(t, testConfig(pg.URL(t)))

	t.Run("StageCastsAndPushes", func(t *testing.T) {
		alice := srv.newPlayerHTTP(t, "st_alice", "StAlice", 1)
		bob := srv.newPlayerHTTP(t, "st_bob", "StBob", 1)
		ctx := ctxT(t)
		_, _, err := client.SignUp(ctx, srv.httpBase, "st_alice", "another-password", "StAlice2")
		var apiErr *client.APIError
		require.ErrorAs(t, err, &apiErr, "a taken username is refused")
		require.Equal(t, "exists", apiErr.Code)
		_, err = client.SignIn(ctx, srv.httpBase, "st_alice", "not-her-password")
		require.ErrorAs(t, err, &apiErr, "a wrong password is refused")
		require.Equal(t, "unauthorized", apiErr.Code)

		require.NoError(t, alice.conn.StageCreate(ctx, "hall", 0, ""))
		si, err := alice.conn.StageEnter(ctx, "hall", "")
		require.NoError(t, err)
		require.Equal(t, "hall", si.StageID)
		require.Len(t, si.Members, 1)

		si, err = bob.conn.StageEnter(ctx, "hall", "")
		require.NoError(t, err)
		require.ElementsMatch(t, []uint32{alice.id, bob.id}, memberIDs(si.Members))
		joined := waitEvent(t, alice, "bob's join push", func(e *wire.StageJoined) bool { return e.CharID == bob.id })
		require.Equal(t, "hall", joined.StageID)
		require.Equal(t, bob.name, joined.Name)

		n, err := bob.conn.Cast(ctx, wire.ScopeStage, nil, []byte("hi alice"))
		require.NoError(t, err)
		require.Equal(t, uint64(1), n, "one other stage member")
		got := waitEvent(t, alice, "bob's cast", castFrom(wire.ScopeStage, bob, "hi alice"))
		require.Equal(t, bob.name, got.SenderName)

		n, err = alice.conn.Cast(ctx, wire.ScopeStage, nil, []byte("hi bob"))
		require.NoError(t, err)
		require.Equal(t, uint64(1), n)
		waitEvent(t, bob, "alice's cast", castFrom(wire.ScopeStage, alice, "hi bob"))
		// Bob's own cast was queued to him before alice's answer, if at all.
		require.Zero(t, countEvents(bob, castFrom(wire.ScopeStage, bob, "hi alice")), "a sender does not get its own cast")

		require.NoError(t, bob.conn.StageLeave(ctx))
		left := waitEvent(t, alice, "bob's leave push", func(e *wire.StageLeft) bool { return e.CharID == bob.id })
		require.Equal(t, "hall", left.StageID)
		si, err = alice.conn.StageClients(ctx, "hall")
		require.NoError(t, err)
		require.Equal(t, []uint32{alice.id}, memberIDs(si.Members))
	})

	t.Run("StageFull", func(t *testing.T) {
		p1 := srv.newPlayer(t, "full_one", "FullOne", 1)
		p2 := srv.newPlayer(t, "full_two", "FullTwo", 1)
		p3 := srv.newPlayer(t, "full_three", "FullThree", 1)
		ctx := ctxT(t)

		require.NoError(t, p1.conn.StageCreate(ctx, "duo", 2, ""))
		_, err := p1.conn.StageEnter(ctx, "duo", "")
		require.NoError(t, err)
		_, err = p2.conn.StageEnter(ctx, "duo", "")
		require.NoError(t, err)
		_, err = p3.conn.StageEnter(ctx, "duo", "")
		requireCode(t, err, wire.CodeStageFull, "third player in a stage of max 2")

		si, err := p3.conn.StageClients(ctx, "duo")
		require.NoError(t, err)
		require.Equal(t, uint16(2), si.MaxPlayers)
		require.ElementsMatch(t, []uint32{p1.id, p2.id}, memberIDs(si.Members), "the refused player is not a member")

		// A slot frees when someone leaves.
		require.NoError(t, p2.conn.StageLeave(ctx))
		_, err = p3.conn.StageEnter(ctx, "duo", "")
		require.NoError(t, err)
	})

	t.Run("ReservePassword", func(t *testing.T) {
		host := srv.newPlayer(t, "res_host", "ResHost", 1)
		guest := srv.newPlayer(t, "res_guest", "ResGuest", 1)
		ctx := ctxT(t)

		require.NoError(t, host.conn.StageCreate(ctx, "vault", 4, "sesame"))
		_, err := host.conn.StageEnter(ctx, "vault", "sesame")
		require.NoError(t, err)

		requireCode(t, guest.conn.StageReserve(ctx, "vault", "wrong"), wire.CodeWrongPass, "reserve with the wrong password")
		_, err = guest.conn.StageEnter(ctx, "vault", "")
		requireCode(t, err, wire.CodeWrongPass, "enter without password or reservation")
		si, err := host.conn.StageClients(ctx, "vault")
		require.NoError(t, err)
		require.Empty(t, si.Reservations, "a refused reservation holds no slot")
		require.True(t, si.HasPassword)

		require.NoError(t, guest.conn.StageReserve(ctx, "vault", "sesame"))
		si, err = host.conn.StageClients(ctx, "vault")
		require.NoError(t, err)
		require.Equal(t, []uint32{guest.id}, memberIDs(si.Reservations))

		// The reservation admits its holder without the password.
		si, err = guest.conn.StageEnter(ctx, "vault", "")
		require.NoError(t, err)
		require.ElementsMatch(t, []uint32{host.id, guest.id}, memberIDs(si.Members))
	})

	t.Run("BackStack", func(t *testing.T) {
		p := srv.newPlayer(t, "back_walker", "Walker", 2)
		ctx := ctxT(t)
		// Reservations keep the stages alive while the walker is elsewhere
		// (an empty stage without reservations is destroyed).
		for _, id := range []string{"back-a", "back-b", "back-c"} {
			require.NoError(t, p.conn.StageCreate(ctx, id, 0, ""))
			require.NoError(t, p.conn.StageReserve(ctx, id, ""))
		}
		si, err := p.conn.StageEnter(ctx, "back-a", "")
		require.NoError(t, err)
		require.Equal(t, "back-a", si.StageID)
		si, err = p.conn.StageMove(ctx, "back-b", "")
		require.NoError(t, err)
		require.Equal(t, "back-b", si.StageID)
		si, err = p.conn.StageMove(ctx, "back-c", "")
		require.NoError(t, err)
		require.Equal(t, "back-c", si.StageID)

		si, err = p.conn.StageBack(ctx)
		require.NoError(t, err)
		require.Equal(t, "back-b", si.StageID)
		require.Equal(t, []uint32{p.id}, memberIDs(si.Members))
		si, err = p.conn.StageBack(ctx)
		require.NoError(t, err)
		require.Equal(t, "back-a", si.StageID)
		_, err = p.conn.StageBack(ctx)
		requireCode(t, err, wire.CodeNotFound, "back with an empty stack")

		// Enter clears the stack.
		_, err = p.conn.StageMove(ctx, "town", "")
		require.NoError(t, err)
		_, err = p.conn.StageEnter(ctx, "town", "")
		require.NoError(t, err)
		_, err = p.conn.StageBack(ctx)
		requireCode(t, err, wire.CodeNotFound, "enter clears the back stack")
	})

	t.Run("WorldCastExactlyOnce", func(t *testing.T) {
		sender := srv.newPlayer(t, "wc_sender", "WcSender", 1)
		fencer := srv.newPlayer(t, "wc_fencer", "WcFencer", 2)
		others := []*player{
			srv.newPlayer(t, "wc_one", "WcOne", 1),
			srv.newPlayer(t, "wc_two", "WcTwo", 2),
			srv.newPlayer(t, "wc_three", "WcThree", 2),
		}
		ctx := ctxT(t)
		// One player in a stage: world casts reach stage members too.
		_, err := others[0].conn.StageEnter(ctx, "town", "")
		require.NoError(t, err)

		const msg = "hear ye, both channels"
		_, err = sender.conn.Cast(ctx, wire.ScopeWorld, nil, []byte(msg))
		require.NoError(t, err)
		// Fences: each is cast after the OK of msg, and one session's queue
		// is FIFO, so a player holding a fence already holds every copy of
		// msg it will ever get.
		_, err = fencer.conn.Cast(ctx, wire.ScopeWorld, nil, []byte("fence 1"))
		require.NoError(t, err)
		_, err = sender.conn.Cast(ctx, wire.ScopeWorld, nil, []byte("fence 2"))
		require.NoError(t, err)

		for _, p := range append(others, fencer) {
			got := waitEvent(t, p, "the world cast", castFrom(wire.ScopeWorld, sender, msg))
			require.Equal(t, sender.name, got.SenderName)
		}
		for _, p := range others {
			waitEvent(t, p, "fence 1", castFrom(wire.ScopeWorld, fencer, "fence 1"))
		}
		waitEvent(t, sender, "fence 1", castFrom(wire.ScopeWorld, fencer, "fence 1"))
		waitEvent(t, fencer, "fence 2", castFrom(wire.ScopeWorld, sender, "fence 2"))

		for _, p := range append(others, fencer) {
			require.Equal(t, 1, countEvents(p, castFrom(wire.ScopeWorld, sender, msg)), "%s gets the world cast exactly once", p.name)
		}
		require.Zero(t, countEvents(sender, castFrom(wire.ScopeWorld, sender, msg)), "the sender does not get its own world cast")
	})

	t.Run("WhisperAcrossChannels", func(t *testing.T) {
		from := srv.newPlayer(t, "wh_from", "WhFrom", 1)
		to := srv.newPlayer(t, "wh_to", "WhTo", 2)
		offline := srv.signUp(t, "wh_offline", "WhOffline")
		ctx := ctxT(t)

		pi, err := from.conn.FindPlayer(ctx, 0, to.name)
		require.NoError(t, err)
		require.True(t, pi.Found)
		require.Equal(t, to.id, pi.Player.CharID)
		require.Equal(t, uint16(2), pi.Player.ChannelID)

		n, err := from.conn.Cast(ctx, wire.ScopeTargets, []uint32{to.id, offline}, []byte("psst"))
		require.NoError(t, err)
		require.Equal(t, uint64(1), n, "only the online target is found")
		got := waitEvent(t, to, "the whisper", castFrom(wire.ScopeTargets, from, "psst"))
		require.Equal(t, from.name, got.SenderName)

		// And back, from channel 2 to channel 1.
		n, err = to.conn.Cast(ctx, wire.ScopeTargets, []uint32{from.id}, []byte("heard you"))
		require.NoError(t, err)
		require.Equal(t, uint64(1), n)
		waitEvent(t, from, "the reply", castFrom(wire.ScopeTargets, to, "heard you"))
	})

	t.Run("MailToOfflineCharacter", func(t *testing.T) {
		sender := srv.newPlayer(t, "mail_from", "MailFrom", 1)
		rcptID := srv.signUp(t, "mail_to", "MailTo")
		ctx := ctxT(t)

		id1, err := sender.conn.MailSend(ctx, rcptID, "", "by id", "first body")
		require.NoError(t, err)
		require.NotZero(t, id1)
		id2, err := sender.conn.MailSend(ctx, 0, "MailTo", "by name", "second body\nwith two lines")
		require.NoError(t, err)
		require.NotZero(t, id2)
		require.NotEqual(t, id1, id2)
		_, err = sender.conn.MailSend(ctx, 0, "NoSuchChar", "lost", "nobody")
		requireCode(t, err, wire.CodeNotFound, "mail to an unknown name")

		rcpt := &player{t: t, srv: srv, user: "mail_to", pass: "mail_to-password", name: "MailTo", id: rcptID}
		rcpt.connect(t, 2)
		require.Equal(t, uint16(2), rcpt.conn.Welcome().UnreadMail)
		require.Zero(t, countEvents(rcpt, func(*wire.MailNotify) bool { return true }), "mail sent while offline is not pushed")

		list, err := rcpt.conn.MailList(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		byID := map[int64]wire.MailHeader{}
		for _, h := range list {
			byID[h.ID] = h
			require.Equal(t, sender.id, h.FromID)
			require.Equal(t, sender.name, h.FromName)
			require.False(t, h.Read)
			require.False(t, h.Guild)
		}
		require.Equal(t, "by id", byID[id1].Subject)
		require.Equal(t, "by name", byID[id2].Subject)

		body, err := rcpt.conn.MailRead(ctx, id2)
		require.NoError(t, err)
		require.Equal(t, "second body\nwith two lines", body.Body)
		require.Equal(t, "by name", body.Header.Subject)

		list, err = rcpt.conn.MailList(ctx)
		require.NoError(t, err)
		for _, h := range list {
			require.Equal(t, h.ID == id2, h.Read, "only the read mail is marked read (mail %d)", h.ID)
		}
		// The sender's inbox holds none of it.
		own, err := sender.conn.MailList(ctx)
		require.NoError(t, err)
		require.Empty(t, own)
	})

	t.Run("GuildMail", func(t *testing.T) {
		leader := srv.newPlayer(t, "gm_leader", "GmLeader", 1)
		invitee := srv.newPlayer(t, "gm_invitee", "GmInvitee", 2)
		applicant := srv.newPlayer(t, "gm_applicant", "GmApplicant", 1)
		sleeper := srv.newPlayer(t, "gm_sleeper", "GmSleeper", 2)
		ctx := ctxT(t)

		gid, err := leader.conn.GuildCreate(ctx, "Wardens")
		require.NoError(t, err)
		require.NotZero(t, gid)

		// Invitation, accepted by the invitee (on the other channel).
		require.NoError(t, leader.conn.GuildInvite(ctx, invitee.id))
		inv := waitEvent(t, invitee, "the invitation", func(e *wire.GuildEvent) bool { return e.Event == wire.GuildInvited })
		require.Equal(t, gid, inv.GuildID)
		require.Equal(t, leader.id, inv.CharID)
		require.NoError(t, invitee.conn.GuildAccept(ctx, gid, 0))
		waitEvent(t, leader, "the invitee joining", func(e *wire.GuildEvent) bool {
			return e.Event == wire.GuildJoined && e.CharID == invitee.id && e.GuildID == gid
		})

		// Applications, accepted by the leader.
		for _, p := range []*player{applicant, sleeper} {
			require.NoError(t, p.conn.GuildApply(ctx, gid))
			waitEvent(t, leader, p.name+"'s application", func(e *wire.GuildEvent) bool {
				return e.Event == wire.GuildApplied && e.CharID == p.id
			})
			require.NoError(t, leader.conn.GuildAccept(ctx, 0, p.id))
		}
		gi, err := leader.conn.GuildMembers(ctx)
		require.NoError(t, err)
		require.Equal(t, gid, gi.GuildID)
		require.Equal(t, leader.id, gi.LeaderID)
		require.ElementsMatch(t, []uint32{leader.id, invitee.id, applicant.id, sleeper.id}, memberIDs(gi.Members))

		require.NoError(t, sleeper.conn.Logout(ctx))

		n, err := leader.conn.GuildMail(ctx, "raid tonight", "bring potions")
		require.NoError(t, err)
		require.Equal(t, uint64(4), n, "one mail per member, the sender included")

		for _, p := range []*player{leader, invitee, applicant} {
			note := waitEvent(t, p, "the guild mail notification", func(e *wire.MailNotify) bool { return e.Subject == "raid tonight" })
			require.Equal(t, leader.id, note.FromID)
			requireGuildMail(t, p, note.MailID, leader.id)
		}

		sleeper.connect(t, 1)
		w := sleeper.conn.Welcome()
		require.Equal(t, uint16(1), w.UnreadMail)
		require.Equal(t, gid, w.GuildID)
		list, err := sleeper.conn.MailList(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		requireGuildMail(t, sleeper, list[0].ID, leader.id)
	})

	t.Run("DuplicateLoginKicksOlderSession", func(t *testing.T) {
		first := srv.newPlayer(t, "dup_player", "DupPlayer", 1)
		ctx := ctxT(t)
		require.NoError(t, first.conn.SaveData(ctx, []byte("saved by the first session")))
		_, err := first.conn.StageEnter(ctx, "town", "")
		require.NoError(t, err)
		oldConn, oldRec := first.conn, first.rec

		second := *first
		second.connect(t, 2) // a fresh SignIn and token, on the other channel
		kicked := waitEvent(t, &player{name: "first session", rec: oldRec}, "the kick", func(*wire.Kicked) bool { return true })
		select {
		case <-oldConn.Done():
		case <-ctxT(t).Done():
			t.Fatal("the kicked connection did not close")
		}
		var ke *client.KickedError
		require.ErrorAs(t, oldConn.Err(), &ke)
		require.Equal(t, kicked.Reason, ke.Reason)
		<-oldRec.done

		cd, err := second.conn.LoadData(ctx)
		require.NoError(t, err)
		require.Equal(t, "saved by the first session", string(cd.Data))
		sum := sha256.Sum256(cd.Data)
		require.Equal(t, sum[:], cd.Hash)

		pi, err := second.conn.FindPlayer(ctx, second.id, "")
		require.NoError(t, err)
		require.True(t, pi.Found)
		require.Equal(t, uint16(2), pi.Player.ChannelID, "the character is online once, on the new channel")
		si, err := second.conn.StageClients(ctx, "town")
		require.NoError(t, err)
		require.NotContains(t, memberIDs(si.Members), second.id, "the kicked session left its stage")
	})

	t.Run("SaveDataSurvivesLogout", func(t *testing.T) {
		p := srv.newPlayer(t, "save_player", "SavePlayer", 1)
		ctx := ctxT(t)
		cd, err := p.conn.LoadData(ctx)
		require.NoError(t, err)
		require.Empty(t, cd.Data, "a new character has no save data")

		data := []byte{0, 1, 2, 0xff, 'o', 'k'}
		require.NoError(t, p.conn.SaveData(ctx, data))
		require.NoError(t, p.conn.Logout(ctx))
		<-p.conn.Done()

		p.connect(t, 2)
		cd, err = p.conn.LoadData(ctx)
		require.NoError(t, err)
		require.Equal(t, data, cd.Data)
		sum := sha256.Sum256(data)
		require.Equal(t, sum[:], cd.Hash)

		// Overwrite, then log out and in again: the newest save wins.
		require.NoError(t, p.conn.SaveData(ctx, []byte("second save")))
		require.NoError(t, p.conn.Logout(ctx))
		p.connect(t, 1)
		cd, err = p.conn.LoadData(ctx)
		require.NoError(t, err)
		require.Equal(t, "second save", string(cd.Data))
	})
}

// requireGuildMail asserts p's inbox holds mail id, a guild mail from
// fromID with the raid subject and body.
func requireGuildMail(t *testing.T, p *player, id int64, fromID uint32) {
	t.Helper()
	body, err := p.conn.MailRead(ctxT(t), id)
	require.NoError(t, err, "%s reads guild mail %d", p.name, id)
	require.True(t, body.Header.Guild, "%s: mail %d is a guild mail", p.name, id)
	require.Equal(t, fromID, body.Header.FromID)
	require.Equal(t, "raid tonight", body.Header.Subject)
	require.Equal(t, "bring potions", body.Body)
}

func memberIDs(ms []wire.Member) []uint32 {
	ids := make([]uint32, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.CharID)
	}
	return ids
}
