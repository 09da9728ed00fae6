package registry_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/registry/registrytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// localCluster is the in-process registry as a registrytest.Cluster: one
// replica, no TTLs.
type localCluster struct {
	t   *testing.T
	reg *registry.Local
}

func newLocalCluster(t *testing.T) registrytest.Cluster {
	return &localCluster{t: t}
}

func (c *localCluster) Replica(t *testing.T, id string) registry.ChannelRegistry {
	t.Helper()
	if c.reg == nil {
		c.reg = registry.NewLocal(id, nil)
		reg := c.reg
		t.Cleanup(func() {
			if err := reg.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	if c.reg.ReplicaID() != id {
		t.Fatalf("local registry is replica %q; asked for a second replica %q", c.reg.ReplicaID(), id)
	}
	return c.reg
}

func (c *localCluster) Advance(time.Duration) {}

func (c *localCluster) MaxReplicas() int { return 1 }

func TestLocalConformance(t *testing.T) {
	registrytest.Run(t, newLocalCluster)
}

// newLocal returns a Local closed at the end of the test, with channels of
// the given IDs registered (their logouts reported back to the registry).
func newLocal(t *testing.T, ids ...uint16) (*registry.Local, map[uint16]*registrytest.FakeChannel) {
	t.Helper()
	reg := registry.NewLocal("r1", nil)
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	chans := make(map[uint16]*registrytest.FakeChannel)
	for _, id := range ids {
		fc := registrytest.NewFakeChannel(registry.ChannelInfo{ID: id, ReplicaID: "r1", Addr: "127.0.0.1:1"})
		if err := reg.Register(t.Context(), fc); err != nil {
			t.Fatalf("Register(%d): %v", id, err)
		}
		fc.LogoutVia(reg)
		chans[id] = fc
	}
	return reg, chans
}

func online(t *testing.T, reg *registry.Local, fc *registrytest.FakeChannel, charID uint32) registry.SessionSnapshot {
	t.Helper()
	s := fc.Snapshot(charID, "n", "", 0)
	fc.AddSession(s)
	if err := reg.SessionOnline(t.Context(), s); err != nil {
		t.Fatalf("SessionOnline(%d): %v", charID, err)
	}
	return s
}

func TestLocalKickReason(t *testing.T) {
	reg, ch := newLocal(t, 1, 2)
	online(t, reg, ch[1], 5)
	if err := reg.SessionOnline(t.Context(), ch[2].Snapshot(5, "n", "", 0)); err != nil {
		t.Fatal(err)
	}
	d := ch[1].Disconnects()
	if len(d) != 1 || d[0].Reason != "logged in elsewhere" || d[0].CharID != 5 {
		t.Fatalf("disconnects = %+v, want one of character 5 with reason %q", d, "logged in elsewhere")
	}
}

func TestLocalSessionOnlineUnregisteredChannel(t *testing.T) {
	reg, ch := newLocal(t, 1)
	s := ch[1].Snapshot(5, "n", "", 0)
	s.ChannelID = 9
	err := reg.SessionOnline(t.Context(), s)
	if !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("SessionOnline on unregistered channel: %v, want ErrNotFound", err)
	}
	if _, err := reg.FindSession(t.Context(), 5); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("presence recorded for an unregistered channel: %v", err)
	}
}

func TestLocalSessionOnlineForeignReplica(t *testing.T) {
	reg, ch := newLocal(t, 1)
	s := ch[1].Snapshot(5, "n", "", 0)
	s.ReplicaID = "elsewhere"
	if err := reg.SessionOnline(t.Context(), s); err == nil {
		t.Fatal("SessionOnline of another replica's session succeeded")
	}
	s.ReplicaID = ""
	if err := reg.SessionOnline(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	got, err := reg.FindSession(t.Context(), 5)
	if err != nil || got.ReplicaID != "r1" {
		t.Fatalf("FindSession = %+v, %v; want ReplicaID filled with r1", got, err)
	}
}

func TestLocalStalePresenceIsReplaced(t *testing.T) {
	reg, ch := newLocal(t, 1, 2)
	online(t, reg, ch[1], 5)
	// The session vanished without SessionOffline: the kick finds nobody.
	ch[1].RemoveSession(5)
	s := online(t, reg, ch[2], 5)
	if got, err := reg.FindSession(t.Context(), 5); err != nil || got != s {
		t.Fatalf("FindSession = %+v, %v; want %+v", got, err, s)
	}
	if d := ch[1].Disconnects(); len(d) != 1 || d[0].Online {
		t.Fatalf("disconnects = %+v, want one, finding no session", d)
	}
}

func TestLocalIgnoredUpdates(t *testing.T) {
	reg, ch := newLocal(t, 1, 2)
	s := online(t, reg, ch[1], 5)
	// An update claiming another channel does not move the presence.
	moved := s
	moved.ChannelID, moved.StageID = 2, "x"
	reg.SessionUpdated(t.Context(), moved)
	// An update of an absent character does not create presence.
	reg.SessionUpdated(t.Context(), ch[1].Snapshot(6, "m", "", 0))
	if got, _ := reg.FindSession(t.Context(), 5); got != s {
		t.Fatalf("FindSession(5) = %+v, want %+v", got, s)
	}
	if _, err := reg.FindSession(t.Context(), 6); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("FindSession(6): %v, want ErrNotFound", err)
	}
	// Stages of unregistered channels and empty stage IDs are not indexed.
	reg.StageUpdated(t.Context(), registry.StageSnapshot{StageID: "ghost", ChannelID: 9})
	reg.StageUpdated(t.Context(), registry.StageSnapshot{StageID: "", ChannelID: 1})
	st, err := reg.SearchStages(t.Context(), "", 0)
	if err != nil || len(st) != 0 {
		t.Fatalf("SearchStages = %+v, %v; want none", st, err)
	}
}

func TestLocalFindStageLowestChannel(t *testing.T) {
	reg, ch := newLocal(t, 1, 2)
	reg.StageUpdated(t.Context(), ch[2].StageSnapshot("town", 1, 5))
	reg.StageUpdated(t.Context(), ch[1].StageSnapshot("town", 1, 5))
	got, err := reg.FindChannelForStage(t.Context(), "town")
	if err != nil || got.ChannelID != 1 {
		t.Fatalf("FindChannelForStage = %+v, %v; want channel 1", got, err)
	}
}

func TestLocalSemaphoreHolderIncludesChannel(t *testing.T) {
	reg, ch := newLocal(t, 1, 2)
	h := registry.Holder{CharID: 5, ReplicaID: "r1", ChannelID: 1}
	if _, err := reg.AcquireSemaphore(t.Context(), "s", h); err != nil {
		t.Fatal(err)
	}
	other := h
	other.ChannelID = 2
	_, err := reg.AcquireSemaphore(t.Context(), "s", other)
	var held *registry.SemaphoreHeldError
	if !errors.As(err, &held) || held.Holder != h {
		t.Fatalf("same character on another channel: %v, want *SemaphoreHeldError naming %+v", err, h)
	}
	// An empty ReplicaID means this replica.
	noReplica := h
	noReplica.ReplicaID = ""
	if err := reg.ReleaseSemaphore(t.Context(), "s", noReplica); err != nil {
		t.Fatalf("ReleaseSemaphore with empty ReplicaID: %v", err)
	}
	_ = ch
}

// TestLocalDisconnectUserConcurrent: a character whose logout never
// confirms does not hold up the others, whatever their order.
func TestLocalDisconnectUserConcurrent(t *testing.T) {
	reg, ch := newLocal(t, 1, 2)
	online(t, reg, ch[1], 1)
	online(t, reg, ch[2], 2)
	release := make(chan struct{})
	defer close(release)
	ch[2].SetDisconnectHook(registrytest.BlockingHook(release))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan registry.DisconnectResult)
	go func() {
		res, _ := reg.DisconnectUser(ctx, []uint32{2, 1, 2}, "x")
		done <- res
	}()
	// Character 1 logs out while character 2's logout is still blocked.
	ch[1].Await(t, "character 1 logged out", func() bool { return !ch[1].HasSession(1) })
	if _, err := reg.FindSession(t.Context(), 1); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("FindSession(1) after its logout: %v", err)
	}
	cancel()
	res := <-done
	if !slices.Equal(res.Closed, []uint32{1}) || !slices.Equal(res.Unconfirmed, []uint32{2}) {
		t.Fatalf("DisconnectUser = %+v, want Closed [1], Unconfirmed [2]", res)
	}
	if d := ch[2].Disconnects(); len(d) != 1 {
		t.Fatalf("character 2 told %d times, want once (duplicates ignored)", len(d))
	}
}

// reentrantChannel calls back into the registry from every Channel method,
// which Local's lock order allows.
type reentrantChannel struct {
	*registrytest.FakeChannel
	reg *registry.Local
}

func (c reentrantChannel) touch() {
	ctx := context.Background()
	_, _ = c.reg.FindSession(ctx, 1)
	_, _ = c.reg.SearchSessions(ctx, registry.SessionFilter{}, 0)
	_, _ = c.reg.AcquireSemaphore(ctx, "s", registry.Holder{CharID: 1, ChannelID: c.ID()})
}

func (c reentrantChannel) Info() registry.ChannelInfo { c.touch(); return c.FakeChannel.Info() }
func (c reentrantChannel) Broadcast(f []byte, except uint32) {
	c.touch()
	c.FakeChannel.Broadcast(f, except)
}
func (c reentrantChannel) Deliver(ids []uint32, f []byte) []uint32 {
	c.touch()
	return c.FakeChannel.Deliver(ids, f)
}
func (c reentrantChannel) Disconnect(ctx context.Context, id uint32, reason string) (bool, error) {
	c.touch()
	return c.FakeChannel.Disconnect(ctx, id, reason)
}
func (c reentrantChannel) NotifyMail(id uint32, n registry.MailNotice) bool {
	c.touch()
	return c.FakeChannel.NotifyMail(id, n)
}

// TestLocalChannelMayCallBack: no Channel method is called with the
// registry's lock held (a held lock would deadlock here).
func TestLocalChannelMayCallBack(t *testing.T) {
	reg := registry.NewLocal("r1", nil)
	defer reg.Close(context.Background())
	fc := registrytest.NewFakeChannel(registry.ChannelInfo{ID: 1, ReplicaID: "r1"})
	fc.LogoutVia(reg)
	ch := reentrantChannel{FakeChannel: fc, reg: reg}
	ctx := t.Context()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := reg.Register(ctx, ch); err != nil {
			t.Errorf("Register: %v", err)
			return
		}
		s := fc.Snapshot(1, "a", "", 0)
		fc.AddSession(s)
		_ = reg.SessionOnline(ctx, s)
		_ = reg.SessionOnline(ctx, s) // kicks through Disconnect
		fc.AddSession(s)
		_ = reg.Worldcast(ctx, []byte("w"), 0, 0)
		_, _ = reg.Cast(ctx, []uint32{1}, []byte("c"))
		_ = reg.NotifyMail(ctx, 1, registry.MailNotice{})
		_, _ = reg.Channels(ctx)
		_, _ = reg.DisconnectUser(ctx, []uint32{1}, "x")
	}()
	select {
	case <-done:
	case <-time.After(registrytest.AwaitTimeout):
		t.Fatal("deadlock: a Channel method was called with the registry lock held")
	}
	if n := fc.FrameCount(1, []byte("w")); n != 1 {
		t.Fatalf("worldcast delivered %d times, want 1", n)
	}
	if len(fc.Disconnects()) != 2 {
		t.Fatalf("disconnects = %+v, want the kick and the DisconnectUser", fc.Disconnects())
	}
}

// TestLocalConcurrentLoginsSameCharacter: racing logins of one character
// all succeed and leave exactly one presence, on a channel that has it.
func TestLocalConcurrentLoginsSameCharacter(t *testing.T) {
	reg, ch := newLocal(t, 1, 2, 3, 4)
	var wg sync.WaitGroup
	for id, fc := range ch {
		wg.Go(func() {
			for range 50 {
				s := fc.Snapshot(7, "x", "", 0)
				if err := reg.SessionOnline(t.Context(), s); err != nil {
					t.Errorf("SessionOnline on channel %d: %v", id, err)
					return
				}
				fc.AddSession(s)
			}
		})
	}
	wg.Wait()
	got, err := reg.FindSession(t.Context(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if !ch[got.ChannelID].HasSession(7) {
		t.Fatalf("presence on channel %d, which has no session of character 7", got.ChannelID)
	}
	ss, _ := reg.SearchSessions(t.Context(), registry.SessionFilter{CharID: 7}, 0)
	if len(ss) != 1 {
		t.Fatalf("SearchSessions(7) = %+v, want exactly one", ss)
	}
}

func TestLocalNilLogger(t *testing.T) {
	reg := registry.NewLocal("r1", nil)
	if err := reg.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	reg = registry.NewLocal("r1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := reg.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
