package redisreg

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/registry/registrytest"
	"github.com/redis/go-redis/v9"
)

// A slow OnSessionsLost callback must not stall the pub/sub receive loop:
// worldcasts keep reaching this replica's players while it runs.
func TestSlowLeaveCallbackDoesNotBlockDelivery(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	a := c.start(t, "A", func(o *Options) {
		o.OnSessionsLost = func(cbCtx context.Context, _ string, _ []registry.SessionSnapshot) {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-cbCtx.Done():
			}
		}
	})
	t.Cleanup(func() { close(release) })
	b := c.start(t, "B", nil)
	dead := c.start(t, "C", nil)
	fa := fake(t, ctx, a, 1, 11)
	fake(t, ctx, dead, 3, 31)

	dead.halt()
	c.mini.FastForward(DefaultLeaseTTL + time.Millisecond)
	for _, r := range []*Registry{a, b} {
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if swept, err := b.Sweep(ctx); err != nil || !slices.Equal(swept, []string{"C"}) {
		t.Fatalf("sweep = %v, %v; want [C]", swept, err)
	}
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("A's OnSessionsLost was never called")
	}
	frame := []byte("while-the-callback-runs")
	if err := b.Worldcast(ctx, frame, 0, 0); err != nil {
		t.Fatal(err)
	}
	fa.Await(t, "a worldcast delivered while OnSessionsLost blocks", func() bool { return fa.FrameCount(11, frame) > 0 })
}

// A kick confirmation from another replica, or for another character,
// must not end the wait for the kicked session's logout.
func TestKickAckMustComeFromKickedReplica(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", nil)
	ignored := make(chan struct{}, 4)
	b := c.start(t, "B", func(o *Options) {
		o.Logger = slog.New(&msgHandler{msg: "ignoring kick confirmation", hit: ignored})
	})
	fa := fake(t, ctx, a, 1, 5)
	fb := fake(t, ctx, b, 2, 50)
	gate := make(chan struct{})
	var gateOnce sync.Once
	openGate := func() { gateOnce.Do(func() { close(gate) }) }
	t.Cleanup(openGate)
	fa.SetDisconnectHook(registrytest.GateHook(gate)) // A's logout save is slow

	s := fb.Snapshot(5, "char5", "", 0)
	fb.AddSession(s)
	done := make(chan error, 1)
	go func() { done <- b.SessionOnline(ctx, s) }()
	fa.AwaitDisconnect(t, 5, 1) // the kick reached A; its logout is in progress

	b.mu.Lock()
	var req uint64
	for id := range b.kicks {
		req = id
	}
	b.mu.Unlock()
	if req == 0 {
		t.Fatal("no pending kick on B")
	}
	for _, forged := range []envelope{
		{Kind: kindKickAck, Origin: "C", ReqID: req, Chars: []uint32{5}},  // wrong replica
		{Kind: kindKickAck, Origin: "A", ReqID: req, Chars: []uint32{99}}, // wrong character
	} {
		if err := c.client.Publish(ctx, b.k.replicaChan("B"), forged.encode()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// B must log both forged acks as ignored, without SessionOnline returning.
	for n := 0; n < 2; {
		select {
		case <-ignored:
			n++
		case err := <-done:
			t.Fatalf("SessionOnline returned (%v) on a forged ack, before A's logout finished", err)
		case <-ctx.Done():
			t.Fatal("forged acks neither ignored nor accepted")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("SessionOnline returned (%v) before A's logout finished", err)
	default:
	}
	openGate()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SessionOnline after A's confirmation: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("SessionOnline never returned")
	}
}

// A replica that lost its channel's claim to another replica (it was swept
// while paused, and the channel was taken over) must neither overwrite the
// new owner's channel info and indexes on refresh nor delete them when it
// unregisters the channel.
func TestLostClaimLeavesNewOwnersKeys(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", nil)
	b := c.start(t, "B", nil)
	fake(t, ctx, a, 7, 11)
	c.mini.Del(a.k.claim(7)) // as after A's lease expired and a sweep
	fake(t, ctx, b, 7, 70)

	check := func(when string) {
		t.Helper()
		chans, err := b.Channels(ctx)
		if err != nil || len(chans) != 1 || chans[0].ReplicaID != "B" {
			t.Fatalf("%s: channels = %+v, %v; want channel 7 on B", when, chans, err)
		}
		// Read the index through a third replica (no local shortcut).
		got, err := a.SearchSessions(ctx, registry.SessionFilter{NamePrefix: "char70"}, 0)
		if err != nil || len(got) != 1 || got[0].ReplicaID != "B" {
			t.Fatalf("%s: search for B's player = %+v, %v", when, got, err)
		}
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	check("after the old owner's refresh")
	a.Unregister(ctx, 7)
	check("after the old owner unregistered the channel")
}

// Every round trip of a refresh has its own OpTimeout: with many sessions
// the presence batches must not share one deadline.
func TestRefreshBatchesHaveTheirOwnDeadline(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	a := c.start(t, "A", nil)
	fc := fake(t, ctx, a, 1)
	a.mu.Lock()
	for id := uint32(1); id <= 3*refreshBatch; id++ {
		a.sessions[id] = fc.Snapshot(id, "x", "", 0)
	}
	a.mu.Unlock()
	h := &deadlineHook{prefix: a.k.presence(0)[:len(a.k.presence(0))-1]}
	c.client.AddHook(h)
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.deadlines) < 3 {
		t.Fatalf("%d presence pipelines, want at least 3", len(h.deadlines))
	}
	for i := 1; i < len(h.deadlines); i++ {
		if !h.deadlines[i].After(h.deadlines[i-1]) {
			t.Fatalf("presence batch %d shares the deadline of the batch before (%v)", i, h.deadlines[i])
		}
	}
}

// deadlineHook records the context deadline of every pipeline that writes
// keys starting with prefix.
type deadlineHook struct {
	prefix    string
	mu        sync.Mutex
	deadlines []time.Time
}

func (h *deadlineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *deadlineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *deadlineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "set" {
			if k, ok := cmds[0].Args()[1].(string); ok && strings.HasPrefix(k, h.prefix) {
				d, _ := ctx.Deadline()
				h.mu.Lock()
				h.deadlines = append(h.deadlines, d)
				h.mu.Unlock()
			}
		}
		return next(ctx, cmds)
	}
}

// clusterTag returns the part of key Redis Cluster hashes: the content of
// the first {...} if non-empty, else the whole key.
func clusterTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// fence.lua takes the lock and fence keys of one semaphore: they must hash
// to the same Cluster slot whatever the name, and distinct names must keep
// distinct keys.
func TestSemaphoreKeysShareHashTag(t *testing.T) {
	k := keys{"gh"}
	names := []string{"raid", "}x", "{", "}", "a}b{c", "{x}", "%7D", "50%", "%"}
	seen := map[string]string{}
	for _, n := range names {
		st, ft := clusterTag(k.sema(n)), clusterTag(k.fence(n))
		if st != ft || st == k.sema(n) {
			t.Errorf("name %q: lock key %q (tag %q) and fence key %q (tag %q) hash differently", n, k.sema(n), st, k.fence(n), ft)
		}
		if prev, dup := seen[k.sema(n)]; dup {
			t.Errorf("names %q and %q share key %q", prev, n, k.sema(n))
		}
		seen[k.sema(n)] = n
	}
	if k.sema("raid") != "gh:sema:{raid}" {
		t.Errorf("plain name changed key: %q", k.sema("raid"))
	}
}

// A replica whose lease reappears between the sweeper's check and its sweep
// lock (a pause, not a crash) must not be swept.
func TestSweepRechecksLeaseUnderLock(t *testing.T) {
	ctx := testCtx(t)
	c := newMiniCluster(t)
	var deadCalls []string
	var mu sync.Mutex
	a := c.start(t, "A", nil)
	b := c.start(t, "B", func(o *Options) {
		o.OnReplicaDead = func(_ context.Context, id string) { mu.Lock(); deadCalls = append(deadCalls, id); mu.Unlock() }
	})
	fake(t, ctx, a, 1, 11)
	c.mini.Del(a.k.lease("A")) // A's lease lapsed (it is paused) ...
	c.client.AddHook(&beforeCmdHook{key: b.k.sweepLock("A"), run: func() {
		// ... and A refreshes just as B takes the sweep lock.
		if err := a.Refresh(ctx); err != nil {
			t.Error(err)
		}
	}})
	swept, err := b.Sweep(ctx)
	if err != nil || len(swept) != 0 {
		t.Fatalf("sweep = %v, %v; want nothing swept", swept, err)
	}
	if s, err := b.FindSession(ctx, 11); err != nil || s.ReplicaID != "A" {
		t.Fatalf("live replica's player after sweep: %+v %v", s, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(deadCalls) != 0 {
		t.Fatalf("OnReplicaDead called for a live replica: %v", deadCalls)
	}
	if c.mini.Exists(b.k.sweepLock("A")) {
		t.Error("sweep lock of a live replica left behind")
	}
}

// msgHandler signals hit for every record whose message starts with msg.
type msgHandler struct {
	msg string
	hit chan<- struct{}
}

func (h *msgHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *msgHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.msg) {
		select {
		case h.hit <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h *msgHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *msgHandler) WithGroup(string) slog.Handler      { return h }

// beforeCmdHook runs run once before the first command on key.
type beforeCmdHook struct {
	key  string
	once sync.Once
	run  func()
}

func (h *beforeCmdHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *beforeCmdHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 1 {
			if k, ok := args[1].(string); ok && k == h.key {
				h.once.Do(h.run)
			}
		}
		return next(ctx, cmd)
	}
}
func (h *beforeCmdHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
