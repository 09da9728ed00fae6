// Package redistest provides Redis backends for tests and development: an
// in-process miniredis, and a real redis-server process started on a free
// loopback port with persistence disabled.
//
// Tests use Miniredis for speed (and FastForward to make TTLs pass) and Server
// to run the same code against a real Redis. StartServer is the non-testing
// variant used by end-to-end harnesses and the development command.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// InstallHint is the command that installs redis-server on Debian/Ubuntu.
const InstallHint = "sudo apt-get install -y redis-server"

// ErrNoBinary is returned by StartServer when redis-server is not in PATH.
var ErrNoBinary = errors.New("redistest: redis-server not found in PATH (install with: " + InstallHint + ")")

// Miniredis starts an in-process miniredis and a client connected to it.
// Both are closed in t.Cleanup.
func Miniredis(t testing.TB) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	m := miniredis.RunT(t)
	return m, Client(t, m.Addr())
}

// Server starts a real redis-server for the test and stops it in t.Cleanup.
// When redis-server is not in PATH the test fails if the CI environment
// variable is set, and is skipped (saying how to install it) otherwise.
func Server(t testing.TB) *Proc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found in PATH; CI must install it: apt-get install -y redis-server")
		}
		t.Skipf("redis-server not found in PATH; install it to run this test (%s)", InstallHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := StartServer(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("redistest: stop redis-server: %v", err)
		}
	})
	return p
}

// Client returns a client for addr closed in t.Cleanup.
func Client(t testing.TB, addr string) redis.UniversalClient {
	t.Helper()
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Proc is a running redis-server process on 127.0.0.1. Its methods are safe
// for concurrent use.
type Proc struct {
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartServer starts redis-server (from PATH) on 127.0.0.1 and a free port,
// with no persistence (--save "" --appendonly no), working in dir, and
// returns once it accepts connections or ctx ends. The caller must Stop it.
func StartServer(ctx context.Context, dir string) (*Proc, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, ErrNoBinary
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Proc{dir: dir, port: port}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr returns the server's host:port.
func (p *Proc) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

func (p *Proc) start(ctx context.Context) error {
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(p.port),
		"--save", "",
		"--appendonly", "no",
		"--dir", p.dir,
		"--protected-mode", "no",
		"--loglevel", "warning",
	)
	cmd.Dir = p.dir
	logf, err := os.OpenFile(p.dir+"/redis.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("redistest: log file: %w", err)
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	if err := waitReady(ctx, p.Addr(), done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redistest: redis-server on %s: %w (log in %s/redis.log)", p.Addr(), err, p.dir)
	}
	return nil
}

// waitReady polls PING until the server answers, it exits, or ctx ends.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	for {
		if pingOnce(addr) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("process exited before accepting connections")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func pingOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// Stop kills the server and waits for it to exit. Stopping a stopped server
// is a no-op.
func (p *Proc) Stop() error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("redistest: kill redis-server: %w", err)
	}
	<-done
	return nil
}

// Restart stops the server (its data is lost: persistence is off) and starts
// a new one on the same port, returning once it accepts connections.
func (p *Proc) Restart(ctx context.Context) error {
	if err := p.Stop(); err != nil {
		return err
	}
	return p.Start(ctx)
}

// Start starts a stopped server again on the same port (empty dataset).
func (p *Proc) Start(ctx context.Context) error {
	p.mu.Lock()
	running := p.cmd != nil
	p.mu.Unlock()
	if running {
		return errors.New("redistest: redis-server already running")
	}
	var err error
	// The port was just released; retry briefly if the bind races.
	for attempt := 0; attempt < 5; attempt++ {
		if err = p.start(ctx); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
