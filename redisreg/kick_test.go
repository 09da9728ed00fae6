package redisreg

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/registry/registrytest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// presenceOf reads charID's presence straight from Redis ("" if none).
func presenceOf(t *testing.T, c *cluster, r *Registry, charID uint32) string {
	t.Helper()
	if !c.mini.Exists(r.k.presence(charID)) {
		return ""
	}
	v, err := c.mini.Get(r.k.presence(charID))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func hasLocal(r *Registry, charID uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.sessions[charID]
	return ok
}

// A kick arriving while the character's login on this replica is still in
// progress (presence registered, the channel not yet listing the session,
// so Disconnect answers "not online here") must leave that presence alone.
func TestKickNotOnlineKeepsPresence(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", nil)
	b := c.start(t, "B", nil)
	fa := fake(t, ctx, a, 1)
	fake(t, ctx, b, 2)
	s := fa.Snapshot(5, "char5", "", 0)
	if err := a.SessionOnline(ctx, s); err != nil { // the channel lists it only afterwards
		t.Fatal(err)
	}
	want := presenceOf(t, c, a, 5)
	if want == "" {
		t.Fatal("no presence after SessionOnline")
	}
	res, err := b.DisconnectUser(ctx, []uint32{5}, "gm kick")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Closed) != 0 || len(res.Unconfirmed) != 0 {
		t.Fatalf("disconnect of a session the channel does not list: %+v, want neither closed nor unconfirmed", res)
	}
	if got := fa.AwaitDisconnect(t, 5, 1); got.Online {
		t.Fatalf("fake channel reported the session online: %+v", got)
	}
	if got := presenceOf(t, c, a, 5); got != want {
		t.Fatalf("presence after the kick = %q, want it kept (%q)", got, want)
	}
	if !hasLocal(a, 5) {
		t.Fatal("A forgot the session whose login is in progress")
	}
	if got, err := b.FindSession(ctx, 5); err != nil || got.ReplicaID != "A" {
		t.Fatalf("B's view after the kick: %+v %v, want on A", got, err)
	}
}

// A new login of the kicked character on the kicked replica, registered
// while the old session logged out, keeps its presence even when its
// snapshot is identical to the old one.
func TestKickKeepsNewLoginOnSameChannel(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", nil)
	b := c.start(t, "B", nil)
	fa := fake(t, ctx, a, 1, 5)
	fake(t, ctx, b, 2)
	s := fa.Snapshot(5, "char5", "town", 0) // what fake() logged in
	relogin := make(chan error, 1)
	fa.SetLogout(func(ctx context.Context, char uint32) {
		a.SessionOffline(ctx, char, 1)
		fa.AddSession(s)
		relogin <- a.SessionOnline(ctx, s)
	})
	res, err := b.DisconnectUser(ctx, []uint32{5}, "gm kick")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-relogin; err != nil {
		t.Fatalf("new login during the logout: %v", err)
	}
	if !slices.Equal(res.Closed, []uint32{5}) {
		t.Fatalf("disconnect result %+v, want 5 closed", res)
	}
	if got := presenceOf(t, c, a, 5); got != encodeSession(registry.SessionSnapshot{CharID: 5, Name: "char5", ReplicaID: "A", ChannelID: 1, Addr: s.Addr, StageID: "town"}) {
		t.Fatalf("new login's presence = %q, want kept", got)
	}
	if !hasLocal(a, 5) {
		t.Fatal("A forgot the new login")
	}
}

// A confirmed kick of a session the channel did not itself take offline
// removes the presence; a stale presence naming the kicked replica, with
// nothing there holding the character, is removed too.
func TestKickRemovesClosedAndStalePresence(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", nil)
	b := c.start(t, "B", nil)
	fa := fake(t, ctx, a, 1, 5)
	fa.SetLogout(nil) // the channel does not call SessionOffline itself
	fake(t, ctx, b, 2)
	res, err := b.DisconnectUser(ctx, []uint32{5}, "gm kick")
	if err != nil || !slices.Equal(res.Closed, []uint32{5}) {
		t.Fatalf("disconnect: %+v %v, want 5 closed", res, err)
	}
	if got := presenceOf(t, c, a, 5); got != "" {
		t.Fatalf("presence after a confirmed kick = %q, want none", got)
	}
	if hasLocal(a, 5) {
		t.Fatal("A still lists the kicked session")
	}

	stale := encodeSession(registry.SessionSnapshot{CharID: 9, Name: "char9", ReplicaID: "A", ChannelID: 1, Addr: "127.0.0.1:5001"})
	if err := c.mini.Set(a.k.presence(9), stale); err != nil {
		t.Fatal(err)
	}
	res, err = b.DisconnectUser(ctx, []uint32{9}, "gm kick")
	if err != nil || len(res.Closed)+len(res.Unconfirmed) != 0 {
		t.Fatalf("disconnect of a stale presence: %+v %v, want nothing found", res, err)
	}
	if got := presenceOf(t, c, a, 9); got != "" {
		t.Fatalf("stale presence after the kick = %q, want none", got)
	}
}

// counterValue reads a Prometheus counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Kicks from other replicas are handled by at most MaxKickHandlers at once:
// one arriving while all are busy is answered unconfirmed at once, without
// reaching the channel, and counted; the receive loop keeps delivering.
func TestKickHandlersBounded(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", func(o *Options) { o.MaxKickHandlers = 1 })
	b := c.start(t, "B", nil)
	fa := fake(t, ctx, a, 1, 5, 6)
	fake(t, ctx, b, 2)
	gate := make(chan struct{})
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(gate) }) }
	t.Cleanup(openGate)
	fa.SetDisconnectHook(registrytest.GateHook(gate)) // logouts wait for the gate

	first := make(chan registry.DisconnectResult, 1)
	go func() {
		res, err := b.DisconnectUser(ctx, []uint32{5}, "gm kick")
		if err != nil {
			t.Error(err)
		}
		first <- res
	}()
	fa.AwaitDisconnect(t, 5, 1) // A's only kick handler is busy with 5

	res, err := b.DisconnectUser(ctx, []uint32{6}, "gm kick")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Unconfirmed, []uint32{6}) || len(res.Closed) != 0 {
		t.Fatalf("kick while A's handlers are busy: %+v, want 6 unconfirmed", res)
	}
	for _, d := range fa.Disconnects() {
		if d.CharID == 6 {
			t.Fatal("the shed kick reached the channel")
		}
	}
	if n := counterValue(t, a.m.KicksShed); n != 1 {
		t.Fatalf("kicks shed = %v, want 1", n)
	}
	select {
	case r := <-first:
		t.Fatalf("the first kick finished (%+v) before its logout", r)
	default:
	}
	// The receive loop still delivers while the handler waits.
	frame := []byte("still-delivering")
	if _, err := b.Cast(ctx, []uint32{6}, frame); err != nil {
		t.Fatal(err)
	}
	fa.Await(t, "a cast delivered while the kick handler waits", func() bool { return fa.FrameCount(6, frame) > 0 })

	openGate()
	if r := <-first; !slices.Equal(r.Closed, []uint32{5}) {
		t.Fatalf("first kick: %+v, want 5 closed", r)
	}
	eventually(t, "A's kick handler slot freed", func() error {
		if n := len(a.kickSlots); n != 0 {
			return fmt.Errorf("%d slots busy", n)
		}
		return nil
	})
	res, err = b.DisconnectUser(ctx, []uint32{6}, "gm kick")
	if err != nil || !slices.Equal(res.Closed, []uint32{6}) {
		t.Fatalf("kick once a handler is free: %+v %v, want 6 closed", res, err)
	}
}
