package redisreg

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/guildhall/guildhall/redistest"
	"github.com/guildhall/guildhall/registry"
)

// Two clusters with different prefixes share one Redis and do not see each
// other, even with the same replica IDs, channel IDs, character IDs,
// stage IDs and semaphore names: claims, presence, kicks, search, channel
// lists, world casts, targeted casts, mail notices and semaphores stay in
// their own cluster, every key carries its cluster's prefix, and closing
// one cluster's replica removes none of the other's keys.
func TestClusterPrefixesIsolate(t *testing.T) {
	ctx := testCtx(t)
	mini, client := redistest.Miniredis(t)
	red := &cluster{client: client, mini: mini, prefix: "red", regs: map[string]*Registry{}}
	blue := &cluster{client: client, mini: mini, prefix: "blue", regs: map[string]*Registry{}}
	redA := red.start(t, "A", nil)
	redB := red.start(t, "B", nil)
	blueA := blue.start(t, "A", nil)
	blueB := blue.start(t, "B", nil)

	// Same channel ID 1 on replica "A" of both clusters: no claim clash.
	fRed := fake(t, ctx, redA, 1, 11)
	fBlue := fake(t, ctx, blueA, 1, 11, 12)
	fBlue2 := fake(t, ctx, blueB, 2)
	fRed.AddStage(fRed.StageSnapshot("hall", 1, 4))
	redA.StageUpdated(ctx, fRed.StageSnapshot("hall", 1, 4))
	fBlue2.AddStage(fBlue2.StageSnapshot("hall-blue", 0, 8))
	blueB.StageUpdated(ctx, fBlue2.StageSnapshot("hall-blue", 0, 8))
	if n := len(fRed.Disconnects()); n != 0 {
		t.Fatalf("blue's login of character 11 kicked red's character 11 (%d disconnects)", n)
	}

	// Channel lists.
	for _, tc := range []struct {
		reg  *Registry
		want []uint16
	}{{redB, []uint16{1}}, {blueA, []uint16{1, 2}}} {
		infos, err := tc.reg.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint16
		for _, c := range infos {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Fatalf("Channels of a %q replica = %v, want %v", tc.reg.o.Prefix, ids, tc.want)
		}
	}

	// Presence and search.
	if _, err := redB.FindSession(ctx, 12); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("red finds blue's character 12: %v", err)
	}
	if _, err := blueB.FindSession(ctx, 12); err != nil {
		t.Fatalf("blue does not find its own character 12: %v", err)
	}
	if got, err := redB.SearchSessions(ctx, registry.SessionFilter{}, 0); err != nil || len(got) != 1 || got[0].CharID != 11 {
		t.Fatalf("red SearchSessions = %+v, %v; want only red's 11", got, err)
	}
	if got, err := blueB.SearchSessions(ctx, registry.SessionFilter{}, 0); err != nil || len(got) != 2 {
		t.Fatalf("blue SearchSessions = %+v, %v; want blue's 11 and 12", got, err)
	}
	if got, err := redB.SearchStages(ctx, "hall", 0); err != nil || len(got) != 1 || got[0].StageID != "hall" {
		t.Fatalf("red SearchStages(hall) = %+v, %v; want only red's hall", got, err)
	}
	if _, err := redB.FindChannelForStage(ctx, "hall-blue"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("red finds blue's stage: %v", err)
	}
	if _, err := blueA.FindChannelForStage(ctx, "hall"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("blue finds red's stage: %v", err)
	}

	// Semaphores of the same name are distinct.
	if _, err := redA.AcquireSemaphore(ctx, "forge", registry.Holder{CharID: 11, ChannelID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := blueA.AcquireSemaphore(ctx, "forge", registry.Holder{CharID: 12, ChannelID: 1}); err != nil {
		t.Fatalf("blue's forge is held by red's holder: %v", err)
	}

	// Messages: red's world cast, targeted cast and mail notice to character
	// 11 reach red only. Blue's markers are published after them on the same
	// Redis; once blue has its markers it would have had red's messages.
	if err := redB.Worldcast(ctx, []byte("red-world"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := redB.Cast(ctx, []uint32{11, 12}, []byte("red-cast")); err != nil || !slices.Equal(got, []uint32{11}) {
		t.Fatalf("red Cast to 11 and 12 found %v, %v; want [11]", got, err)
	}
	if err := redB.NotifyMail(ctx, 11, registry.MailNotice{MailID: 1, Subject: "red-mail"}); err != nil {
		t.Fatal(err)
	}
	fRed.Await(t, "red's messages at red", func() bool {
		return fRed.FrameCount(11, []byte("red-world")) == 1 && fRed.FrameCount(11, []byte("red-cast")) == 1 && len(fRed.Mail(11)) == 1
	})
	if err := blueB.Worldcast(ctx, []byte("blue-world"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := blueB.Cast(ctx, []uint32{11}, []byte("blue-cast")); err != nil {
		t.Fatal(err)
	}
	if err := blueB.NotifyMail(ctx, 11, registry.MailNotice{MailID: 2, Subject: "blue-mail"}); err != nil {
		t.Fatal(err)
	}
	fBlue.Await(t, "blue's markers at blue", func() bool {
		return fBlue.FrameCount(11, []byte("blue-world")) == 1 && fBlue.FrameCount(11, []byte("blue-cast")) == 1 && len(fBlue.Mail(11)) == 1
	})
	for _, f := range []string{"red-world", "red-cast"} {
		if n := fBlue.FrameCount(11, []byte(f)); n != 0 {
			t.Errorf("blue's character 11 received %q %d times", f, n)
		}
	}
	if m := fBlue.Mail(11); len(m) != 1 || m[0].Subject != "blue-mail" {
		t.Errorf("blue's character 11 mail notices = %+v, want only blue-mail", m)
	}
	for _, f := range []string{"blue-world", "blue-cast"} {
		if n := fRed.FrameCount(11, []byte(f)); n != 0 {
			t.Errorf("red's character 11 received %q %d times", f, n)
		}
	}
	if m := fRed.Mail(11); len(m) != 1 || m[0].Subject != "red-mail" {
		t.Errorf("red's character 11 mail notices = %+v, want only red-mail", m)
	}
	if n := len(fBlue.Disconnects()) + len(fRed.Disconnects()); n != 0 {
		t.Fatalf("%d disconnects across the clusters, want none", n)
	}

	// Every key carries its cluster's prefix.
	var redKeys, blueKeys int
	for _, k := range mini.Keys() {
		switch {
		case strings.HasPrefix(k, "red:"):
			redKeys++
		case strings.HasPrefix(k, "blue:"):
			blueKeys++
		default:
			t.Errorf("key %q carries neither prefix", k)
		}
	}
	if redKeys == 0 || blueKeys == 0 {
		t.Fatalf("red %d keys, blue %d keys; want both non-zero", redKeys, blueKeys)
	}

	// Closing red's A removes its presence and channel, none of blue's.
	if err := redA.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := redB.FindSession(ctx, 11); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("red's 11 after its replica closed: %v", err)
	}
	if s, err := blueB.FindSession(ctx, 11); err != nil || s.ReplicaID != "A" || s.ChannelID != 1 {
		t.Fatalf("blue's 11 after red's A closed: %+v, %v", s, err)
	}
	if infos, err := blueB.Channels(ctx); err != nil || len(infos) != 2 {
		t.Fatalf("blue's channels after red's A closed: %+v, %v", infos, err)
	}
	if _, err := blueB.AcquireSemaphore(ctx, "forge", registry.Holder{CharID: 99, ChannelID: 2}); err == nil {
		t.Fatal("blue's forge was freed by red's replica closing")
	}
	// And red's channel ID 1 is claimable again in red only.
	fake(t, ctx, redB, 1)
}
