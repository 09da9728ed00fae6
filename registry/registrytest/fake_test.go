package registrytest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/registry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFakeChannelDeliveries(t *testing.T) {
	fc := NewFakeChannel(registry.ChannelInfo{ID: 3, ReplicaID: "r", Addr: "a"})
	fc.AddSession(fc.Snapshot(1, "a", "", 0))
	fc.AddSession(fc.Snapshot(2, "b", "", 0))
	if got := fc.Info(); got.Players != 2 || got.ID != 3 {
		t.Fatalf("Info = %+v, want ID 3 with 2 players", got)
	}
	fc.Broadcast([]byte("w"), 2)
	if got := fc.Deliver([]uint32{2, 9}, []byte("d")); !slices.Equal(got, []uint32{2}) {
		t.Fatalf("Deliver reached %v, want [2]", got)
	}
	if fc.FrameCount(1, []byte("w")) != 1 || fc.FrameCount(2, []byte("w")) != 0 || fc.FrameCount(2, []byte("d")) != 1 {
		t.Fatalf("frames: 1=%q 2=%q", fc.Frames(1), fc.Frames(2))
	}
	if b := fc.Broadcasts(); len(b) != 1 || b[0].ExceptChar != 2 {
		t.Fatalf("broadcasts = %+v", b)
	}
	if fc.NotifyMail(9, registry.MailNotice{}) || !fc.NotifyMail(1, registry.MailNotice{MailID: 4}) {
		t.Fatal("NotifyMail must reach only present sessions")
	}
	if m := fc.Mail(1); len(m) != 1 || m[0].MailID != 4 {
		t.Fatalf("mail = %+v", m)
	}
	if got := fc.Sessions(registry.SessionFilter{NamePrefix: "B"}, 0); len(got) != 1 || got[0].CharID != 2 {
		t.Fatalf("Sessions(prefix B) = %+v", got)
	}
	fc.AddStage(fc.StageSnapshot("town-1", 0, 5))
	fc.AddStage(fc.StageSnapshot("town-2", 0, 5))
	fc.AddStage(fc.StageSnapshot("arena", 0, 5))
	if got := fc.Stages("town", 1); len(got) != 1 || got[0].StageID != "town-1" {
		t.Fatalf("Stages(town, 1) = %+v", got)
	}
}

func TestFakeChannelDisconnect(t *testing.T) {
	fc := NewFakeChannel(registry.ChannelInfo{ID: 1})
	var loggedOut []uint32
	fc.SetLogout(func(ctx context.Context, id uint32) { loggedOut = append(loggedOut, id) })
	fc.AddSession(fc.Snapshot(1, "a", "", 0))

	if ok, err := fc.Disconnect(t.Context(), 9, "x"); ok || err != nil {
		t.Fatalf("Disconnect(absent) = %v, %v; want false, nil", ok, err)
	}
	failing := errors.New("save failed")
	fc.SetDisconnectHook(func(context.Context, uint32, string) error { return failing })
	if ok, err := fc.Disconnect(t.Context(), 1, "x"); !ok || !errors.Is(err, failing) || !fc.HasSession(1) {
		t.Fatalf("Disconnect with failing hook = %v, %v; want true, the hook's error, session kept", ok, err)
	}
	fc.SetDisconnectHook(nil)
	if ok, err := fc.Disconnect(t.Context(), 1, "bye"); !ok || err != nil || fc.HasSession(1) {
		t.Fatalf("Disconnect = %v, %v; want true, nil and the session gone", ok, err)
	}
	if !slices.Equal(loggedOut, []uint32{1}) {
		t.Fatalf("logouts = %v, want [1] (only the confirmed one)", loggedOut)
	}
	d := fc.Disconnects()
	if len(d) != 3 || d[0].Online || !d[1].Online || d[2].Reason != "bye" {
		t.Fatalf("disconnects = %+v", d)
	}
}

func TestFakeChannelAwaitWakesOnChange(t *testing.T) {
	fc := NewFakeChannel(registry.ChannelInfo{ID: 1})
	fc.AddSession(fc.Snapshot(1, "a", "", 0))
	go fc.Broadcast([]byte("late"), 0)
	fc.Await(t, "the broadcast", func() bool { return fc.FrameCount(1, []byte("late")) == 1 })
}

func TestHooks(t *testing.T) {
	release := make(chan struct{})
	close(release)
	if err := BlockingHook(release)(t.Context(), 1, ""); err == nil {
		t.Fatal("BlockingHook released must still report an unconfirmed logout")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := GateHook(make(chan struct{}))(ctx, 1, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("GateHook with ended ctx: %v, want context.Canceled", err)
	}
	gate := make(chan struct{})
	close(gate)
	if err := GateHook(gate)(t.Context(), 1, ""); err != nil {
		t.Fatalf("GateHook with open gate: %v", err)
	}
}
