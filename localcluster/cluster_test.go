package localcluster

import (
	"bytes"
	"context"
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
	c, err := Start(ctx, Options{Replicas: 2, ChannelsPerReplica: 2, Binary: bin, Dir: t.TempDir(), Stdout: &out})
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
