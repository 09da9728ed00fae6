package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ChannelAddr is one channel of a replica: its ID and the host:port
// clients dial.
type ChannelAddr struct {
	ID   uint16
	Addr string
}

// Replica is one `guildhall serve` process of a Cluster. Its configuration
// (ID, ports, channels) is fixed: Start after Kill9 or Term runs the same
// configuration again. Its methods are safe for concurrent use.
type Replica struct {
	c        *Cluster
	index    int
	id       string
	httpAddr string
	cfgPath  string
	logPath  string
	channels []ChannelAddr

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited and its output is flushed
}

// ID returns the replica ID (also its key in servers rows and presence).
func (r *Replica) ID() string { return r.id }

// HTTPBase returns the base URL of the replica's HTTP API, e.g.
// "http://127.0.0.1:41234".
func (r *Replica) HTTPBase() string { return "http://" + r.httpAddr }

// Channels returns the replica's channels in configuration order.
func (r *Replica) Channels() []ChannelAddr { return append([]ChannelAddr(nil), r.channels...) }

// ConfigPath returns the path of the replica's configuration file.
func (r *Replica) ConfigPath() string { return r.cfgPath }

// LogPath returns the path of the replica's log file (appended to across
// restarts).
func (r *Replica) LogPath() string { return r.logPath }

// PID returns the process ID, or 0 when the replica is not running.
func (r *Replica) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Exited returns a channel closed when the current process exits, or nil
// when the replica is not running.
func (r *Replica) Exited() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	return r.done
}

// Start runs the replica again with the same configuration and returns once
// /readyz answers 200 (bounded by ReadyTimeout and ctx).
func (r *Replica) Start(ctx context.Context) error {
	r.c.mu.Lock()
	stopped := r.c.stopped
	r.c.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	if err := r.spawn(); err != nil {
		return err
	}
	return r.waitReady(ctx)
}

// spawn starts the process in its own process group, its output appended
// to the log file (and copied, prefixed, to Options.Stdout).
func (r *Replica) spawn() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return fmt.Errorf("%w: %s", ErrRunning, r.id)
	}
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("localcluster: log file: %w", err)
	}
	cmd := exec.Command(r.c.opts.Binary, "serve", "-config", r.cfgPath)
	cmd.Dir = r.c.opts.Dir
	cmd.Env = r.c.childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out io.Writer = logf
	if r.c.opts.Stdout != nil {
		out = io.MultiWriter(logf, &prefixWriter{w: r.c.opts.Stdout, prefix: "[" + r.id + "] "})
	}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("localcluster: start %s: %w", r.id, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	r.cmd, r.done = cmd, done
	r.c.opts.Logger.Info("localcluster: replica started", "replica", r.id, "pid", cmd.Process.Pid)
	return nil
}

// waitReady polls /readyz until it answers 200, the process exits, ctx
// ends or ReadyTimeout passes.
func (r *Replica) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.c.opts.ReadyTimeout)
	defer cancel()
	exited := r.Exited()
	if exited == nil {
		return fmt.Errorf("%w: %s", ErrNotRunning, r.id)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.HTTPBase()+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("localcluster: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			r.reap()
			return fmt.Errorf("localcluster: replica %s exited before it was ready; log tail:\n%s", r.id, r.logTail())
		case <-ctx.Done():
			return fmt.Errorf("localcluster: replica %s not ready: %w; log tail:\n%s", r.id, ctx.Err(), r.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// reap forgets an exited process so Start may run it again.
func (r *Replica) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	select {
	case <-r.done:
		r.cmd, r.done = nil, nil
	default:
	}
}

func (r *Replica) current() (*exec.Cmd, chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotRunning, r.id)
	}
	return r.cmd, r.done, nil
}

// Kill9 sends SIGKILL to the replica's process group and waits for the
// process to exit. Nothing is drained or saved: this is a crash.
func (r *Replica) Kill9() error {
	cmd, done, err := r.current()
	if err != nil {
		return err
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("localcluster: kill -9 %s: %w", r.id, err)
	}
	<-done // SIGKILL cannot be caught: the wait is short
	r.reap()
	return nil
}

// Term sends SIGTERM to the replica (a graceful drain) and waits for it to
// exit. Past TermTimeout the process group is killed and an error says so.
// A non-zero exit status after SIGTERM is reported as an error too.
func (r *Replica) Term() error {
	cmd, done, err := r.current()
	if err != nil {
		return err
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("localcluster: SIGTERM %s: %w", r.id, err)
	}
	// A stopped process (SIGSTOP) must continue to handle SIGTERM.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
	t := time.NewTimer(r.c.opts.TermTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		r.reap()
		return fmt.Errorf("localcluster: replica %s did not exit within %v of SIGTERM; killed", r.id, r.c.opts.TermTimeout)
	}
	r.reap()
	if st := cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("localcluster: replica %s exited after SIGTERM with %v", r.id, st)
	}
	return nil
}

// Pause sends SIGSTOP to the replica's process group: it stops running
// (no lease or lock refresh) but keeps its sockets. Resume continues it.
func (r *Replica) Pause() error {
	cmd, _, err := r.current()
	if err != nil {
		return err
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("localcluster: SIGSTOP %s: %w", r.id, err)
	}
	return nil
}

// Resume sends SIGCONT to the replica's process group.
func (r *Replica) Resume() error {
	cmd, _, err := r.current()
	if err != nil {
		return err
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("localcluster: SIGCONT %s: %w", r.id, err)
	}
	return nil
}

// childEnv is this process's environment without the variables that
// override a replica's configuration file (DATABASE_URL, REDIS_URL,
// GUILDHALL_*): the file written by the cluster is authoritative. Then
// Options.Env.
func (c *Cluster) childEnv() []string {
	return append(inheritedEnv(), c.opts.Env...)
}

// inheritedEnv is this process's environment without DATABASE_URL,
// REDIS_URL and GUILDHALL_*.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "GUILDHALL_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// logTail returns the end of the replica's log file.
func (r *Replica) logTail() string {
	b, err := os.ReadFile(r.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tailBytes(b, 4096)
}

// prefixWriter writes each line to w with prefix. It is used by one
// process's output copier at a time per replica; the mutex guards partial
// lines against concurrent stdout/stderr copies.
type prefixWriter struct {
	w      io.Writer
	prefix string

	mu      sync.Mutex
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	data := append(p.partial, b...)
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		out.WriteString(p.prefix)
		out.Write(data[:i+1])
		data = data[i+1:]
	}
	p.partial = append(p.partial[:0:0], data...)
	if out.Len() > 0 {
		if _, err := p.w.Write(out.Bytes()); err != nil {
			return n, err
		}
	}
	return n, nil
}
