package registrytest

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guildhall/guildhall/registry"
)

// AwaitTimeout bounds FakeChannel.Await. It is a failure guard, not a
// timing assertion: Await returns as soon as its condition holds.
const AwaitTimeout = 20 * time.Second

// BroadcastCall records one call of FakeChannel.Broadcast.
type BroadcastCall struct {
	Frame      []byte
	ExceptChar uint32
}

// DisconnectCall records one call of FakeChannel.Disconnect. Online reports
// whether the character had a session on the channel when it was called.
type DisconnectCall struct {
	CharID uint32
	Reason string
	Online bool
}

// DisconnectHook runs inside FakeChannel.Disconnect, after the call is
// recorded and before the session is removed, without the channel's lock. A
// non-nil error leaves the session in place and is returned by Disconnect
// (the logout did not confirm). A hook may block to simulate a slow logout
// save.
type DisconnectHook func(ctx context.Context, charID uint32, reason string) error

// LogoutFunc runs after FakeChannel.Disconnect removed a session, the way a
// real channel's session reports its logout to the registry. It receives a
// context that is not cancelled with the Disconnect call's.
type LogoutFunc func(ctx context.Context, charID uint32)

// FakeChannel is an in-memory registry.Channel for tests. It keeps sessions
// and stages that the test adds, and records every delivery it receives:
// frames per character (from Broadcast and Deliver), broadcasts, mail
// notices and disconnects. All methods are safe for concurrent use; getters
// return copies.
//
// A session is identified by its character ID: adding a session for a
// character already present replaces it.
type FakeChannel struct {
	mu          sync.Mutex
	info        registry.ChannelInfo
	sessions    map[uint32]registry.SessionSnapshot
	stages      map[string]registry.StageSnapshot
	frames      map[uint32][][]byte
	broadcasts  []BroadcastCall
	mail        map[uint32][]registry.MailNotice
	disconnects []DisconnectCall
	hook        DisconnectHook
	logout      LogoutFunc
	changed     chan struct{} // closed and replaced on every change
}

var _ registry.Channel = (*FakeChannel)(nil)

// NewFakeChannel returns a channel that reports info (Players is replaced by
// the current number of sessions).
func NewFakeChannel(info registry.ChannelInfo) *FakeChannel {
	return &FakeChannel{
		info:     info,
		sessions: make(map[uint32]registry.SessionSnapshot),
		stages:   make(map[string]registry.StageSnapshot),
		frames:   make(map[uint32][][]byte),
		mail:     make(map[uint32][]registry.MailNotice),
		changed:  make(chan struct{}),
	}
}

// notify wakes Await callers. c.mu must be held.
func (c *FakeChannel) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// ID returns the channel's ID.
func (c *FakeChannel) ID() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.ID
}

// SetInfo replaces the channel's reported info (e.g. to mark it draining).
func (c *FakeChannel) SetInfo(info registry.ChannelInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.info = info
	c.notify()
}

// SetDisconnectHook installs h (nil removes it).
func (c *FakeChannel) SetDisconnectHook(h DisconnectHook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hook = h
}

// SetLogout installs f, run after each confirmed Disconnect (nil removes it).
func (c *FakeChannel) SetLogout(f LogoutFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logout = f
}

// LogoutVia makes confirmed disconnects report to reg like a real channel
// server's logout does: reg.SessionOffline(charID, c.ID()) then
// reg.ReleaseAll(charID).
func (c *FakeChannel) LogoutVia(reg registry.ChannelRegistry) {
	id := c.ID()
	c.SetLogout(func(ctx context.Context, charID uint32) {
		reg.SessionOffline(ctx, charID, id)
		reg.ReleaseAll(ctx, charID)
	})
}

// Snapshot returns a session snapshot of this channel (ReplicaID, ChannelID
// and Addr from its info) for the given character. It does not add it.
func (c *FakeChannel) Snapshot(charID uint32, name, stageID string, guildID uint32) registry.SessionSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return registry.SessionSnapshot{
		CharID:    charID,
		Name:      name,
		ReplicaID: c.info.ReplicaID,
		ChannelID: c.info.ID,
		Addr:      c.info.Addr,
		StageID:   stageID,
		GuildID:   guildID,
	}
}

// StageSnapshot returns a stage snapshot of this channel for stageID. It
// does not add it.
func (c *FakeChannel) StageSnapshot(stageID string, players, maxPlayers int) registry.StageSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return registry.StageSnapshot{
		StageID:    stageID,
		ReplicaID:  c.info.ReplicaID,
		ChannelID:  c.info.ID,
		Addr:       c.info.Addr,
		Players:    players,
		MaxPlayers: maxPlayers,
	}
}

// AddSession adds (or replaces) a local session.
func (c *FakeChannel) AddSession(s registry.SessionSnapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions[s.CharID] = s
	c.notify()
}

// RemoveSession removes a local session and reports whether it was there.
func (c *FakeChannel) RemoveSession(charID uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.sessions[charID]
	delete(c.sessions, charID)
	c.notify()
	return ok
}

// HasSession reports whether charID has a local session.
func (c *FakeChannel) HasSession(charID uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.sessions[charID]
	return ok
}

// AddStage adds (or replaces) a local stage.
func (c *FakeChannel) AddStage(s registry.StageSnapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stages[s.StageID] = s
	c.notify()
}

// RemoveStage removes a local stage.
func (c *FakeChannel) RemoveStage(stageID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.stages, stageID)
	c.notify()
}

// Info implements registry.Channel.
func (c *FakeChannel) Info() registry.ChannelInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := c.info
	info.Players = len(c.sessions)
	return info
}

// Broadcast implements registry.Channel: it records the call and appends
// frame to the received frames of every session except exceptChar.
func (c *FakeChannel) Broadcast(frame []byte, exceptChar uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broadcasts = append(c.broadcasts, BroadcastCall{Frame: frame, ExceptChar: exceptChar})
	for id := range c.sessions {
		if id != exceptChar {
			c.frames[id] = append(c.frames[id], frame)
		}
	}
	c.notify()
}

// Deliver implements registry.Channel: it appends frame to the received
// frames of each of charIDs that has a session here (once per occurrence in
// charIDs) and returns those.
func (c *FakeChannel) Deliver(charIDs []uint32, frame []byte) []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var reached []uint32
	for _, id := range charIDs {
		if _, ok := c.sessions[id]; ok {
			c.frames[id] = append(c.frames[id], frame)
			reached = append(reached, id)
		}
	}
	c.notify()
	return reached
}

// Disconnect implements registry.Channel. It records the call; if the
// character has no session it returns (false, nil). Otherwise it runs the
// disconnect hook (if any); a hook error is returned as (true, err) with the
// session left in place. Then it removes the session, runs the logout
// function (if any) and returns (true, nil).
func (c *FakeChannel) Disconnect(ctx context.Context, charID uint32, reason string) (bool, error) {
	c.mu.Lock()
	_, online := c.sessions[charID]
	c.disconnects = append(c.disconnects, DisconnectCall{CharID: charID, Reason: reason, Online: online})
	hook, logout := c.hook, c.logout
	c.notify()
	c.mu.Unlock()
	if !online {
		return false, nil
	}
	if hook != nil {
		if err := hook(ctx, charID, reason); err != nil {
			return true, err
		}
	}
	c.mu.Lock()
	delete(c.sessions, charID)
	c.notify()
	c.mu.Unlock()
	if logout != nil {
		logout(context.WithoutCancel(ctx), charID)
	}
	return true, nil
}

// Sessions implements registry.Channel: local sessions passing f, sorted by
// CharID, at most max (max <= 0 means all).
func (c *FakeChannel) Sessions(f registry.SessionFilter, max int) []registry.SessionSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []registry.SessionSnapshot
	for _, s := range c.sessions {
		if f.Match(s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b registry.SessionSnapshot) int { return cmp.Compare(a.CharID, b.CharID) })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// Stages implements registry.Channel: local stages whose ID has prefix,
// sorted by ID, at most max (max <= 0 means all).
func (c *FakeChannel) Stages(prefix string, max int) []registry.StageSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []registry.StageSnapshot
	for id, s := range c.stages {
		if strings.HasPrefix(id, prefix) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b registry.StageSnapshot) int { return cmp.Compare(a.StageID, b.StageID) })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// NotifyMail implements registry.Channel: it records n for charID if the
// character has a session here.
func (c *FakeChannel) NotifyMail(charID uint32, n registry.MailNotice) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sessions[charID]; !ok {
		return false
	}
	c.mail[charID] = append(c.mail[charID], n)
	c.notify()
	return true
}

// Frames returns the frames charID received, in order.
func (c *FakeChannel) Frames(charID uint32) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.frames[charID])
}

// FrameCount returns how many times charID received a frame equal to frame.
func (c *FakeChannel) FrameCount(charID uint32, frame []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.frames[charID] {
		if bytes.Equal(f, frame) {
			n++
		}
	}
	return n
}

// Broadcasts returns the recorded Broadcast calls, in order.
func (c *FakeChannel) Broadcasts() []BroadcastCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.broadcasts)
}

// Mail returns the mail notices charID received, in order.
func (c *FakeChannel) Mail(charID uint32) []registry.MailNotice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.mail[charID])
}

// Disconnects returns the recorded Disconnect calls, in order.
func (c *FakeChannel) Disconnects() []DisconnectCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.disconnects)
}

// Await blocks until cond returns true, re-evaluating it after every change
// of c (session, stage, delivery or disconnect recorded). cond must not
// block; it may call c's getters. If cond is still false after AwaitTimeout
// (a generous failure guard, not a timing assertion) Await fails the test
// with what in the message. Call Await only from the test's goroutine.
func (c *FakeChannel) Await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timer := time.NewTimer(AwaitTimeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("channel %d: gave up after %v waiting for %s", c.ID(), AwaitTimeout, what)
		}
	}
}

// AwaitDisconnect waits until Disconnect has been called for charID at
// least n times in total and returns the last such call.
func (c *FakeChannel) AwaitDisconnect(t testing.TB, charID uint32, n int) DisconnectCall {
	t.Helper()
	var last DisconnectCall
	c.Await(t, "a disconnect", func() bool {
		k := 0
		for _, d := range c.Disconnects() {
			if d.CharID == charID {
				k++
				last = d
			}
		}
		return k >= n
	})
	return last
}

// BlockingHook returns a DisconnectHook that never confirms: it blocks
// until its ctx ends or release is closed, then returns an error. Close
// release (e.g. in t.Cleanup) so no goroutine stays blocked.
func BlockingHook(release <-chan struct{}) DisconnectHook {
	return func(ctx context.Context, charID uint32, reason string) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return errLogoutNeverConfirmed
		}
	}
}

// GateHook returns a DisconnectHook that confirms only once gate is closed
// (a slow logout save), or fails when its ctx ends first.
func GateHook(gate <-chan struct{}) DisconnectHook {
	return func(ctx context.Context, charID uint32, reason string) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-gate:
			return nil
		}
	}
}
