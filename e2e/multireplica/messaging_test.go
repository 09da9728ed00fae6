package multireplica

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

// TestCrossReplica runs the cross-replica features on one 3-replica x
// 2-channel cluster with a player on every channel.
func TestCrossReplica(t *testing.T) {
	c := startCluster(t, 3, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var players []*player // players[2*r+ch] is on replica r, channel ch
	for r := 0; r < 3; r++ {
		for ch := 0; ch < 2; ch++ {
			players = append(players, join(t, ctx, c, r, ch, "p"))
		}
	}

	t.Run("WorldCastReachesEveryOtherPlayerOnce", func(t *testing.T) {
		// One sender per replica; each cast is followed by an end marker
		// from the same sender, so once the marker arrived no duplicate of
		// the cast can still be in flight on that path.
		senders := []int{0, 3, 5}
		for _, s := range senders {
			p := players[s]
			if _, err := p.conn.Cast(ctx, wire.ScopeWorld, nil, []byte("world-"+p.name)); err != nil {
				t.Fatalf("world cast from %s: %v", p.name, err)
			}
			if _, err := p.conn.Cast(ctx, wire.ScopeWorld, nil, []byte("end-"+p.name)); err != nil {
				t.Fatalf("world cast from %s: %v", p.name, err)
			}
		}
		for _, s := range senders {
			from := players[s]
			for i, p := range players {
				if i == s {
					continue
				}
				p.waitCount(t, "end markers from "+from.name, 1, isCast(wire.ScopeWorld, "end-"+from.name))
				if n := p.count(isCast(wire.ScopeWorld, "world-"+from.name)); n != 1 {
					t.Errorf("%s received the world cast of %s %d times, want 1", p.name, from.name, n)
				}
			}
		}
		// The sender's own cast is stamped with its identity on delivery.
		p := players[1]
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, m := range p.events {
			if cm, ok := m.(*wire.CastMsg); ok && string(cm.Payload) == "world-"+players[5].name {
				if cm.SenderID != players[5].id || cm.SenderName != players[5].name {
					t.Errorf("cast stamped %d/%q, want %d/%q", cm.SenderID, cm.SenderName, players[5].id, players[5].name)
				}
			}
		}
	})

	t.Run("WhisperToAnotherReplica", func(t *testing.T) {
		from, to, other := players[0], players[5], players[3]
		n, err := from.conn.Cast(ctx, wire.ScopeTargets, []uint32{to.id}, []byte("psst-"+to.name))
		if err != nil {
			t.Fatalf("whisper: %v", err)
		}
		if n != 1 {
			t.Errorf("whisper delivered count %d, want 1", n)
		}
		to.waitCount(t, "whispers", 1, isCast(wire.ScopeTargets, "psst-"+to.name))
		// A second whisper to someone else acts as a marker: once it has
		// arrived, the first one did not go to other.
		if _, err := from.conn.Cast(ctx, wire.ScopeTargets, []uint32{other.id}, []byte("mark")); err != nil {
			t.Fatal(err)
		}
		other.waitCount(t, "marker whispers", 1, isCast(wire.ScopeTargets, "mark"))
		if n := other.count(isCast(wire.ScopeTargets, "psst-"+to.name)); n != 0 {
			t.Errorf("a non-target received the whisper %d times", n)
		}
		if n := to.count(isCast(wire.ScopeTargets, "psst-"+to.name)); n != 1 {
			t.Errorf("target received the whisper %d times, want 1", n)
		}
	})

	t.Run("FindAndSearchAcrossReplicas", func(t *testing.T) {
		seeker := players[0]
		for i, p := range players {
			info, err := seeker.conn.FindPlayer(ctx, p.id, "")
			if err != nil {
				t.Fatalf("FindPlayer %s: %v", p.name, err)
			}
			wantCh := c.Replica(i / 2).Channels()[i%2]
			if !info.Found || info.Player.ChannelID != wantCh.ID || info.Player.ReplicaID != c.Replica(i/2).ID() || info.Player.Addr != wantCh.Addr {
				t.Errorf("FindPlayer %s: %+v, want channel %d at %s on %s", p.name, info, wantCh.ID, wantCh.Addr, c.Replica(i/2).ID())
			}
			byName, err := seeker.conn.FindPlayer(ctx, 0, p.name)
			if err != nil || !byName.Found || byName.Player.CharID != p.id {
				t.Errorf("FindPlayer by name %s: %+v, %v", p.name, byName, err)
			}
		}
		target := players[4]
		found, err := players[1].conn.SearchPlayers(ctx, target.name, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].CharID != target.id || found[0].ChannelID != c.Replica(2).Channels()[0].ID {
			t.Errorf("SearchPlayers(%q): %+v, want only %d on channel %d", target.name, found, target.id, c.Replica(2).Channels()[0].ID)
		}
		all, err := players[2].conn.SearchPlayers(ctx, "p", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint32]bool{}
		for _, pl := range all {
			got[pl.CharID] = true
		}
		for _, p := range players {
			if !got[p.id] {
				t.Errorf("SearchPlayers(\"p\") misses %s (%d): %+v", p.name, p.id, all)
			}
		}
	})

	t.Run("LobbySearchListsStagesOfOtherReplicas", func(t *testing.T) {
		host := players[5] // replica 3, channel 2
		stage := "quest-" + host.name
		if err := host.conn.StageCreate(ctx, stage, 4, ""); err != nil {
			t.Fatalf("StageCreate: %v", err)
		}
		if _, err := host.conn.StageEnter(ctx, stage, ""); err != nil {
			t.Fatalf("StageEnter: %v", err)
		}
		want := c.Replica(2).Channels()[1]
		eventually(t, waitLimit, "lobby search from replica 1", func() error {
			list, err := players[0].conn.StageList(ctx, "quest-", 50, true)
			if err != nil {
				return err
			}
			for _, s := range list {
				if s.StageID == stage {
					if s.ChannelID != want.ID || s.Addr != want.Addr || s.MaxPlayers != 4 {
						return fmt.Errorf("stage %+v, want channel %d at %s, max 4", s, want.ID, want.Addr)
					}
					return nil
				}
			}
			return fmt.Errorf("stage %q not in %+v", stage, list)
		})
		local, err := players[0].conn.StageList(ctx, "quest-", 50, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range local {
			if s.StageID == stage {
				t.Errorf("non-cluster StageList on another channel lists %q", stage)
			}
		}
	})

	t.Run("MailNotifyAcrossReplicas", func(t *testing.T) {
		from, to := players[1], players[4]
		subject := "hello-" + to.name
		id, err := from.conn.MailSend(ctx, to.id, "", subject, "body")
		if err != nil {
			t.Fatalf("MailSend: %v", err)
		}
		to.waitCount(t, "mail notifications", 1, func(m wire.Message) bool {
			n, ok := m.(*wire.MailNotify)
			return ok && n.MailID == id && n.FromID == from.id && n.Subject == subject
		})
	})

	t.Run("GuildMailToMembersOnOtherReplicas", func(t *testing.T) {
		leader, m1, m2 := players[0], players[2], players[5]
		gid, err := leader.conn.GuildCreate(ctx, uniqueName("g"))
		if err != nil {
			t.Fatalf("GuildCreate: %v", err)
		}
		for _, m := range []*player{m1, m2} {
			if err := leader.conn.GuildInvite(ctx, m.id); err != nil {
				t.Fatalf("GuildInvite %s: %v", m.name, err)
			}
			if err := m.conn.GuildAccept(ctx, gid, m.id); err != nil {
				t.Fatalf("GuildAccept %s: %v", m.name, err)
			}
		}
		subject := "guild-news-" + leader.name
		if _, err := leader.conn.GuildMail(ctx, subject, "raid at nine"); err != nil {
			t.Fatalf("GuildMail: %v", err)
		}
		for _, m := range []*player{m1, m2} {
			m.waitCount(t, "guild mail notifications", 1, func(msg wire.Message) bool {
				n, ok := msg.(*wire.MailNotify)
				return ok && n.Subject == subject
			})
			list, err := m.conn.MailList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, h := range list {
				found = found || h.Subject == subject
			}
			if !found {
				t.Errorf("%s: guild mail %q not in MailList %+v", m.name, subject, list)
			}
		}
	})

	t.Run("GlobalSemaphoreAcrossReplicas", func(t *testing.T) {
		a, b := players[0], players[3] // replica 1 channel 1, replica 2 channel 2
		name := "boss-" + a.name
		tok1, err := a.conn.SemaAcquire(ctx, name, true, 0)
		if err != nil {
			t.Fatalf("acquire on replica 1: %v", err)
		}
		_, err = b.conn.SemaAcquire(ctx, name, true, 0)
		we := wireErr(err)
		if we == nil || we.Code != wire.CodeSemaHeld {
			t.Fatalf("acquire on replica 2 while held: %v, want CodeSemaHeld", err)
		}
		if want := c.Replica(0).Channels()[0].ID; we.Channel != want {
			t.Errorf("held error names channel %d, want the holder's %d", we.Channel, want)
		}
		if err := a.conn.SemaRelease(ctx, name, true); err != nil {
			t.Fatalf("release: %v", err)
		}
		tok2, err := b.conn.SemaAcquire(ctx, name, true, 0)
		if err != nil {
			t.Fatalf("acquire on replica 2 after release: %v", err)
		}
		if tok2 <= tok1 {
			t.Errorf("fencing token %d after %d, want larger", tok2, tok1)
		}
		if err := b.conn.SemaRelease(ctx, name, true); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("DuplicateLoginOnAnotherReplica", func(t *testing.T) {
		user, pass, id := signUp(t, ctx, c, 0, uniqueName("dup"))
		first := connect(t, ctx, c, 0, 0, user, pass)
		save := []byte("saved-just-before-second-login-" + user)
		if err := first.conn.SaveData(ctx, save); err != nil {
			t.Fatalf("SaveData: %v", err)
		}
		// Only the first session's logout save records this stage as the
		// character's last stage (the SaveData above ran outside any stage).
		lastStage := "dup-last-" + user
		if err := first.conn.StageCreate(ctx, lastStage, 0, ""); err != nil {
			t.Fatalf("StageCreate: %v", err)
		}
		if _, err := first.conn.StageEnter(ctx, lastStage, ""); err != nil {
			t.Fatalf("StageEnter: %v", err)
		}
		second := connect(t, ctx, c, 2, 1, user, pass)
		// The login waited for the kicked session's logout save: it is in
		// PostgreSQL by the time the second session is welcomed.
		if got, err := lastStageOf(ctx, c.DatabaseURL(), id); err != nil || got != lastStage {
			t.Errorf("last_stage after the second login = %q, %v; want %q (the kicked session's logout save)", got, err, lastStage)
		}
		first.waitEnded(t)
		var kicked *client.KickedError
		if !errors.As(first.conn.Err(), &kicked) {
			t.Errorf("first session ended with %v, want *client.KickedError", first.conn.Err())
		}
		if n := first.count(func(m wire.Message) bool { _, ok := m.(*wire.Kicked); return ok }); n != 1 {
			t.Errorf("first session saw %d Kicked pushes, want 1 (err %v)", n, first.conn.Err())
		}
		data, err := second.conn.LoadData(ctx)
		if err != nil {
			t.Fatalf("LoadData on the second session: %v", err)
		}
		if string(data.Data) != string(save) {
			t.Errorf("second session loaded %q, want %q", data.Data, save)
		}
		if err := findOnline(ctx, players[1], id, c.Replica(2).Channels()[1].ID); err != nil {
			t.Errorf("after the duplicate login: %v", err)
		}
	})
}
