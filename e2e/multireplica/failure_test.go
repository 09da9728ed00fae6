package multireplica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

// castStream sends numbered world casts from p until stop is closed, then
// returns how many it sent (each acknowledged by the server).
func castStream(ctx context.Context, p *player, tag string, stop <-chan struct{}) (int, error) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return i, nil
		default:
		}
		if _, err := p.conn.Cast(ctx, wire.ScopeWorld, nil, []byte(fmt.Sprintf("%s-%d", tag, i))); err != nil {
			return i, fmt.Errorf("cast %d: %w", i, err)
		}
		// Pacing only (about 50 casts/s), not an assertion.
		select {
		case <-stop:
			return i + 1, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestKill9 crashes one replica: its players vanish from FindPlayer and
// SearchPlayers, its global semaphore becomes acquirable, its servers rows
// are reaped, and a world-cast stream between the other replicas loses
// nothing.
func TestKill9(t *testing.T) {
	c := startCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := join(t, ctx, c, 0, 0, "ka")
	b := join(t, ctx, c, 1, 0, "kb")
	victim := join(t, ctx, c, 2, 0, "kv")
	sema := "k9-" + victim.name
	if _, err := victim.conn.SemaAcquire(ctx, sema, true, 0); err != nil {
		t.Fatalf("victim acquire: %v", err)
	}
	if err := findOnline(ctx, a, victim.id, c.Replica(2).Channels()[0].ID); err != nil {
		t.Fatal(err)
	}
	if rows, err := serverRows(ctx, c.DatabaseURL(), c.Replica(2).ID()); err != nil || len(rows) != 1 {
		t.Fatalf("victim's servers rows before the crash: %v, %v", rows, err)
	}

	stop := make(chan struct{})
	var sent int
	var streamErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent, streamErr = castStream(ctx, a, "k9", stop)
	}()
	// The stream is flowing before the crash.
	b.waitCount(t, "stream casts before the crash", 5, func(m wire.Message) bool {
		cm, ok := m.(*wire.CastMsg)
		return ok && strings.HasPrefix(string(cm.Payload), "k9-")
	})

	if err := c.Replica(2).Kill9(); err != nil {
		t.Fatal(err)
	}
	crashed := time.Now()
	victim.waitEnded(t)

	took := eventually(t, waitLimit, "victim gone from FindPlayer and SearchPlayers", func() error {
		info, err := a.conn.FindPlayer(ctx, victim.id, "")
		if err != nil {
			return err
		}
		if info.Found {
			return errors.New("FindPlayer still finds the victim")
		}
		list, err := b.conn.SearchPlayers(ctx, victim.name, "", 10)
		if err != nil {
			return err
		}
		if len(list) != 0 {
			return fmt.Errorf("SearchPlayers still lists %+v", list)
		}
		return nil
	})
	t.Logf("kill -9: presence gone %v after the crash (presence TTL %v, lease TTL %v)", took, presenceTTL, leaseTTL)
	// Issue 3: the sweep tells the survivors' players that the dead
	// replica's characters went offline.
	for _, p := range []*player{a, b} {
		p.waitCount(t, p.name+" told the victim went offline", 1, func(m wire.Message) bool {
			po, ok := m.(*wire.PlayersOffline)
			return ok && slices.Contains(po.Players, wire.Member{CharID: victim.id, Name: victim.name})
		})
	}
	t.Logf("kill -9: survivors told the victim went offline %v after the crash", time.Since(crashed))

	var token uint64
	eventually(t, waitLimit, "victim's semaphore acquirable", func() error {
		tok, err := b.conn.SemaAcquire(ctx, sema, true, 0)
		if err != nil {
			return err
		}
		token = tok
		return nil
	})
	t.Logf("kill -9: semaphore acquired %v after the crash (lock TTL %v), token %d", time.Since(crashed), lockTTL, token)

	eventually(t, waitLimit, "victim's servers rows reaped", func() error {
		rows, err := serverRows(ctx, c.DatabaseURL(), c.Replica(2).ID())
		if err != nil {
			return err
		}
		if len(rows) != 0 {
			return fmt.Errorf("rows %v remain", rows)
		}
		return nil
	})
	t.Logf("kill -9: servers rows reaped %v after the crash", time.Since(crashed))
	// Sign-in on a live replica no longer lists the dead replica's channel;
	// the live ones stay.
	deadCh := c.Replica(2).Channels()[0].ID
	eventually(t, waitLimit, "dead replica's channel gone from the sign-in list", func() error {
		list, err := client.Channels(ctx, c.Replica(0).HTTPBase())
		if err != nil {
			return err
		}
		var ids []uint16
		for _, ch := range list {
			ids = append(ids, ch.ID)
		}
		if slices.Contains(ids, deadCh) {
			return fmt.Errorf("channel list %v still has the dead replica's channel %d", ids, deadCh)
		}
		for _, r := range []int{0, 1} {
			if want := c.Replica(r).Channels()[0].ID; !slices.Contains(ids, want) {
				return fmt.Errorf("channel list %v lacks live channel %d", ids, want)
			}
		}
		return nil
	})
	for _, r := range []int{0, 1} {
		if rows, err := serverRows(ctx, c.DatabaseURL(), c.Replica(r).ID()); err != nil || len(rows) != 1 {
			t.Errorf("live replica %s rows %v, %v; want its 1 row kept", c.Replica(r).ID(), rows, err)
		}
	}

	close(stop)
	wg.Wait()
	if streamErr != nil {
		t.Fatalf("cast stream between live replicas failed: %v", streamErr)
	}
	if _, err := a.conn.Cast(ctx, wire.ScopeWorld, nil, []byte("k9-end")); err != nil {
		t.Fatal(err)
	}
	b.waitCount(t, "the end marker", 1, isCast(wire.ScopeWorld, "k9-end"))
	for i := 0; i < sent; i++ {
		if n := b.count(isCast(wire.ScopeWorld, fmt.Sprintf("k9-%d", i))); n != 1 {
			t.Errorf("stream cast %d of %d received %d times, want 1", i, sent, n)
		}
	}
	t.Logf("kill -9: %d stream casts all received exactly once", sent)
}

// TestSIGTERM drains one replica: its players get a Notice and are closed,
// their saves are in PostgreSQL, their presence and the replica's servers
// rows are gone as soon as the process has exited.
func TestSIGTERM(t *testing.T) {
	c := startCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obs := join(t, ctx, c, 0, 0, "to")
	leaving := []*player{join(t, ctx, c, 2, 0, "tl"), join(t, ctx, c, 2, 0, "tl")}
	for _, p := range leaving {
		if err := p.conn.SaveData(ctx, []byte("save-of-"+p.name)); err != nil {
			t.Fatal(err)
		}
		if err := findOnline(ctx, obs, p.id, 0); err != nil {
			t.Fatal(err)
		}
	}
	termErr := make(chan error, 1)
	go func() { termErr <- c.Replica(2).Term() }()
	for _, p := range leaving {
		p.waitCount(t, "drain notices", 1, func(m wire.Message) bool { _, ok := m.(*wire.Notice); return ok })
		p.waitEnded(t)
	}
	select {
	case err := <-termErr:
		if err != nil {
			t.Fatalf("Term: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("replica did not exit within 2m of SIGTERM")
	}
	// Checked once, right after the exit: no TTL wait.
	for _, p := range leaving {
		info, err := obs.conn.FindPlayer(ctx, p.id, "")
		if err != nil {
			t.Fatal(err)
		}
		if info.Found {
			t.Errorf("%s still found right after the drained replica exited: %+v", p.name, info.Player)
		}
	}
	if rows, err := serverRows(ctx, c.DatabaseURL(), c.Replica(2).ID()); err != nil || len(rows) != 0 {
		t.Errorf("drained replica's servers rows %v, %v; want none", rows, err)
	}
	conn, err := pgx.Connect(ctx, c.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, p := range leaving {
		var data []byte
		if err := conn.QueryRow(ctx, "SELECT save_data FROM characters WHERE id = $1", p.id).Scan(&data); err != nil {
			t.Fatal(err)
		}
		if string(data) != "save-of-"+p.name {
			t.Errorf("%s: save_data %q in PostgreSQL, want %q", p.name, data, "save-of-"+p.name)
		}
	}
}

// TestRedisRestart restarts Redis (all its data lost) while players are
// online: durable state survives, and cross-replica world cast, whisper and
// presence work again within seconds.
func TestRedisRestart(t *testing.T) {
	c := startCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := join(t, ctx, c, 0, 0, "ra")
	b := join(t, ctx, c, 1, 0, "rb")
	mailID, err := a.conn.MailSend(ctx, b.id, "", "before-restart", "kept")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.conn.SaveData(ctx, []byte("durable-"+b.name)); err != nil {
		t.Fatal(err)
	}
	// Load during the restart: a stream of world casts from a.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			_ = a.conn.CastNoAck(wire.ScopeWorld, nil, []byte("load"))
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	if err := c.RedisRestart(ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	attempt := 0
	took := eventually(t, waitLimit, "world cast a -> b after the Redis restart", func() error {
		attempt++
		tag := fmt.Sprintf("after-%d", attempt)
		if _, err := a.conn.Cast(ctx, wire.ScopeWorld, nil, []byte(tag)); err != nil {
			return err
		}
		if b.count(func(m wire.Message) bool {
			cm, ok := m.(*wire.CastMsg)
			return ok && strings.HasPrefix(string(cm.Payload), "after-")
		}) == 0 {
			return errors.New("no post-restart world cast received yet")
		}
		return nil
	})
	t.Logf("Redis restart: world cast works again %v after Redis returned", took)
	took = eventually(t, waitLimit, "whisper b -> a after the Redis restart", func() error {
		attempt++
		if _, err := b.conn.Cast(ctx, wire.ScopeTargets, []uint32{a.id}, []byte(fmt.Sprintf("w-%d", attempt))); err != nil {
			return err
		}
		if a.count(func(m wire.Message) bool {
			cm, ok := m.(*wire.CastMsg)
			return ok && cm.Scope == wire.ScopeTargets && strings.HasPrefix(string(cm.Payload), "w-")
		}) == 0 {
			return errors.New("no whisper received yet")
		}
		return nil
	})
	t.Logf("Redis restart: whisper works again %v after the world cast did", took)
	eventually(t, waitLimit, "presence re-registered", func() error {
		return findOnline(ctx, a, b.id, c.Replica(1).Channels()[0].ID)
	})
	t.Logf("Redis restart: all checks passed %v after Redis returned", time.Since(back))

	list, err := b.conn.MailList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range list {
		found = found || h.ID == mailID
	}
	if !found {
		t.Errorf("mail %d sent before the restart missing from %+v", mailID, list)
	}
	data, err := b.conn.LoadData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(data.Data) != "durable-"+b.name {
		t.Errorf("save after the restart %q, want %q", data.Data, "durable-"+b.name)
	}
}

// TestFencingStaleHolder: replica 1 holds a global semaphore and is frozen
// (SIGSTOP) past the lock TTL; replica 2 acquires it and writes; replica 1
// continues (SIGCONT) and its holder's write with the old token is refused
// with CodeStaleToken.
func TestFencingStaleHolder(t *testing.T) {
	c := startCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := join(t, ctx, c, 0, 0, "fa")
	b := join(t, ctx, c, 1, 0, "fb")
	name := "fence-" + a.name
	tok1, err := a.conn.SemaAcquire(ctx, name, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.conn.SemaWrite(ctx, name, []byte("a-1")); err != nil {
		t.Fatalf("holder's first write: %v", err)
	}
	if err := c.Replica(0).Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = c.Replica(0).Resume()
		}
	}()
	var tok2 uint64
	eventually(t, waitLimit, "acquire on replica 2 while replica 1 is frozen", func() error {
		tok, err := b.conn.SemaAcquire(ctx, name, true, 0)
		if err != nil {
			return err
		}
		tok2 = tok
		return nil
	})
	if tok2 <= tok1 {
		t.Errorf("new token %d not above the stale %d", tok2, tok1)
	}
	if err := b.conn.SemaWrite(ctx, name, []byte("b-1")); err != nil {
		t.Fatalf("new holder's write: %v", err)
	}
	if err := c.Replica(0).Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	err = a.conn.SemaWrite(ctx, name, []byte("a-stale"))
	we := wireErr(err)
	if we == nil || we.Code != wire.CodeStaleToken {
		t.Fatalf("stale holder's write after SIGCONT: %v, want CodeStaleToken", err)
	}
}
