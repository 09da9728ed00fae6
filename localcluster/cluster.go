// Package localcluster runs a guildhall cluster on this machine as real
// processes: one redis-server, one PostgreSQL, and several `guildhall serve`
// replicas sharing them, each in its own process group with its own
// configuration file and log file. It exists for end-to-end tests and for
// load tests that must cross process boundaries (kill -9, SIGTERM, SIGSTOP,
// Redis restarts).
//
// Everything listens on 127.0.0.1. Every wait is bounded. Stop ends every
// process the cluster started, by PID, and is idempotent; the caller must
// call it (typically in t.Cleanup or a defer).
//
// The package keeps no package-level state: several clusters may run in one
// process, each with its own key prefix in Redis.
package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/pgtemp"
	"github.com/guildhall/guildhall/redistest"
)

// Defaults of Options.
const (
	DefaultReplicas           = 3
	DefaultChannelsPerReplica = 1
	DefaultPresenceTTL        = 3 * time.Second
	DefaultLeaseTTL           = 3 * time.Second
	DefaultLockTTL            = 3 * time.Second
	// DefaultIdleTimeout is longer than the production default so test
	// clients that wait on other players are not timed out.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultReadyTimeout bounds the wait for one replica's /readyz.
	DefaultReadyTimeout = 60 * time.Second
	// DefaultTermTimeout bounds the wait for a replica to exit after
	// SIGTERM (the app drains for up to 15s, then stops within 60s).
	DefaultTermTimeout = 90 * time.Second
	// MigrateTimeout bounds `guildhall migrate`.
	MigrateTimeout = 60 * time.Second
)

// Sentinel errors.
var (
	// ErrBadOptions is returned (wrapped) by Start for invalid options.
	ErrBadOptions = errors.New("localcluster: invalid options")
	// ErrNotRunning is returned (wrapped) by Replica methods that need a
	// running process when the replica is stopped.
	ErrNotRunning = errors.New("localcluster: replica not running")
	// ErrRunning is returned (wrapped) by Replica.Start when the replica is
	// already running.
	ErrRunning = errors.New("localcluster: replica already running")
	// ErrStopped is returned (wrapped) by Cluster methods after Stop.
	ErrStopped = errors.New("localcluster: cluster stopped")
	// ErrNoRedis is returned (wrapped) by RedisRestart when the cluster
	// uses a Redis it did not start.
	ErrNoRedis = errors.New("localcluster: Redis was not started by this cluster")
)

// Options configure Start. Zero values take the defaults above.
type Options struct {
	// Replicas is the number of `guildhall serve` processes (default 3).
	Replicas int
	// ChannelsPerReplica is the number of channels each replica runs
	// (default 1). Replica i (0-based) runs channel IDs
	// i*ChannelsPerReplica+1 .. (i+1)*ChannelsPerReplica, each with the town
	// stage "town".
	ChannelsPerReplica int
	// Binary is the path of a built guildhall binary (see BuildBinary).
	// Required.
	Binary string
	// Dir holds the configuration files, the logs and the Redis working
	// directory. Required; it must exist.
	Dir string
	// RedisAddr is the host:port of a Redis to use; empty starts a
	// redis-server (on 127.0.0.1, no persistence) owned by the cluster.
	RedisAddr string
	// DatabaseURL is the PostgreSQL to use; empty starts a throwaway one
	// with pgtemp, owned by the cluster.
	DatabaseURL string
	// PresenceTTL, LeaseTTL and LockTTL go to every replica's redis
	// section (defaults 3s each).
	PresenceTTL, LeaseTTL, LockTTL time.Duration
	// IdleTimeout is the session idle timeout (default 5m).
	IdleTimeout time.Duration
	// Prefix is the Redis cluster prefix; empty picks a random one, so
	// clusters sharing a Redis do not see each other.
	Prefix string
	// LogLevel is the replicas' log level (default "info").
	LogLevel string
	// ReadyTimeout bounds the wait for each replica's /readyz (default 60s).
	ReadyTimeout time.Duration
	// TermTimeout bounds the wait for a replica to exit after SIGTERM
	// (default 90s); past it the process group is killed.
	TermTimeout time.Duration
	// Stdout, when non-nil, also receives every replica's output, each
	// line prefixed with "[<replica id>] ". The per-replica log files in
	// Dir always receive it.
	Stdout io.Writer
	// Logger receives the harness's own events; nil discards them.
	Logger *slog.Logger
	// MaxPlayers is the capacity (max_players) of every channel; 0 keeps
	// the configuration default (config.DefaultMaxPlayers). At most
	// config.MaxMaxPlayers.
	MaxPlayers int
	// Env is extra environment for the replica processes (and `guildhall
	// migrate`), each entry "KEY=value", e.g. "GUILDHALL_PPROF=1". It is
	// added after the inherited environment, from which DATABASE_URL,
	// REDIS_URL and GUILDHALL_* are removed; an entry without "=" is
	// rejected with ErrBadOptions. Variables that override the
	// configuration file (see config's environment overrides) override it
	// here too.
	Env []string
	// Configure, when non-nil, may change each replica's configuration
	// after the cluster filled it in and before it is validated and
	// written (e.g. session.write_coalesce). It runs once per replica, in
	// replica order, on a configuration of its own; an invalid result makes
	// Start fail.
	Configure func(*config.Config)
}

func (o Options) withDefaults() (Options, error) {
	if o.Binary == "" {
		return o, fmt.Errorf("%w: Binary is required", ErrBadOptions)
	}
	if o.Dir == "" {
		return o, fmt.Errorf("%w: Dir is required", ErrBadOptions)
	}
	if o.Replicas < 0 || o.ChannelsPerReplica < 0 || o.PresenceTTL < 0 || o.LeaseTTL < 0 ||
		o.LockTTL < 0 || o.IdleTimeout < 0 || o.ReadyTimeout < 0 || o.TermTimeout < 0 {
		return o, fmt.Errorf("%w: negative count or duration", ErrBadOptions)
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	if o.ChannelsPerReplica == 0 {
		o.ChannelsPerReplica = DefaultChannelsPerReplica
	}
	if o.MaxPlayers < 0 || o.MaxPlayers > config.MaxMaxPlayers {
		return o, fmt.Errorf("%w: MaxPlayers %d outside 0..%d", ErrBadOptions, o.MaxPlayers, config.MaxMaxPlayers)
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return o, fmt.Errorf("%w: Env entry %q is not KEY=value", ErrBadOptions, kv)
		}
	}
	o.Env = append([]string(nil), o.Env...)
	if o.Replicas*o.ChannelsPerReplica > 65535 {
		return o, fmt.Errorf("%w: %d replicas x %d channels exceeds 65535 channel IDs", ErrBadOptions, o.Replicas, o.ChannelsPerReplica)
	}
	if o.PresenceTTL == 0 {
		o.PresenceTTL = DefaultPresenceTTL
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.LockTTL == 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.TermTimeout == 0 {
		o.TermTimeout = DefaultTermTimeout
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.Prefix == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return o, fmt.Errorf("localcluster: random prefix: %w", err)
		}
		o.Prefix = "lc" + hex.EncodeToString(b[:])
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Cluster is a running local cluster. Its methods are safe for concurrent
// use.
type Cluster struct {
	opts     Options
	redis    *redistest.Proc // nil when RedisAddr was given
	redisAdr string
	pg       *pgtemp.Server // nil when DatabaseURL was given
	dbURL    string
	replicas []*Replica

	mu      sync.Mutex
	stopped bool
}

// Start starts (or uses) Redis and PostgreSQL, runs `guildhall migrate`
// once, writes one configuration per replica and starts every replica,
// returning once each answers /readyz with 200. ctx bounds the start only.
// On error everything already started is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(opts.Binary); err != nil || st.IsDir() {
		return nil, fmt.Errorf("%w: Binary %q is not a file", ErrBadOptions, opts.Binary)
	}
	if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: Dir %q is not a directory", ErrBadOptions, opts.Dir)
	}
	c := &Cluster{opts: opts, redisAdr: opts.RedisAddr, dbURL: opts.DatabaseURL}
	ok := false
	defer func() {
		if !ok {
			_ = c.Stop()
		}
	}()

	if c.redisAdr == "" {
		rdir := filepath.Join(opts.Dir, "redis")
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return nil, fmt.Errorf("localcluster: %w", err)
		}
		p, err := redistest.StartServer(ctx, rdir)
		if err != nil {
			return nil, fmt.Errorf("localcluster: start redis-server: %w", err)
		}
		c.redis, c.redisAdr = p, p.Addr()
		opts.Logger.Info("localcluster: redis-server started", "addr", c.redisAdr)
	}
	if c.dbURL == "" {
		s, err := pgtemp.Start(ctx, pgtemp.Options{Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("localcluster: start PostgreSQL: %w", err)
		}
		c.pg = s
		c.dbURL, err = s.CreateDatabase(ctx, "guildhall")
		if err != nil {
			return nil, fmt.Errorf("localcluster: create database: %w", err)
		}
		opts.Logger.Info("localcluster: PostgreSQL started", "port", s.Port())
	}

	for i := 0; i < opts.Replicas; i++ {
		r, err := c.newReplica(i)
		if err != nil {
			return nil, err
		}
		c.replicas = append(c.replicas, r)
	}
	if err := c.migrate(ctx); err != nil {
		return nil, err
	}
	// Start the processes together, then wait for each: start-up (database
	// connection, registry) overlaps.
	for _, r := range c.replicas {
		if err := r.spawn(); err != nil {
			return nil, err
		}
	}
	for _, r := range c.replicas {
		if err := r.waitReady(ctx); err != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

// migrate runs `guildhall migrate -config <first replica's config>` with
// DATABASE_URL set as well.
func (c *Cluster) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, MigrateTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.opts.Binary, "migrate", "-config", c.replicas[0].cfgPath)
	cmd.Env = append(c.childEnv(), config.EnvDatabaseURL+"="+c.dbURL)
	cmd.Dir = c.opts.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("localcluster: guildhall migrate: %w\n%s", err, tailBytes(out, 2048))
	}
	return nil
}

// Replicas returns the number of replicas.
func (c *Cluster) Replicas() int { return len(c.replicas) }

// Replica returns replica i (0-based). It panics if i is out of range, like
// a slice index: the caller chose the count.
func (c *Cluster) Replica(i int) *Replica { return c.replicas[i] }

// RedisAddr returns the host:port of the cluster's Redis.
func (c *Cluster) RedisAddr() string { return c.redisAdr }

// DatabaseURL returns the URL of the cluster's PostgreSQL database.
func (c *Cluster) DatabaseURL() string { return c.dbURL }

// Prefix returns the Redis key prefix of the cluster.
func (c *Cluster) Prefix() string { return c.opts.Prefix }

// RedisStop stops the cluster's redis-server (its data is lost).
func (c *Cluster) RedisStop() error {
	if err := c.checkRedis(); err != nil {
		return err
	}
	if err := c.redis.Stop(); err != nil {
		return fmt.Errorf("localcluster: %w", err)
	}
	return nil
}

// RedisStart starts the cluster's redis-server again on the same port
// (empty dataset), returning once it answers PING or ctx ends.
func (c *Cluster) RedisStart(ctx context.Context) error {
	if err := c.checkRedis(); err != nil {
		return err
	}
	if err := c.redis.Start(ctx); err != nil {
		return fmt.Errorf("localcluster: %w", err)
	}
	return nil
}

// RedisRestart stops the cluster's redis-server (its data is lost) and
// starts a new one on the same port, returning once it answers PING.
func (c *Cluster) RedisRestart(ctx context.Context) error {
	if err := c.checkRedis(); err != nil {
		return err
	}
	if err := c.redis.Restart(ctx); err != nil {
		return fmt.Errorf("localcluster: %w", err)
	}
	return nil
}

func (c *Cluster) checkRedis() error {
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	if c.redis == nil {
		return ErrNoRedis
	}
	return nil
}

// Stop ends every process the cluster started: the replicas (SIGTERM, then
// SIGKILL of the process group after TermTimeout, all in parallel), then
// Redis and PostgreSQL. It is idempotent; later calls return nil.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()

	errs := make([]error, len(c.replicas))
	var wg sync.WaitGroup
	for i, r := range c.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Term(); err != nil && !errors.Is(err, ErrNotRunning) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	var all []error
	all = append(all, errs...)
	if c.redis != nil {
		all = append(all, c.redis.Stop())
	}
	if c.pg != nil {
		all = append(all, c.pg.Stop())
	}
	return errors.Join(all...)
}

// newReplica allocates replica i's ports and writes its configuration.
func (c *Cluster) newReplica(i int) (*Replica, error) {
	id := fmt.Sprintf("%s-r%d", c.opts.Prefix, i+1)
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &Replica{
		c:        c,
		index:    i,
		id:       id,
		httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		cfgPath:  filepath.Join(c.opts.Dir, id+".json"),
		logPath:  filepath.Join(c.opts.Dir, id+".log"),
	}
	cfg := config.Default()
	cfg.Replica = config.ReplicaConfig{ID: id, AdvertiseHost: "127.0.0.1", BindHost: "127.0.0.1"}
	cfg.HTTP.Addr = r.httpAddr
	cfg.Database.URL = c.dbURL
	cfg.Redis.URL = "redis://" + c.redisAdr
	cfg.Redis.Prefix = c.opts.Prefix
	cfg.Redis.PresenceTTL = config.Duration(c.opts.PresenceTTL)
	cfg.Redis.LeaseTTL = config.Duration(c.opts.LeaseTTL)
	cfg.Redis.LockTTL = config.Duration(c.opts.LockTTL)
	cfg.Session.IdleTimeout = config.Duration(c.opts.IdleTimeout)
	cfg.Log.Level = c.opts.LogLevel
	for k := 0; k < c.opts.ChannelsPerReplica; k++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		chID := i*c.opts.ChannelsPerReplica + k + 1
		cfg.Channels = append(cfg.Channels, config.ChannelConfig{
			ID:         chID,
			Name:       fmt.Sprintf("Channel %d", chID),
			Port:       port,
			MaxPlayers: c.opts.MaxPlayers,
			TownStages: []string{"town"},
		})
		r.channels = append(r.channels, ChannelAddr{
			ID:   uint16(chID),
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		})
	}
	if c.opts.Configure != nil {
		c.opts.Configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("localcluster: replica %s config: %w", id, err)
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("localcluster: encode config: %w", err)
	}
	if err := os.WriteFile(r.cfgPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("localcluster: write config: %w", err)
	}
	return r, nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localcluster: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// BuildBinary runs `go build -o dir/guildhall ./cmd/guildhall` from the
// module root (found by walking up from the working directory to go.mod)
// and returns the binary's path. ctx bounds the build.
func BuildBinary(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "guildhall")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/guildhall")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("localcluster: go build ./cmd/guildhall: %w\n%s", err, tailBytes(b, 4096))
	}
	return out, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("localcluster: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("localcluster: go.mod not found above the working directory")
		}
		dir = parent
	}
}
