// Package multireplica holds the multi-replica end-to-end tests: three
// `guildhall serve` processes (built once in TestMain) sharing one real
// redis-server and one PostgreSQL, started by package localcluster, with
// real clients (package client) on every replica.
//
// TTLs used by every cluster here: presence 3s, lease 3s, lock 3s (so the
// sweeper runs every 1.5s). Every wait polls a condition with a generous
// bounded deadline; nothing asserts on elapsed time.
package multireplica

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/localcluster"
	"github.com/guildhall/guildhall/wire"
)

// TTLs of every test cluster (also stated in the package comment).
const (
	presenceTTL = 3 * time.Second
	leaseTTL    = 3 * time.Second
	lockTTL     = 3 * time.Second
	// waitLimit is the failure guard of every poll: far above the TTLs.
	waitLimit = 30 * time.Second
)

// testEnv is what TestMain prepares: the binary, or why the tests cannot
// run. It is set once in TestMain, before any test runs, and only read
// afterwards.
type testEnv struct {
	binary  string
	skipMsg string // non-empty: backends missing outside CI
}

func (e *testEnv) need(t *testing.T) {
	t.Helper()
	if e.skipMsg != "" {
		t.Skip(e.skipMsg)
	}
}

var env = &testEnv{} // written only by TestMain before m.Run

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var missing []string
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing = append(missing, "redis-server")
	}
	if _, err := exec.LookPath("initdb"); err != nil && os.Getenv("PG_BIN") == "" {
		if ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(ms) == 0 {
			missing = append(missing, "PostgreSQL server (initdb, postgres)")
		}
	}
	if len(missing) > 0 {
		msg := "multireplica e2e tests need " + strings.Join(missing, " and ") +
			"; install with: sudo apt-get install -y redis-server postgresql"
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "FAIL:", msg)
			return 1
		}
		env.skipMsg = msg
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "guildhall-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	env.binary, err = localcluster.BuildBinary(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}

// startCluster starts replicas x channelsPer replicas with the package TTLs
// and stops them in t.Cleanup. Replica logs go to a temp dir and are
// printed on failure.
func startCluster(t *testing.T, replicas, channelsPer int) *localcluster.Cluster {
	t.Helper()
	env.need(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := localcluster.Start(ctx, localcluster.Options{
		Replicas: replicas, ChannelsPerReplica: channelsPer,
		Binary: env.binary, Dir: dir,
		PresenceTTL: presenceTTL, LeaseTTL: leaseTTL, LockTTL: lockTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping cluster: %v", err)
		}
		if t.Failed() {
			for i := 0; i < c.Replicas(); i++ {
				b, _ := os.ReadFile(c.Replica(i).LogPath())
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("---- log of %s (tail) ----\n%s", c.Replica(i).ID(), b)
			}
		}
	})
	return c
}

// player is a signed-in character connected to one channel, with every
// push it receives recorded.
type player struct {
	name string
	id   uint32
	user string
	pass string
	conn *client.Conn

	mu     sync.Mutex
	events []wire.Message
	wake   chan struct{} // closed and replaced on every event and at the end
	ended  bool
	done   chan struct{} // closed when the recorder has exited
}

// uniqueName returns prefix followed by 8 random hex digits.
func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b[:])
}

// signUp creates an account with one character on replica r's HTTP API.
func signUp(t *testing.T, ctx context.Context, c *localcluster.Cluster, r int, name string) (user, pass string, id uint32) {
	t.Helper()
	user, pass = strings.ToLower(name), "pw-"+name+"-secret"
	_, id, err := client.SignUp(ctx, c.Replica(r).HTTPBase(), user, pass, name)
	if err != nil {
		t.Fatalf("sign up %s: %v", name, err)
	}
	return user, pass, id
}

// connect signs user in through replica r and dials its channel ch.
func connect(t *testing.T, ctx context.Context, c *localcluster.Cluster, r, ch int, user, pass string) *player {
	t.Helper()
	res, err := client.SignIn(ctx, c.Replica(r).HTTPBase(), user, pass)
	if err != nil {
		t.Fatalf("sign in %s on replica %d: %v", user, r, err)
	}
	conn, err := client.Dial(ctx, c.Replica(r).Channels()[ch].Addr, res.Token)
	if err != nil {
		t.Fatalf("dial %s on replica %d channel %d: %v", user, r, ch, err)
	}
	p := &player{name: res.Name, id: res.CharID, user: user, pass: pass, conn: conn,
		wake: make(chan struct{}), done: make(chan struct{})}
	go p.record()
	t.Cleanup(p.close)
	return p
}

// join signs up a new character and connects it to replica r, channel ch.
func join(t *testing.T, ctx context.Context, c *localcluster.Cluster, r, ch int, prefix string) *player {
	t.Helper()
	user, pass, _ := signUp(t, ctx, c, r, uniqueName(prefix))
	return connect(t, ctx, c, r, ch, user, pass)
}

func (p *player) record() {
	defer close(p.done)
	for m := range p.conn.Events() {
		p.mu.Lock()
		p.events = append(p.events, m)
		close(p.wake)
		p.wake = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.ended = true
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

func (p *player) close() {
	_ = p.conn.Close()
	<-p.done
}

// count returns how many recorded events satisfy pred.
func (p *player) count(pred func(wire.Message) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.events {
		if pred(m) {
			n++
		}
	}
	return n
}

// waitCount waits until at least n recorded events satisfy pred; it fails
// the test after waitLimit or if the connection's events end first.
func (p *player) waitCount(t *testing.T, what string, n int, pred func(wire.Message) bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		got := 0
		for _, m := range p.events {
			if pred(m) {
				got++
			}
		}
		wake, ended := p.wake, p.ended
		p.mu.Unlock()
		if got >= n {
			return
		}
		if ended {
			t.Fatalf("%s: connection ended (%v) with %d of %d %s", p.name, p.conn.Err(), got, n, what)
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("%s: %d of %d %s after %v", p.name, got, n, what, waitLimit)
		}
	}
}

// waitEnded waits until the server closed p's connection.
func (p *player) waitEnded(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		t.Fatalf("%s: connection still open after %v", p.name, waitLimit)
	}
}

func isCast(scope uint8, payload string) func(wire.Message) bool {
	return func(m wire.Message) bool {
		c, ok := m.(*wire.CastMsg)
		return ok && c.Scope == scope && string(c.Payload) == payload
	}
}

// eventually polls cond every 50ms until it returns nil, failing the test
// with cond's last error after limit. It returns how long it took.
func eventually(t *testing.T, limit time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverRows returns the channel IDs of replica's servers rows.
func serverRows(ctx context.Context, dbURL, replicaID string) ([]int, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT channel_id FROM servers WHERE replica_id = $1 ORDER BY channel_id", replicaID)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// lastStageOf returns the last_stage column of character charID.
func lastStageOf(ctx context.Context, dbURL string, charID uint32) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var stage string
	err = conn.QueryRow(ctx, "SELECT last_stage FROM characters WHERE id = $1", int64(charID)).Scan(&stage)
	return stage, err
}

// findOnline reports an error unless FindPlayer from p says charID is
// online on wantChannel (0: anywhere).
func findOnline(ctx context.Context, p *player, charID uint32, wantChannel uint16) error {
	info, err := p.conn.FindPlayer(ctx, charID, "")
	if err != nil {
		return err
	}
	if !info.Found {
		return fmt.Errorf("character %d not found", charID)
	}
	if wantChannel != 0 && info.Player.ChannelID != wantChannel {
		return fmt.Errorf("character %d on channel %d, want %d", charID, info.Player.ChannelID, wantChannel)
	}
	return nil
}

// wireErr returns err as a *wire.Error, or nil.
func wireErr(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	return nil
}
