package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/app"
)

// startDev starts the server `make run` serves (app.StartDev, the code of
// `guildhall dev`: one replica, channels 1 and 2 with the town stage
// "town", the in-process registry), on free loopback ports and this
// package's PostgreSQL instead of a second throwaway one. It returns the
// sign-in API base URL and stops the server when t ends.
func startDev(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout)
	defer cancel()
	d, err := app.StartDev(ctx, app.DevOptions{
		Replicas:    1,
		DatabaseURL: pg.URL(t),
		HTTPAddr:    "127.0.0.1:0",
		ChannelPort: 0,
		Logger:      testLogger(),
		LogLevel:    "warn",
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout)
		defer cancel()
		require.NoError(t, d.Stop(ctx))
	})
	urls := d.HTTPURLs()
	require.Len(t, urls, 1)
	addrs := d.ChannelAddrs()
	require.Contains(t, addrs, uint16(1))
	require.Contains(t, addrs, uint16(2))
	return urls[0]
}

// goTool returns the go command: the first on PATH, else the one the
// Makefile expects at /usr/local/go/bin.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := "/usr/local/go/bin/go"
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("no go command on PATH or at %s: %v", p, err)
	}
	return p
}

// buildBinary builds the main package pkg (an import path of this module)
// into t.TempDir and returns the binary's path.
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 3*processGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(t), "build", "-o", out, pkg)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s:\n%s", pkg, b)
	return out
}

// proc is a child process whose stdout lines are recorded as they come.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr bytes.Buffer // written by exec's copier until Wait returns

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
	exited  chan struct{} // closed after Wait returned; err is set
	err     error
}

// startProc starts bin with args and stdin, bounded by processGuard; it is
// killed by PID if still running when t ends (or when the guard expires).
func startProc(t *testing.T, name, bin, stdin string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), processGuard)
	p := &proc{name: name, changed: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Stdin = strings.NewReader(stdin)
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start(), "start %s", name)
	go func() {
		defer close(p.exited)
		defer cancel()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		err := p.cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill() // by PID; the process is ours
			<-p.exited
			t.Logf("%s killed; output:\n%s\nstderr:\n%s", name, p.output(), p.stderrText())
		}
	})
	return p
}

// output returns the stdout lines so far, one per line.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *proc) stderrText() string {
	select {
	case <-p.exited:
		return p.stderr.String()
	default:
		return "(still running)"
	}
}

// waitLine waits for a stdout line containing substr.
func (p *proc) waitLine(t *testing.T, substr string) {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.Contains(l, substr) {
				p.mu.Unlock()
				return
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.exited:
			if !strings.Contains(p.output(), substr) {
				t.Fatalf("%s exited (%v) without printing %q; output:\n%s\nstderr:\n%s", p.name, p.err, substr, p.output(), p.stderrText())
			}
			return
		case <-timer.C:
			t.Fatalf("%s printed no %q within %s; output:\n%s", p.name, substr, guard, p.output())
		}
	}
}

// wait waits for the process to exit and requires exit status 0.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(processGuard + 10*time.Second):
		t.Fatalf("%s did not exit; output:\n%s", p.name, p.output())
	}
	require.NoError(t, p.err, "%s exit; output:\n%s\nstderr:\n%s", p.name, p.output(), p.stderrText())
}

// requireInOrder requires lines containing each of want, in that order.
func (p *proc) requireInOrder(t *testing.T, want ...string) {
	t.Helper()
	p.mu.Lock()
	lines := append([]string(nil), p.lines...)
	p.mu.Unlock()
	i := 0
	for _, w := range want {
		for i < len(lines) && !strings.Contains(lines[i], w) {
			i++
		}
		if i == len(lines) {
			t.Fatalf("%s: no line containing %q after the previous expected lines (want in order %q); output:\n%s", p.name, w, want, strings.Join(lines, "\n"))
		}
		i++
	}
}

// requireLine requires a line containing substr, anywhere.
func (p *proc) requireLine(t *testing.T, substr string) {
	t.Helper()
	require.Contains(t, p.output(), substr, "%s output", p.name)
}
