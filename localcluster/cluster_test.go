package localcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// needBackends fails in CI and skips elsewhere when redis-server or the
// PostgreSQL server binaries are missing.
func needBackends(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing = append(missing, "redis-server")
	}
	if _, err := exec.LookPath("initdb"); err != nil && os.Getenv("PG_BIN") == "" {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
			missing = append(missing, "PostgreSQL (initdb, postgres)")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, ", ") + "; install with: apt-get install -y redis-server postgresql"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestOptionsValidated(t *testing.T) {
	_, err := Start(context.Background(), Options{})
	if !errors.Is(err, ErrBadOptions) {
		t.Fatalf("Start with no Binary: %v, want ErrBadOptions", err)
	}
	_, err = Start(context.Background(), Options{Binary: "/nonexistent/guildhall", Dir: t.TempDir()})
	if !errors.Is(err, ErrBadOptions) {
		t.Fatalf("Start with missing binary: %v, want ErrBadOptions", err)
	}
}

func TestPrefixWriterPrefixesWholeLines(t *testing.T) {
	var buf bytes.Buffer
	p := &prefixWriter{w: &buf, prefix: "[r1] "}
	for _, s := range []string{"hel", "lo\nwor", "ld\n", "x"} {
		if _, err := p.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := buf.String(), "[r1] hello\n[r1] world\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestClusterLifecycle starts two replicas, checks their HTTP and channel
// listeners, kills one with SIGKILL, restarts it, stops one with SIGTERM
// and stops the cluster twice.
func TestClusterLifecycle(t *testing.T) {
	needBackends(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := BuildBinary(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	c, err := Start(ctx, Options{
		Replicas: 2, ChannelsPerReplica: 2, Binary: bin, Dir: t.TempDir(), Stdout: &out,
		MaxPlayers: 7, Env: []string{"GUILDHALL_PPROF=1"},
		Configure: func(cfg *config.Config) { cfg.Session.WriteCoalesce = config.Duration(3 * time.Millisecond) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	}()
	seen := map[uint16]bool{}
	for i := 0; i < c.Replicas(); i++ {
		r := c.Replica(i)
		if r.PID() == 0 {
			t.Fatalf("replica %d has no PID", i)
		}
		mustStatus(t, r.HTTPBase()+"/readyz", http.StatusOK)
		for _, ch := range r.Channels() {
			if seen[ch.ID] {
				t.Fatalf("channel %d on two replicas", ch.ID)
			}
			seen[ch.ID] = true
			conn, err := net.DialTimeout("tcp", ch.Addr, 5*time.Second)
			if err != nil {
				t.Fatalf("channel %d at %s: %v", ch.ID, ch.Addr, err)
			}
			conn.Close()
		}
	}
	if len(seen) != 4 {
		t.Fatalf("channels %v, want 4 distinct", seen)
	}
	// Options.Env reached the replicas: pprof is served only with
	// GUILDHALL_PPROF=1.
	mustStatus(t, c.Replica(0).HTTPBase()+"/debug/pprof/", http.StatusOK)
	// Options.Configure changed every replica's configuration file.
	for i := 0; i < c.Replicas(); i++ {
		data, err := os.ReadFile(c.Replica(i).ConfigPath())
		if err != nil {
			t.Fatal(err)
		}
		var cfg config.Config
		if err := json.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Session.WriteCoalesce.D() != 3*time.Millisecond {
			t.Fatalf("replica %d write_coalesce %v, want 3ms", i, cfg.Session.WriteCoalesce.D())
		}
	}
	// Options.MaxPlayers is every channel's capacity.
	chans := channelList(t, c.Replica(0).HTTPBase())
	if len(chans) != 4 {
		t.Fatalf("channel list %+v, want 4 channels", chans)
	}
	for _, ch := range chans {
		if ch.MaxPlayers != 7 {
			t.Fatalf("channel %d max_players %d, want 7", ch.ID, ch.MaxPlayers)
		}
	}

	r := c.Replica(1)
	if err := r.Kill9(); err != nil {
		t.Fatal(err)
	}
	if r.PID() != 0 {
		t.Fatal("PID after Kill9 should be 0")
	}
	if err := r.Kill9(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Kill9 of a stopped replica: %v, want ErrNotRunning", err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); !errors.Is(err, ErrRunning) {
		t.Fatalf("Start of a running replica: %v, want ErrRunning", err)
	}
	mustStatus(t, r.HTTPBase()+"/readyz", http.StatusOK)
	if err := r.Term(); err != nil {
		t.Fatalf("Term: %v", err)
	}
	if _, err := http.Get(r.HTTPBase() + "/readyz"); err == nil {
		t.Fatal("HTTP still answering after Term")
	}
	if !strings.Contains(out.String(), "["+c.Replica(0).ID()+"] ") {
		t.Fatalf("Stdout has no line prefixed with the replica ID; got %.500q", out.String())
	}
}

type listedChannel struct {
	ID         uint16 `json:"id"`
	MaxPlayers int    `json:"max_players"`
}

// channelList reads GET /v1/channels, waiting (bounded) until every
// replica's channels are listed.
func channelList(t *testing.T, base string) []listedChannel {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/channels")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Channels []listedChannel `json:"channels"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("decode channel list: %v", err)
		}
		if len(body.Channels) >= 4 || time.Now().After(deadline) {
			return body.Channels
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEnvAndMaxPlayersValidated(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Binary: bin, Dir: dir, MaxPlayers: -1},
		{Binary: bin, Dir: dir, MaxPlayers: 70000},
		{Binary: bin, Dir: dir, Env: []string{"NOEQUALS"}},
		{Binary: bin, Dir: dir, Env: []string{"=x"}},
	} {
		if _, err := Start(context.Background(), o); !errors.Is(err, ErrBadOptions) {
			t.Fatalf("Start(%+v): %v, want ErrBadOptions", o, err)
		}
	}
}

// A configuration made invalid by Options.Configure is refused before any
// replica starts.
func TestConfigureValidated(t *testing.T) {
	opts, err := Options{Binary: "unused", Dir: t.TempDir(), Configure: func(cfg *config.Config) {
		cfg.Session.WriteCoalesce = config.Duration(time.Hour)
	}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{opts: opts, dbURL: "postgres://127.0.0.1/x", redisAdr: "127.0.0.1:6379"}
	if _, err := c.newReplica(0); err == nil || !strings.Contains(err.Error(), "session.write_coalesce") {
		t.Fatalf("newReplica with an invalid write_coalesce: %v, want an error naming it", err)
	}
}

// The replicas' environment drops overrides inherited from this process
// and adds Options.Env after them.
func TestChildEnv(t *testing.T) {
	t.Setenv("GUILDHALL_REPLICA_ID", "inherited")
	t.Setenv("REDIS_URL", "redis://inherited")
	t.Setenv("LC_TEST_KEEP", "kept")
	c := &Cluster{opts: Options{Env: []string{"GUILDHALL_PPROF=1", "LC_TEST_KEEP=over"}}}
	env := c.childEnv()
	last := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		last[k] = v
	}
	if _, ok := last["GUILDHALL_REPLICA_ID"]; ok {
		t.Fatal("inherited GUILDHALL_REPLICA_ID passed to replicas")
	}
	if _, ok := last["REDIS_URL"]; ok {
		t.Fatal("inherited REDIS_URL passed to replicas")
	}
	if last["GUILDHALL_PPROF"] != "1" {
		t.Fatalf("Options.Env GUILDHALL_PPROF missing: %q", last["GUILDHALL_PPROF"])
	}
	if last["LC_TEST_KEEP"] != "over" {
		t.Fatalf("Options.Env does not come after the inherited environment: LC_TEST_KEEP=%q", last["LC_TEST_KEEP"])
	}
}

func mustStatus(t *testing.T, url string, want int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
