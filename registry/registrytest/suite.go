// Package registrytest is the conformance suite of registry.ChannelRegistry
// and the FakeChannel it delivers to. Every implementation runs it from its
// own tests:
//
//	func TestConformance(t *testing.T) {
//		registrytest.Run(t, func(t *testing.T) registrytest.Cluster { return newMyCluster(t) })
//	}
//
// What the suite requires beyond the interface's doc comments:
//
//   - Deliveries (Worldcast, Cast, NotifyMail) may be asynchronous; the suite
//     waits for them with FakeChannel.Await. Deliveries to one channel caused
//     by one registry arrive in the order of the calls that caused them: the
//     suite uses a later "fence" frame to know an earlier one has arrived or
//     never will.
//   - Presence, stage and semaphore writes are visible to every replica's
//     reads as soon as the writing call returns.
//   - SearchSessions results are sorted by CharID; SearchStages results by
//     StageID then ChannelID; both hold exactly min(max, matches) entries.
//     Cast returns each online target once, in any order.
//   - DisconnectUser reports a ctx that ended while waiting as Unconfirmed
//     entries, not as an error.
//   - Semaphore holders are compared by CharID, ReplicaID and ChannelID.
//   - After Close, methods returning an error fail with registry.ErrClosed;
//     a second Close returns nil.
//   - Bad input (nil channel, channel ID 0, character ID 0, empty semaphore
//     name) is refused with an error.
//
// Channels and sessions are spread over up to two replicas when the
// implementation supports it, so the same tests exercise cross-replica
// paths; the few tests that only make sense with two replicas are skipped,
// saying so, when MaxReplicas() is 1.
package registrytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guildhall/guildhall/registry"
)

// errLogoutNeverConfirmed is what BlockingHook returns once released.
var errLogoutNeverConfirmed = errors.New("registrytest: logout never confirmed")

// testTimeout bounds each test's context: a failure guard only.
const testTimeout = 60 * time.Second

// Cluster gives registries of distinct replicas sharing one backend.
type Cluster interface {
	// Replica returns the registry of the replica id, creating it on first
	// use; later calls with the same id return the same registry. The
	// cluster closes its registries when t ends (t.Cleanup). id is at most
	// a few ASCII letters and digits.
	Replica(t *testing.T, id string) registry.ChannelRegistry
	// Advance makes d of backend time pass so that TTLs expire (e.g.
	// miniredis FastForward). An implementation without TTLs does nothing.
	// The suite calls it only after closing a replica, and then asserts only
	// about what that replica had published.
	Advance(d time.Duration)
	// MaxReplicas is how many distinct replicas Replica supports (1 for the
	// in-process registry).
	MaxReplicas() int
}

// Run runs the conformance suite, with a fresh Cluster per subtest.
func Run(t *testing.T, newCluster func(t *testing.T) Cluster) {
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"RegisterUnregister", testRegister},
		{"ChannelClaimedAcrossReplicas", testClaimedAcrossReplicas},
		{"Worldcast", testWorldcast},
		{"FindSession", testFindSession},
		{"DisconnectUser", testDisconnectUser},
		{"FindChannelForStage", testFindChannelForStage},
		{"SearchSessions", testSearchSessions},
		{"SearchStages", testSearchStages},
		{"NotifyMail", testNotifyMail},
		{"Cast", testCast},
		{"SessionOnlineKicksDuplicate", testKickDuplicate},
		{"SessionOnlineKickSameChannel", testKickSameChannel},
		{"SessionOnlineKickUnconfirmed", testKickUnconfirmed},
		{"Semaphores", testSemaphores},
		{"SemaphoreTokensIncrease", testSemaphoreTokens},
		{"SemaphoreReleaseAll", testReleaseAll},
		{"ChannelShutdown", testChannelShutdown},
		{"Concurrent", testConcurrent},
		{"Close", testClose},
		{"CloseReplicaSeenByOthers", testCloseSeenByOthers},
		{"BadInput", testBadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			if c.MaxReplicas() < 1 {
				t.Fatalf("Cluster.MaxReplicas() = %d, want >= 1", c.MaxReplicas())
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			t.Cleanup(cancel)
			tc.fn(t, &env{t: t, c: c, ctx: ctx})
		})
	}
}

// env is one subtest's cluster and helpers.
type env struct {
	t   *testing.T
	c   Cluster
	ctx context.Context
}

// replicaID names replica slot i (slots beyond MaxReplicas wrap around).
func (e *env) replicaID(i int) string {
	return fmt.Sprintf("r%d", i%e.c.MaxReplicas()+1)
}

// reg returns the registry of replica slot i.
func (e *env) reg(i int) registry.ChannelRegistry {
	return e.c.Replica(e.t, e.replicaID(i))
}

// spread returns the replica slot for the k-th channel of a test: channels
// alternate between two replicas when there are two.
func (e *env) spread(k int) int { return k % min(e.c.MaxReplicas(), 2) }

// regs returns the distinct registries in use for nSlots slots.
func (e *env) regs(nSlots int) []registry.ChannelRegistry {
	var out []registry.ChannelRegistry
	for i := range min(nSlots, e.c.MaxReplicas()) {
		out = append(out, e.reg(i))
	}
	return out
}

// fakeInfo returns the info of a fake channel id on replica slot.
func (e *env) fakeInfo(slot int, id uint16) registry.ChannelInfo {
	return registry.ChannelInfo{
		ID:         id,
		Name:       fmt.Sprintf("channel-%d", id),
		ReplicaID:  e.replicaID(slot),
		Addr:       fmt.Sprintf("127.0.0.1:%d", 40000+int(id)),
		MaxPlayers: 100,
	}
}

// channel creates a FakeChannel id on replica slot, registers it, and makes
// its confirmed disconnects log out through that replica's registry.
func (e *env) channel(slot int, id uint16) *FakeChannel {
	e.t.Helper()
	fc := NewFakeChannel(e.fakeInfo(slot, id))
	reg := e.reg(slot)
	if err := reg.Register(e.ctx, fc); err != nil {
		e.t.Fatalf("Register(channel %d) on %s: %v", id, e.replicaID(slot), err)
	}
	fc.LogoutVia(reg)
	return fc
}

// login adds a session to fc and claims it through the registry of slot.
func (e *env) login(slot int, fc *FakeChannel, charID uint32, name, stage string, guild uint32) registry.SessionSnapshot {
	e.t.Helper()
	s := fc.Snapshot(charID, name, stage, guild)
	fc.AddSession(s)
	if err := e.reg(slot).SessionOnline(e.ctx, s); err != nil {
		e.t.Fatalf("SessionOnline(%d on channel %d): %v", charID, s.ChannelID, err)
	}
	return s
}

// fence worldcasts a unique marker from the registry of slot and waits
// until every listed session received it: afterwards every earlier
// delivery from that registry to those channels has arrived.
func (e *env) fence(slot int, label string, targets map[*FakeChannel][]uint32) {
	e.t.Helper()
	marker := []byte("fence:" + label)
	if err := e.reg(slot).Worldcast(e.ctx, marker, 0, 0); err != nil {
		e.t.Fatalf("fence Worldcast: %v", err)
	}
	for fc, ids := range targets {
		for _, id := range ids {
			fc.Await(e.t, fmt.Sprintf("fence %q at character %d", label, id), func() bool {
				return fc.FrameCount(id, marker) > 0
			})
		}
	}
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func sortedIDs(ids []uint32) []uint32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func channelIDs(infos []registry.ChannelInfo) []uint16 {
	var ids []uint16
	for _, in := range infos {
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	return ids
}

func sessionIDs(ss []registry.SessionSnapshot) []uint32 {
	var ids []uint32
	for _, s := range ss {
		ids = append(ids, s.CharID)
	}
	return ids
}

// waitDone waits for done to close, failing after AwaitTimeout.
func waitDone(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(AwaitTimeout):
		t.Fatalf("gave up after %v waiting for %s", AwaitTimeout, what)
	}
}

// checkInfo compares the identity fields of a listed channel.
func checkInfo(t *testing.T, got, want registry.ChannelInfo) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.ReplicaID != want.ReplicaID || got.Addr != want.Addr {
		t.Fatalf("channel info = %+v, want ID/Name/ReplicaID/Addr of %+v", got, want)
	}
}

func testRegister(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	for _, reg := range e.regs(2) {
		infos, err := reg.Channels(e.ctx)
		noErr(t, "Channels", err)
		if got := channelIDs(infos); !slices.Equal(got, []uint16{1, 2}) {
			t.Fatalf("Channels IDs = %v, want [1 2]", got)
		}
		for _, in := range infos {
			if in.ID == 1 {
				checkInfo(t, in, ch1.Info())
			} else {
				checkInfo(t, in, ch2.Info())
			}
		}
	}

	// The same ID again on the same replica is refused, and the original
	// registration is untouched.
	dup := NewFakeChannel(e.fakeInfo(e.spread(0), 1))
	wantErrIs(t, "Register duplicate ID", e.reg(e.spread(0)).Register(e.ctx, dup), registry.ErrChannelClaimed)
	infos, err := e.reg(0).Channels(e.ctx)
	noErr(t, "Channels", err)
	if got := channelIDs(infos); !slices.Equal(got, []uint16{1, 2}) {
		t.Fatalf("after refused duplicate, Channels IDs = %v, want [1 2]", got)
	}

	e.reg(e.spread(0)).Unregister(e.ctx, 1)
	for _, reg := range e.regs(2) {
		infos, err := reg.Channels(e.ctx)
		noErr(t, "Channels", err)
		if got := channelIDs(infos); !slices.Equal(got, []uint16{2}) {
			t.Fatalf("after Unregister(1), Channels IDs = %v, want [2]", got)
		}
	}
	// Unregistering an unknown ID is harmless.
	e.reg(0).Unregister(e.ctx, 99)

	// The freed ID can be registered again.
	again := NewFakeChannel(e.fakeInfo(e.spread(0), 1))
	noErr(t, "Register freed ID", e.reg(e.spread(0)).Register(e.ctx, again))
	infos, err = e.reg(0).Channels(e.ctx)
	noErr(t, "Channels", err)
	if got := channelIDs(infos); !slices.Equal(got, []uint16{1, 2}) {
		t.Fatalf("after re-Register(1), Channels IDs = %v, want [1 2]", got)
	}
}

func testClaimedAcrossReplicas(t *testing.T, e *env) {
	if e.c.MaxReplicas() < 2 {
		t.Skip("implementation supports a single replica: no other replica can claim a channel ID")
	}
	e.channel(0, 7)
	other := NewFakeChannel(e.fakeInfo(1, 7))
	wantErrIs(t, "Register channel 7 on a second replica", e.reg(1).Register(e.ctx, other), registry.ErrChannelClaimed)
	infos, err := e.reg(1).Channels(e.ctx)
	noErr(t, "Channels", err)
	if len(infos) != 1 || infos[0].ReplicaID != e.replicaID(0) {
		t.Fatalf("Channels = %+v, want only channel 7 of %s", infos, e.replicaID(0))
	}
}

func testWorldcast(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	ch3 := e.channel(e.spread(2), 3)
	e.login(e.spread(0), ch1, 101, "a", "", 0)
	e.login(e.spread(0), ch1, 102, "b", "", 0)
	e.login(e.spread(1), ch2, 201, "c", "", 0)
	e.login(e.spread(1), ch2, 202, "d", "", 0)
	e.login(e.spread(2), ch3, 301, "e", "", 0)
	all := map[*FakeChannel][]uint32{ch1: {101, 102}, ch2: {201, 202}, ch3: {301}}

	frame := []byte("world: hello")
	noErr(t, "Worldcast", e.reg(0).Worldcast(e.ctx, frame, 102, 3))
	e.fence(0, "worldcast-1", all)
	want := map[uint32]int{101: 1, 102: 0, 201: 1, 202: 1, 301: 0}
	for fc, ids := range all {
		for _, id := range ids {
			if got := fc.FrameCount(id, frame); got != want[id] {
				t.Errorf("character %d received the worldcast %d times, want %d", id, got, want[id])
			}
		}
	}

	// From another replica, excepting nobody: everyone exactly once.
	frame2 := []byte("world: everyone")
	sender := e.spread(1)
	noErr(t, "Worldcast", e.reg(sender).Worldcast(e.ctx, frame2, 0, 0))
	e.fence(sender, "worldcast-2", all)
	for fc, ids := range all {
		for _, id := range ids {
			if got := fc.FrameCount(id, frame2); got != 1 {
				t.Errorf("character %d received the second worldcast %d times, want 1", id, got)
			}
		}
	}
}

func testFindSession(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	s1 := e.login(e.spread(0), ch1, 11, "Alice", "town-1", 5)
	s2 := e.login(e.spread(1), ch2, 22, "Bob", "", 0)
	for _, reg := range e.regs(2) {
		for _, want := range []registry.SessionSnapshot{s1, s2} {
			got, err := reg.FindSession(e.ctx, want.CharID)
			noErr(t, "FindSession", err)
			if got != want {
				t.Fatalf("FindSession(%d) = %+v, want %+v", want.CharID, got, want)
			}
		}
		_, err := reg.FindSession(e.ctx, 999)
		wantErrIs(t, "FindSession(unknown)", err, registry.ErrNotFound)
	}

	// SessionUpdated: new stage and guild are seen everywhere.
	s1.StageID, s1.GuildID = "quest-9", 6
	e.reg(e.spread(0)).SessionUpdated(e.ctx, s1)
	for _, reg := range e.regs(2) {
		got, err := reg.FindSession(e.ctx, 11)
		noErr(t, "FindSession after update", err)
		if got != s1 {
			t.Fatalf("after SessionUpdated, FindSession = %+v, want %+v", got, s1)
		}
	}

	// SessionOffline naming another channel does not remove the presence.
	e.reg(e.spread(0)).SessionOffline(e.ctx, 11, 2)
	_, err := e.reg(0).FindSession(e.ctx, 11)
	noErr(t, "FindSession after SessionOffline of another channel", err)

	e.reg(e.spread(0)).SessionOffline(e.ctx, 11, 1)
	for _, reg := range e.regs(2) {
		_, err := reg.FindSession(e.ctx, 11)
		wantErrIs(t, "FindSession after SessionOffline", err, registry.ErrNotFound)
		got, err := reg.FindSession(e.ctx, 22)
		noErr(t, "FindSession of the other character", err)
		if got != s2 {
			t.Fatalf("FindSession(22) = %+v, want %+v", got, s2)
		}
	}
}

func testDisconnectUser(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	e.login(e.spread(0), ch1, 1, "a", "", 0)
	e.login(e.spread(1), ch2, 2, "b", "", 0)

	res, err := e.reg(0).DisconnectUser(e.ctx, []uint32{1, 2, 404}, "banned")
	noErr(t, "DisconnectUser", err)
	if got := sortedIDs(res.Closed); !slices.Equal(got, []uint32{1, 2}) || len(res.Unconfirmed) != 0 {
		t.Fatalf("DisconnectUser = %+v, want Closed [1 2], no Unconfirmed", res)
	}
	for fc, id := range map[*FakeChannel]uint32{ch1: 1, ch2: 2} {
		if fc.HasSession(id) {
			t.Fatalf("character %d still has a session after DisconnectUser", id)
		}
		d := fc.AwaitDisconnect(t, id, 1)
		if d.Reason != "banned" {
			t.Fatalf("Disconnect reason = %q, want %q", d.Reason, "banned")
		}
	}
	for _, reg := range e.regs(2) {
		for _, id := range []uint32{1, 2} {
			_, err := reg.FindSession(e.ctx, id)
			wantErrIs(t, "FindSession after DisconnectUser", err, registry.ErrNotFound)
		}
	}

	// One confirms, one never does: the call reports both once ctx ends.
	e.login(e.spread(0), ch1, 3, "c", "", 0)
	e.login(e.spread(1), ch2, 4, "d", "", 0)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ch2.SetDisconnectHook(BlockingHook(release))
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan struct{})
	var res2 registry.DisconnectResult
	var err2 error
	go func() {
		defer close(done)
		res2, err2 = e.reg(0).DisconnectUser(ctx, []uint32{3, 4}, "maintenance")
	}()
	ch1.AwaitDisconnect(t, 3, 1)
	ch2.AwaitDisconnect(t, 4, 1)
	ch1.Await(t, "character 3 logged out", func() bool { return !ch1.HasSession(3) })
	cancel()
	waitDone(t, "DisconnectUser to return", done)
	noErr(t, "DisconnectUser with an unconfirmed logout", err2)
	if !slices.Equal(sortedIDs(res2.Closed), []uint32{3}) || !slices.Equal(sortedIDs(res2.Unconfirmed), []uint32{4}) {
		t.Fatalf("DisconnectUser = %+v, want Closed [3], Unconfirmed [4]", res2)
	}
}

func testFindChannelForStage(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	town := ch1.StageSnapshot("town-1", 3, 50)
	quest := ch2.StageSnapshot("quest-7", 2, 4)
	quest.Locked, quest.HasPassword = true, true
	e.reg(e.spread(0)).StageUpdated(e.ctx, town)
	e.reg(e.spread(1)).StageUpdated(e.ctx, quest)
	for _, reg := range e.regs(2) {
		for _, want := range []registry.StageSnapshot{town, quest} {
			got, err := reg.FindChannelForStage(e.ctx, want.StageID)
			noErr(t, "FindChannelForStage", err)
			if got != want {
				t.Fatalf("FindChannelForStage(%q) = %+v, want %+v", want.StageID, got, want)
			}
		}
		_, err := reg.FindChannelForStage(e.ctx, "nowhere")
		wantErrIs(t, "FindChannelForStage(unknown)", err, registry.ErrNotFound)
	}

	// An update replaces the snapshot.
	town.Players = 4
	e.reg(e.spread(0)).StageUpdated(e.ctx, town)
	got, err := e.reg(e.spread(1)).FindChannelForStage(e.ctx, "town-1")
	noErr(t, "FindChannelForStage after update", err)
	if got != town {
		t.Fatalf("after StageUpdated, FindChannelForStage = %+v, want %+v", got, town)
	}

	e.reg(e.spread(1)).StageRemoved(e.ctx, 2, "quest-7")
	for _, reg := range e.regs(2) {
		_, err := reg.FindChannelForStage(e.ctx, "quest-7")
		wantErrIs(t, "FindChannelForStage after StageRemoved", err, registry.ErrNotFound)
		_, err = reg.FindChannelForStage(e.ctx, "town-1")
		noErr(t, "FindChannelForStage of the remaining stage", err)
	}
}

func testSearchSessions(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	want := map[uint32]registry.SessionSnapshot{
		1: e.login(e.spread(0), ch1, 1, "Alice", "town", 0),
		2: e.login(e.spread(1), ch2, 2, "alfred", "town", 0),
		3: e.login(e.spread(0), ch1, 3, "Bob", "arena", 0),
		4: e.login(e.spread(1), ch2, 4, "ALBERT", "arena", 9),
		5: e.login(e.spread(1), ch2, 5, "Carol", "", 0),
	}
	cases := []struct {
		f    registry.SessionFilter
		max  int
		want []uint32
	}{
		{registry.SessionFilter{}, 0, []uint32{1, 2, 3, 4, 5}},
		{registry.SessionFilter{}, 10, []uint32{1, 2, 3, 4, 5}},
		{registry.SessionFilter{CharID: 3}, 10, []uint32{3}},
		{registry.SessionFilter{CharID: 404}, 10, nil},
		{registry.SessionFilter{NamePrefix: "al"}, 10, []uint32{1, 2, 4}},
		{registry.SessionFilter{NamePrefix: "AL"}, 10, []uint32{1, 2, 4}},
		{registry.SessionFilter{NamePrefix: "alf"}, 10, []uint32{2}},
		{registry.SessionFilter{NamePrefix: "zz"}, 10, nil},
		{registry.SessionFilter{StageID: "arena"}, 10, []uint32{3, 4}},
		{registry.SessionFilter{NamePrefix: "al", StageID: "town"}, 10, []uint32{1, 2}},
		{registry.SessionFilter{CharID: 4, NamePrefix: "bob"}, 10, nil},
	}
	for _, reg := range e.regs(2) {
		for _, tc := range cases {
			got, err := reg.SearchSessions(e.ctx, tc.f, tc.max)
			noErr(t, "SearchSessions", err)
			if ids := sessionIDs(got); !slices.Equal(ids, tc.want) {
				t.Fatalf("SearchSessions(%+v, %d) = %v, want %v", tc.f, tc.max, ids, tc.want)
			}
			for _, s := range got {
				if s != want[s.CharID] {
					t.Fatalf("SearchSessions snapshot %+v, want %+v", s, want[s.CharID])
				}
			}
		}
		// max bounds the result: exactly max matching, distinct, sorted.
		for _, max := range []int{1, 2, 3} {
			got, err := reg.SearchSessions(e.ctx, registry.SessionFilter{NamePrefix: "a"}, max)
			noErr(t, "SearchSessions with max", err)
			ids := sessionIDs(got)
			if len(ids) != max || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != max {
				t.Fatalf("SearchSessions(prefix a, max %d) = %v, want %d distinct IDs, sorted", max, ids, max)
			}
			for _, id := range ids {
				if !slices.Contains([]uint32{1, 2, 4}, id) {
					t.Fatalf("SearchSessions(prefix a, max %d) returned non-matching %d", max, id)
				}
			}
		}
	}
}

func testSearchStages(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	stages := []registry.StageSnapshot{
		ch1.StageSnapshot("town-1", 1, 50),
		ch2.StageSnapshot("town-1", 2, 50),
		ch2.StageSnapshot("town-2", 0, 50),
		ch1.StageSnapshot("arena", 4, 4),
	}
	for _, s := range stages {
		slot := e.spread(0)
		if s.ChannelID == 2 {
			slot = e.spread(1)
		}
		e.reg(slot).StageUpdated(e.ctx, s)
	}
	type key struct {
		id string
		ch uint16
	}
	keys := func(ss []registry.StageSnapshot) []key {
		var out []key
		for _, s := range ss {
			out = append(out, key{s.StageID, s.ChannelID})
		}
		return out
	}
	cases := []struct {
		prefix string
		max    int
		want   []key
	}{
		{"town", 10, []key{{"town-1", 1}, {"town-1", 2}, {"town-2", 2}}},
		{"town-2", 10, []key{{"town-2", 2}}},
		{"", 0, []key{{"arena", 1}, {"town-1", 1}, {"town-1", 2}, {"town-2", 2}}},
		{"", 10, []key{{"arena", 1}, {"town-1", 1}, {"town-1", 2}, {"town-2", 2}}},
		{"zzz", 10, nil},
	}
	for _, reg := range e.regs(2) {
		for _, tc := range cases {
			got, err := reg.SearchStages(e.ctx, tc.prefix, tc.max)
			noErr(t, "SearchStages", err)
			if k := keys(got); !slices.Equal(k, tc.want) {
				t.Fatalf("SearchStages(%q, %d) = %v, want %v", tc.prefix, tc.max, k, tc.want)
			}
			for _, s := range got {
				if !slices.Contains(stages, s) {
					t.Fatalf("SearchStages returned %+v, not one of the published snapshots", s)
				}
			}
		}
		for _, max := range []int{1, 2} {
			got, err := reg.SearchStages(e.ctx, "town", max)
			noErr(t, "SearchStages with max", err)
			k := keys(got)
			if len(k) != max || !slices.IsSortedFunc(got, func(a, b registry.StageSnapshot) int {
				if a.StageID != b.StageID {
					return strings.Compare(a.StageID, b.StageID)
				}
				return int(a.ChannelID) - int(b.ChannelID)
			}) {
				t.Fatalf("SearchStages(town, max %d) = %v, want %d sorted stages", max, k, max)
			}
		}
	}
}

func testNotifyMail(t *testing.T, e *env) {
	e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	e.login(e.spread(1), ch2, 2, "b", "", 0)
	n := registry.MailNotice{MailID: 77, FromID: 1, FromName: "a", Subject: "hi"}
	noErr(t, "NotifyMail", e.reg(0).NotifyMail(e.ctx, 2, n))
	ch2.Await(t, "the mail notice", func() bool { return len(ch2.Mail(2)) > 0 })
	if got := ch2.Mail(2); len(got) != 1 || got[0] != n {
		t.Fatalf("mail received = %+v, want [%+v]", got, n)
	}

	wantErrIs(t, "NotifyMail(offline)", e.reg(0).NotifyMail(e.ctx, 404, n), registry.ErrNotFound)

	_, err := e.reg(0).DisconnectUser(e.ctx, []uint32{2}, "bye")
	noErr(t, "DisconnectUser", err)
	wantErrIs(t, "NotifyMail after logout", e.reg(0).NotifyMail(e.ctx, 2, n), registry.ErrNotFound)
}

func testCast(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	e.login(e.spread(0), ch1, 1, "a", "", 0)
	e.login(e.spread(0), ch1, 10, "bystander", "", 0)
	e.login(e.spread(1), ch2, 2, "b", "", 0)

	frame := []byte("whisper")
	got, err := e.reg(0).Cast(e.ctx, []uint32{1, 2, 404, 1}, frame)
	noErr(t, "Cast", err)
	if ids := sortedIDs(got); !slices.Equal(ids, []uint32{1, 2}) {
		t.Fatalf("Cast returned %v, want [1 2] (each online target once)", got)
	}
	marker := []byte("cast-fence")
	_, err = e.reg(0).Cast(e.ctx, []uint32{1, 2, 10}, marker)
	noErr(t, "Cast fence", err)
	for fc, id := range map[*FakeChannel]uint32{ch1: 1, ch2: 2} {
		fc.Await(t, fmt.Sprintf("cast fence at %d", id), func() bool { return fc.FrameCount(id, marker) > 0 })
		if n := fc.FrameCount(id, frame); n != 1 {
			t.Fatalf("character %d received the cast %d times, want 1", id, n)
		}
	}
	ch1.Await(t, "cast fence at 10", func() bool { return ch1.FrameCount(10, marker) > 0 })
	if n := ch1.FrameCount(10, frame); n != 0 {
		t.Fatalf("bystander received the cast %d times, want 0", n)
	}

	got, err = e.reg(0).Cast(e.ctx, nil, frame)
	noErr(t, "Cast to nobody", err)
	if len(got) != 0 {
		t.Fatalf("Cast to nobody returned %v", got)
	}
	got, err = e.reg(0).Cast(e.ctx, []uint32{404}, frame)
	noErr(t, "Cast to offline", err)
	if len(got) != 0 {
		t.Fatalf("Cast to an offline character returned %v", got)
	}
}

func testKickDuplicate(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	e.login(e.spread(0), ch1, 5, "dup", "town", 0)
	gate := make(chan struct{})
	ch1.SetDisconnectHook(GateHook(gate))

	s2 := ch2.Snapshot(5, "dup", "", 0)
	ch2.AddSession(s2)
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = e.reg(e.spread(1)).SessionOnline(e.ctx, s2)
	}()
	d := ch1.AwaitDisconnect(t, 5, 1)
	if !d.Online || d.Reason == "" {
		t.Fatalf("kick = %+v, want the online session told with a reason", d)
	}
	// The old session's logout has not confirmed: the login must wait.
	select {
	case <-done:
		t.Fatalf("SessionOnline returned (%v) before the previous session's logout finished", err)
	default:
	}
	close(gate)
	waitDone(t, "SessionOnline after the logout", done)
	noErr(t, "SessionOnline", err)
	if ch1.HasSession(5) {
		t.Fatal("the old session survived the kick")
	}
	for _, reg := range e.regs(2) {
		got, err := reg.FindSession(e.ctx, 5)
		noErr(t, "FindSession after kick", err)
		if got != s2 {
			t.Fatalf("FindSession after kick = %+v, want %+v", got, s2)
		}
	}
}

func testKickSameChannel(t *testing.T, e *env) {
	ch1 := e.channel(0, 1)
	old := e.login(0, ch1, 6, "again", "town", 0)
	// A second login on the same channel kicks the first session too.
	s := ch1.Snapshot(6, "again", "", 0)
	noErr(t, "SessionOnline on the same channel", e.reg(0).SessionOnline(e.ctx, s))
	d := ch1.AwaitDisconnect(t, 6, 1)
	if !d.Online {
		t.Fatalf("kick = %+v, want the previous session told", d)
	}
	ch1.AddSession(s)
	got, err := e.reg(0).FindSession(e.ctx, 6)
	noErr(t, "FindSession", err)
	if got != s || got == old {
		t.Fatalf("FindSession = %+v, want the new session %+v", got, s)
	}
}

func testKickUnconfirmed(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	old := e.login(e.spread(0), ch1, 8, "stuck", "town", 0)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ch1.SetDisconnectHook(BlockingHook(release))

	s2 := ch2.Snapshot(8, "stuck", "", 0)
	ch2.AddSession(s2)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = e.reg(e.spread(1)).SessionOnline(ctx, s2)
	}()
	ch1.AwaitDisconnect(t, 8, 1)
	cancel() // the login's deadline passes before the old session confirms
	waitDone(t, "SessionOnline to give up", done)
	wantErrIs(t, "SessionOnline with an unconfirmed kick", err, registry.ErrKickUnconfirmed)
	for _, reg := range e.regs(2) {
		got, err := reg.FindSession(e.ctx, 8)
		noErr(t, "FindSession after the refused login", err)
		if got != old {
			t.Fatalf("FindSession after refused login = %+v, want the old presence %+v", got, old)
		}
	}
}

// holder returns a semaphore holder for charID on fc.
func holder(fc *FakeChannel, charID uint32) registry.Holder {
	in := fc.Info()
	return registry.Holder{CharID: charID, ReplicaID: in.ReplicaID, ChannelID: in.ID, Addr: in.Addr}
}

func testSemaphores(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	e.login(e.spread(0), ch1, 1, "a", "", 0)
	e.login(e.spread(1), ch2, 2, "b", "", 0)
	h1, h2 := holder(ch1, 1), holder(ch2, 2)
	r1, r2 := e.reg(e.spread(0)), e.reg(e.spread(1))

	lease, err := r1.AcquireSemaphore(e.ctx, "raid", h1)
	noErr(t, "AcquireSemaphore", err)
	if lease.Name != "raid" || lease.Holder != h1 || lease.Token == 0 {
		t.Fatalf("lease = %+v, want raid held by %+v with a non-zero token", lease, h1)
	}

	_, err = r2.AcquireSemaphore(e.ctx, "raid", h2)
	wantErrIs(t, "AcquireSemaphore held elsewhere", err, registry.ErrSemaphoreHeld)
	var held *registry.SemaphoreHeldError
	if !errors.As(err, &held) {
		t.Fatalf("AcquireSemaphore held elsewhere: error %T %v, want a *SemaphoreHeldError", err, err)
	}
	if held.Name != "raid" || held.Holder != h1 {
		t.Fatalf("SemaphoreHeldError = %+v, want raid held by %+v", held, h1)
	}

	again, err := r1.AcquireSemaphore(e.ctx, "raid", h1)
	noErr(t, "re-acquire by the holder", err)
	if again != lease {
		t.Fatalf("re-acquire = %+v, want the existing lease %+v", again, lease)
	}

	wantErrIs(t, "release by a non-holder", r2.ReleaseSemaphore(e.ctx, "raid", h2), registry.ErrNotHolder)
	wantErrIs(t, "release of a free name", r2.ReleaseSemaphore(e.ctx, "nothing", h2), registry.ErrNotHolder)
	noErr(t, "release by the holder", r1.ReleaseSemaphore(e.ctx, "raid", h1))
	wantErrIs(t, "second release", r1.ReleaseSemaphore(e.ctx, "raid", h1), registry.ErrNotHolder)

	l2, err := r2.AcquireSemaphore(e.ctx, "raid", h2)
	noErr(t, "AcquireSemaphore after release", err)
	if l2.Holder != h2 || l2.Token <= lease.Token {
		t.Fatalf("lease after release = %+v, want held by %+v with token > %d", l2, h2, lease.Token)
	}
	_, err = r1.AcquireSemaphore(e.ctx, "raid", h1)
	if !errors.As(err, &held) || held.Holder != h2 {
		t.Fatalf("AcquireSemaphore now held by b: %v, want a *SemaphoreHeldError naming %+v", err, h2)
	}

	// Names are independent.
	other, err := r1.AcquireSemaphore(e.ctx, "other", h1)
	noErr(t, "AcquireSemaphore of another name", err)
	if other.Holder != h1 {
		t.Fatalf("lease = %+v, want held by %+v", other, h1)
	}
}

func testSemaphoreTokens(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	hs := []registry.Holder{holder(ch1, 1), holder(ch2, 2)}
	regs := []registry.ChannelRegistry{e.reg(e.spread(0)), e.reg(e.spread(1))}
	var last uint64
	for i := range 8 {
		k := i % 2
		lease, err := regs[k].AcquireSemaphore(e.ctx, "fenced", hs[k])
		noErr(t, "AcquireSemaphore", err)
		if lease.Token <= last {
			t.Fatalf("acquisition %d: token %d, want > %d", i, lease.Token, last)
		}
		last = lease.Token
		if k == 0 {
			noErr(t, "ReleaseSemaphore", regs[k].ReleaseSemaphore(e.ctx, "fenced", hs[k]))
		} else {
			regs[k].ReleaseAll(e.ctx, hs[k].CharID)
		}
	}
}

func testReleaseAll(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	h1, h2 := holder(ch1, 1), holder(ch2, 2)
	r1, r2 := e.reg(e.spread(0)), e.reg(e.spread(1))
	for _, name := range []string{"a", "b"} {
		_, err := r1.AcquireSemaphore(e.ctx, name, h1)
		noErr(t, "AcquireSemaphore", err)
	}
	_, err := r2.AcquireSemaphore(e.ctx, "c", h2)
	noErr(t, "AcquireSemaphore", err)

	r1.ReleaseAll(e.ctx, 1)
	for _, name := range []string{"a", "b"} {
		l, err := r2.AcquireSemaphore(e.ctx, name, h2)
		noErr(t, "AcquireSemaphore after ReleaseAll", err)
		if l.Holder != h2 {
			t.Fatalf("lease %+v, want held by %+v", l, h2)
		}
	}
	_, err = r1.AcquireSemaphore(e.ctx, "c", h1)
	wantErrIs(t, "ReleaseAll of another character left c held", err, registry.ErrSemaphoreHeld)

	// A logout through the channel (as a kick does) releases too.
	e.login(e.spread(1), ch2, 2, "b", "", 0)
	_, err = r1.DisconnectUser(e.ctx, []uint32{2}, "bye")
	noErr(t, "DisconnectUser", err)
	_, err = r1.AcquireSemaphore(e.ctx, "c", h1)
	noErr(t, "AcquireSemaphore after the holder logged out", err)
}

func testChannelShutdown(t *testing.T, e *env) {
	ch1 := e.channel(e.spread(0), 1)
	ch2 := e.channel(e.spread(1), 2)
	r1, r2 := e.reg(e.spread(0)), e.reg(e.spread(1))
	e.login(e.spread(0), ch1, 1, "a", "town", 0)
	e.login(e.spread(1), ch2, 2, "b", "town", 0)
	e.login(e.spread(1), ch2, 3, "c", "", 0)
	r1.StageUpdated(e.ctx, ch1.StageSnapshot("town", 1, 50))
	r2.StageUpdated(e.ctx, ch2.StageSnapshot("town", 1, 50))
	r2.StageUpdated(e.ctx, ch2.StageSnapshot("quest", 1, 4))
	_, err := r2.AcquireSemaphore(e.ctx, "raid", holder(ch2, 2))
	noErr(t, "AcquireSemaphore", err)

	r2.Unregister(e.ctx, 2)

	for _, reg := range e.regs(2) {
		infos, err := reg.Channels(e.ctx)
		noErr(t, "Channels", err)
		if got := channelIDs(infos); !slices.Equal(got, []uint16{1}) {
			t.Fatalf("Channels after shutdown = %v, want [1]", got)
		}
		for _, id := range []uint32{2, 3} {
			_, err := reg.FindSession(e.ctx, id)
			wantErrIs(t, "FindSession of a session of the stopped channel", err, registry.ErrNotFound)
		}
		ss, err := reg.SearchSessions(e.ctx, registry.SessionFilter{}, 0)
		noErr(t, "SearchSessions", err)
		if ids := sessionIDs(ss); !slices.Equal(ids, []uint32{1}) {
			t.Fatalf("SearchSessions after shutdown = %v, want [1]", ids)
		}
		st, err := reg.SearchStages(e.ctx, "", 0)
		noErr(t, "SearchStages", err)
		if len(st) != 1 || st[0].ChannelID != 1 {
			t.Fatalf("SearchStages after shutdown = %+v, want only town of channel 1", st)
		}
		_, err = reg.FindChannelForStage(e.ctx, "quest")
		wantErrIs(t, "FindChannelForStage of the stopped channel's stage", err, registry.ErrNotFound)
		got, err := reg.FindChannelForStage(e.ctx, "town")
		noErr(t, "FindChannelForStage", err)
		if got.ChannelID != 1 {
			t.Fatalf("FindChannelForStage(town) = %+v, want channel 1", got)
		}
		sent, err := reg.Cast(e.ctx, []uint32{2, 3}, []byte("late"))
		noErr(t, "Cast", err)
		if len(sent) != 0 {
			t.Fatalf("Cast to the stopped channel's sessions returned %v", sent)
		}
		wantErrIs(t, "NotifyMail to the stopped channel", reg.NotifyMail(e.ctx, 2, registry.MailNotice{MailID: 1}), registry.ErrNotFound)
	}

	frame := []byte("after shutdown")
	noErr(t, "Worldcast", e.reg(0).Worldcast(e.ctx, frame, 0, 0))
	e.fence(0, "shutdown", map[*FakeChannel][]uint32{ch1: {1}})
	if n := ch1.FrameCount(1, frame); n != 1 {
		t.Fatalf("live channel's session received the worldcast %d times, want 1", n)
	}
	if b := ch2.Broadcasts(); len(b) != 0 {
		t.Fatalf("stopped channel received %d broadcasts, want 0", len(b))
	}

	// The stopped channel's character no longer holds its semaphore.
	l, err := r1.AcquireSemaphore(e.ctx, "raid", holder(ch1, 1))
	noErr(t, "AcquireSemaphore released by shutdown", err)
	if l.Holder.CharID != 1 {
		t.Fatalf("lease = %+v, want held by character 1", l)
	}
}

func testConcurrent(t *testing.T, e *env) {
	const (
		workers    = 6
		iterations = 25
	)
	chans := []*FakeChannel{e.channel(e.spread(0), 1), e.channel(e.spread(1), 2), e.channel(e.spread(2), 3)}
	slotOf := func(fc *FakeChannel) int {
		for i, c := range chans {
			if c == fc {
				return e.spread(i)
			}
		}
		return 0
	}
	tolerated := func(err error) bool {
		return err == nil || errors.Is(err, registry.ErrNotFound) ||
			errors.Is(err, registry.ErrSemaphoreHeld) || errors.Is(err, registry.ErrNotHolder)
	}
	// Every worker's characters, plus one character that all workers keep
	// logging in (each on its own channel), which exercises kicks.
	const shared = 9999
	var wg sync.WaitGroup
	for w := range workers {
		fc := chans[w%len(chans)]
		slot := slotOf(fc)
		reg := e.reg(slot)
		wg.Go(func() {
			for i := range iterations {
				id := uint32(1000*(w+1) + i)
				s := fc.Snapshot(id, fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("stage-%d", w), 0)
				fc.AddSession(s)
				if err := reg.SessionOnline(e.ctx, s); err != nil {
					t.Errorf("SessionOnline(%d): %v", id, err)
					return
				}
				s.StageID = fmt.Sprintf("stage-%d-%d", w, i%3)
				reg.SessionUpdated(e.ctx, s)
				st := fc.StageSnapshot(s.StageID, i, 50)
				reg.StageUpdated(e.ctx, st)
				check := func(what string, err error) {
					if !tolerated(err) {
						t.Errorf("%s: %v", what, err)
					}
				}
				_, err := reg.FindSession(e.ctx, id-1)
				check("FindSession", err)
				_, err = reg.SearchSessions(e.ctx, registry.SessionFilter{NamePrefix: "w"}, 20)
				check("SearchSessions", err)
				_, err = reg.SearchStages(e.ctx, "stage-", 20)
				check("SearchStages", err)
				_, err = reg.FindChannelForStage(e.ctx, st.StageID)
				check("FindChannelForStage", err)
				_, err = reg.Cast(e.ctx, []uint32{id, id - 1, uint32(1000*(w%workers+2) + i)}, []byte("cast"))
				check("Cast", err)
				check("Worldcast", reg.Worldcast(e.ctx, []byte("world"), id, 0))
				check("NotifyMail", reg.NotifyMail(e.ctx, id, registry.MailNotice{MailID: int64(id)}))
				h := registry.Holder{CharID: id, ReplicaID: fc.Info().ReplicaID, ChannelID: fc.ID(), Addr: fc.Info().Addr}
				name := fmt.Sprintf("sema-%d", i%4)
				_, err = reg.AcquireSemaphore(e.ctx, name, h)
				check("AcquireSemaphore", err)
				check("ReleaseSemaphore", reg.ReleaseSemaphore(e.ctx, name, h))
				_, err = reg.Channels(e.ctx)
				check("Channels", err)

				if w < len(chans) {
					// One worker per channel fights for the shared
					// character. The session is added after the claim:
					// FakeChannel keeps one session per character, so
					// adding first would let the claim kick itself.
					sh := fc.Snapshot(shared, "shared", "", 0)
					if err := reg.SessionOnline(e.ctx, sh); err != nil {
						t.Errorf("SessionOnline(shared): %v", err)
						return
					}
					fc.AddSession(sh)
				}
				// Log the character out: half by the registry, half as the
				// channel's own session would.
				if i%2 == 0 {
					res, err := reg.DisconnectUser(e.ctx, []uint32{id}, "done")
					check("DisconnectUser", err)
					if len(res.Unconfirmed) != 0 {
						t.Errorf("DisconnectUser(%d) unconfirmed: %+v", id, res)
					}
				} else {
					fc.RemoveSession(id)
					reg.SessionOffline(e.ctx, id, fc.ID())
					reg.ReleaseAll(e.ctx, id)
				}
				reg.StageRemoved(e.ctx, fc.ID(), st.StageID)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every worker's characters logged out; the shared one is online once.
	for _, reg := range e.regs(2) {
		ss, err := reg.SearchSessions(e.ctx, registry.SessionFilter{}, 0)
		noErr(t, "SearchSessions", err)
		if ids := sessionIDs(ss); !slices.Equal(ids, []uint32{shared}) {
			t.Fatalf("after all logouts, sessions online = %v, want only [%d]", ids, shared)
		}
		got, err := reg.FindSession(e.ctx, shared)
		noErr(t, "FindSession(shared)", err)
		owner := chans[0]
		for _, c := range chans {
			if c.ID() == got.ChannelID {
				owner = c
			}
		}
		if !owner.HasSession(shared) {
			t.Fatalf("presence of the shared character names channel %d, which has no such session", got.ChannelID)
		}
	}
}

// closedCalls calls every error-returning method of reg; each must fail
// with ErrClosed.
func closedCalls(t *testing.T, ctx context.Context, reg registry.ChannelRegistry, fc *FakeChannel) {
	t.Helper()
	h := holder(fc, 1)
	_, err1 := reg.FindSession(ctx, 1)
	_, err2 := reg.DisconnectUser(ctx, []uint32{1}, "x")
	_, err3 := reg.FindChannelForStage(ctx, "town")
	_, err4 := reg.SearchSessions(ctx, registry.SessionFilter{}, 0)
	_, err5 := reg.SearchStages(ctx, "", 0)
	_, err6 := reg.Cast(ctx, []uint32{1}, []byte("x"))
	_, err7 := reg.AcquireSemaphore(ctx, "raid", h)
	_, err8 := reg.Channels(ctx)
	errs := map[string]error{
		"Register":            reg.Register(ctx, NewFakeChannel(registry.ChannelInfo{ID: 50, ReplicaID: fc.Info().ReplicaID})),
		"SessionOnline":       reg.SessionOnline(ctx, fc.Snapshot(2, "b", "", 0)),
		"Worldcast":           reg.Worldcast(ctx, []byte("x"), 0, 0),
		"FindSession":         err1,
		"DisconnectUser":      err2,
		"FindChannelForStage": err3,
		"SearchSessions":      err4,
		"SearchStages":        err5,
		"NotifyMail":          reg.NotifyMail(ctx, 1, registry.MailNotice{}),
		"Cast":                err6,
		"AcquireSemaphore":    err7,
		"ReleaseSemaphore":    reg.ReleaseSemaphore(ctx, "raid", h),
		"Channels":            err8,
	}
	for name, err := range errs {
		if !errors.Is(err, registry.ErrClosed) {
			t.Errorf("%s after Close: error %v, want one wrapping ErrClosed", name, err)
		}
	}
	// Methods without an error result must not panic.
	reg.Unregister(ctx, fc.ID())
	reg.SessionUpdated(ctx, fc.Snapshot(1, "a", "x", 0))
	reg.SessionOffline(ctx, 1, fc.ID())
	reg.StageUpdated(ctx, fc.StageSnapshot("x", 0, 1))
	reg.StageRemoved(ctx, fc.ID(), "x")
	reg.ReleaseAll(ctx, 1)
}

func testClose(t *testing.T, e *env) {
	fc := e.channel(0, 1)
	reg := e.reg(0)
	e.login(0, fc, 1, "a", "town", 0)
	reg.StageUpdated(e.ctx, fc.StageSnapshot("town", 1, 50))
	_, err := reg.AcquireSemaphore(e.ctx, "raid", holder(fc, 1))
	noErr(t, "AcquireSemaphore", err)

	noErr(t, "Close", reg.Close(e.ctx))
	closedCalls(t, e.ctx, reg, fc)
	noErr(t, "second Close", reg.Close(e.ctx))
	if b := fc.Broadcasts(); len(b) != 0 {
		t.Fatalf("closed registry delivered %d broadcasts", len(b))
	}
}

func testCloseSeenByOthers(t *testing.T, e *env) {
	if e.c.MaxReplicas() < 2 {
		t.Skip("implementation supports a single replica: no other replica observes its Close")
	}
	ch1 := e.channel(0, 1)
	ch2 := e.channel(1, 2)
	e.login(0, ch1, 1, "a", "town", 0)
	e.login(1, ch2, 2, "b", "town", 0)
	e.reg(1).StageUpdated(e.ctx, ch2.StageSnapshot("quest", 1, 4))
	_, err := e.reg(1).AcquireSemaphore(e.ctx, "raid", holder(ch2, 2))
	noErr(t, "AcquireSemaphore", err)

	noErr(t, "Close of the second replica", e.reg(1).Close(e.ctx))
	e.c.Advance(time.Hour)

	r1 := e.reg(0)
	infos, err := r1.Channels(e.ctx)
	noErr(t, "Channels", err)
	if slices.Contains(channelIDs(infos), 2) {
		t.Fatalf("Channels after the replica closed = %v, still lists channel 2", channelIDs(infos))
	}
	_, err = r1.FindSession(e.ctx, 2)
	wantErrIs(t, "FindSession of the closed replica's character", err, registry.ErrNotFound)
	_, err = r1.FindChannelForStage(e.ctx, "quest")
	wantErrIs(t, "FindChannelForStage of the closed replica's stage", err, registry.ErrNotFound)
	l, err := r1.AcquireSemaphore(e.ctx, "raid", holder(ch1, 1))
	noErr(t, "AcquireSemaphore held by the closed replica", err)
	if l.Holder.CharID != 1 {
		t.Fatalf("lease = %+v, want held by character 1", l)
	}
	// Its channel ID is free to claim.
	noErr(t, "Register the closed replica's channel ID", r1.Register(e.ctx, NewFakeChannel(e.fakeInfo(0, 2))))
}

func testBadInput(t *testing.T, e *env) {
	fc := e.channel(0, 1)
	reg := e.reg(0)
	if err := reg.Register(e.ctx, nil); err == nil {
		t.Error("Register(nil) succeeded, want an error")
	}
	if err := reg.Register(e.ctx, NewFakeChannel(e.fakeInfo(0, 0))); err == nil {
		t.Error("Register of channel ID 0 succeeded, want an error")
	}
	if err := reg.SessionOnline(e.ctx, fc.Snapshot(0, "nobody", "", 0)); err == nil {
		t.Error("SessionOnline of character 0 succeeded, want an error")
	}
	if _, err := reg.AcquireSemaphore(e.ctx, "", holder(fc, 1)); err == nil {
		t.Error("AcquireSemaphore with an empty name succeeded, want an error")
	}
	if _, err := reg.AcquireSemaphore(e.ctx, "raid", holder(fc, 0)); err == nil {
		t.Error("AcquireSemaphore by character 0 succeeded, want an error")
	}
	// None of that registered or recorded anything.
	infos, err := reg.Channels(e.ctx)
	noErr(t, "Channels", err)
	if got := channelIDs(infos); !slices.Equal(got, []uint16{1}) {
		t.Fatalf("Channels = %v, want [1]", got)
	}
	if _, err := reg.FindSession(e.ctx, 0); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("FindSession(0): %v, want ErrNotFound", err)
	}
}
