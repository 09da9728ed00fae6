// Command ghload is guildhall's load generator. It signs bots in through the
// HTTP sign-in API of each replica, connects them to channels over the
// binary protocol, runs a scenario (town, world, whisper, login, semaphore,
// idle, or all of them), prints a progress line per second on stderr and a
// table at the end, and optionally writes every figure as JSON.
//
// With -spawn N it first starts a local cluster (localcluster: a
// redis-server, a throwaway PostgreSQL and N `guildhall serve` replicas from
// -binary, or from a binary it builds), runs against it, and stops
// everything it started before exiting. -pprof also enables the replicas'
// /debug/pprof/ endpoint (GUILDHALL_PPROF=1), and their base URLs are
// printed so a profile can be taken while a scenario runs.
//
// It exits 1 on a setup error, and 2 when a run lost or duplicated a message
// or saw two holders of one semaphore (a LOSS, DUPLICATE or VIOLATION line is
// printed). Targets must be loopback unless -allow-remote is given.
//
// See docs/performance.md for how to run each scenario.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/loadgen"
	"github.com/guildhall/guildhall/localcluster"
	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/store"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	d := loadgen.DefaultConfig()
	fs := flag.NewFlagSet("ghload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpBases := fs.String("http", strings.Join(d.HTTP, ","), "sign-in base URLs, comma-separated, one per replica")
	cfg := d
	fs.StringVar(&cfg.Scenario, "scenario", d.Scenario, "town|world|whisper|login|semaphore|idle|all")
	fs.DurationVar(&cfg.Duration, "duration", d.Duration, "measured time per scenario")
	fs.DurationVar(&cfg.Warmup, "warmup", d.Warmup, "unmeasured time before each scenario's measurement")
	fs.DurationVar(&cfg.Drain, "drain", d.Drain, "longest wait for in-flight deliveries after sending stops")
	jsonOut := fs.String("json", "", "write every figure as JSON to this file")
	fs.StringVar(&cfg.AccountsPrefix, "accounts-prefix", d.AccountsPrefix, "bot accounts are <prefix>_<n>; reused across runs")
	fs.StringVar(&cfg.Password, "password", d.Password, "password of the bot accounts")
	fs.StringVar(&cfg.RunID, "run-id", "", "tag for stage and semaphore names (default: from the clock)")
	fs.IntVar(&cfg.Sessions, "sessions", d.Sessions, "bots per replica")
	fs.IntVar(&cfg.StageSize, "stage-size", d.StageSize, "town: bots per stage")
	fs.Float64Var(&cfg.TownRate, "town-rate", d.TownRate, "town: stage casts per second per session")
	fs.Float64Var(&cfg.WorldRate, "world-rate", d.WorldRate, "world: total world casts per second")
	fs.Float64Var(&cfg.WhisperRate, "whisper-rate", d.WhisperRate, "whisper: total targeted casts per second")
	fs.Float64Var(&cfg.LoginRate, "login-rate", d.LoginRate, "login: cycles per second")
	fs.IntVar(&cfg.LoginConcurrency, "login-concurrency", d.LoginConcurrency, "login: cycles in flight at most")
	fs.IntVar(&cfg.SemaNames, "sema-names", d.SemaNames, "semaphore: number of contended global semaphores")
	fs.DurationVar(&cfg.SemaHold, "sema-hold", d.SemaHold, "semaphore: hold time")
	fs.IntVar(&cfg.PayloadSize, "payload", d.PayloadSize, "cast payload bytes")
	fs.IntVar(&cfg.Senders, "senders", d.Senders, "sending goroutines")
	fs.IntVar(&cfg.SignupConcurrency, "signup-concurrency", d.SignupConcurrency, "concurrent account sign-ups")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", d.ConnectConcurrency, "concurrent sign-ins and connects")
	fs.DurationVar(&cfg.Keepalive, "keepalive", d.Keepalive, "ping interval of idle bots")
	pids := fs.String("server-pid", "", "idle: server PIDs (comma-separated) whose VmRSS to read; default /metrics")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "permit non-loopback targets (never needed locally)")
	spawn := fs.Int("spawn", 0, "start a local cluster of N replicas (redis-server, PostgreSQL, guildhall serve) and run against it; -http is ignored")
	binary := fs.String("binary", "", "with -spawn: the guildhall binary (default: go build ./cmd/guildhall)")
	channels := fs.Int("channels", 1, "with -spawn: channels per replica")
	maxPlayers := fs.Int("max-players", 0, "with -spawn: max_players of every channel (default: enough for -sessions, at least 100)")
	coalesce := fs.Duration("write-coalesce", 0, "with -spawn: the replicas' session.write_coalesce (0: off)")
	pprofOn := fs.Bool("pprof", false, "with -spawn: enable /debug/pprof/ on the replicas (GUILDHALL_PPROF=1)")
	keep := fs.String("spawn-dir", "", "with -spawn: directory for configs and replica logs (default: a temporary directory, removed at exit)")
	cpuProfile := fs.String("cpuprofile", "", "write ghload's own CPU profile to this file (to see what the bots cost)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	verbose := fs.Bool("v", false, "debug logs on stderr")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ghload: unexpected argument %q\n", fs.Arg(0))
		return 1
	}
	cfg.HTTP = nil
	for _, h := range strings.Split(*httpBases, ",") {
		if h = strings.TrimRight(strings.TrimSpace(h), "/"); h != "" {
			cfg.HTTP = append(cfg.HTTP, h)
		}
	}
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintf(stderr, "ghload: -server-pid %q: not a number\n", p)
			return 1
		}
		cfg.ServerPIDs = append(cfg.ServerPIDs, n)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if !*quiet {
		cfg.Progress = stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	raiseNoFile(cfg.Logger)
	if *spawn < 0 || *spawn > 16 {
		fmt.Fprintf(stderr, "ghload: -spawn %d outside [0, 16]\n", *spawn)
		return 1
	}
	if *spawn > 0 {
		mp := *maxPlayers
		if mp == 0 {
			mp = max(100, (cfg.Sessions+*channels-1)/max(1, *channels)+10)
		}
		cl, cleanup, err := startCluster(ctx, spawnOptions{
			replicas: *spawn, channels: *channels, binary: *binary, dir: *keep, pprof: *pprofOn, maxPlayers: mp,
			writeCoalesce: *coalesce,
		}, cfg.Logger, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "ghload: -spawn: %v\n", err)
			return 1
		}
		defer cleanup()
		cfg.HTTP, cfg.ServerPIDs = nil, nil
		for i := 0; i < cl.Replicas(); i++ {
			r := cl.Replica(i)
			cfg.HTTP = append(cfg.HTTP, r.HTTPBase())
			cfg.ServerPIDs = append(cfg.ServerPIDs, r.PID())
			fmt.Fprintf(stderr, "ghload: replica %s pid %d %s log %s\n", r.ID(), r.PID(), r.HTTPBase(), r.LogPath())
		}
		if err := createAccounts(ctx, cl.DatabaseURL(), cfg.AccountsPrefix, cfg.Password, cfg.Sessions*cl.Replicas(), stderr); err != nil {
			fmt.Fprintf(stderr, "ghload: -spawn: %v\n", err)
			return 1
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "ghload: -cpuprofile: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "ghload: -cpuprofile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := loadgen.Run(ctx, cfg)
	if len(rep.Scenarios) > 0 {
		if werr := rep.WriteTable(stdout); werr != nil {
			fmt.Fprintf(stderr, "ghload: %v\n", werr)
		}
	}
	if *jsonOut != "" && len(rep.Scenarios) > 0 {
		if werr := rep.WriteJSON(*jsonOut); werr != nil {
			fmt.Fprintf(stderr, "ghload: %v\n", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ghload: %v\n", err)
		return 1
	}
	if probs := rep.Problems(); len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(stdout, p)
			fmt.Fprintln(stderr, p)
		}
		return 2
	}
	return 0
}

// envPprof is app.EnvPprof (not imported: ghload does not link the server).
const envPprof = "GUILDHALL_PPROF"

// spawnOptions are the -spawn flags.
type spawnOptions struct {
	replicas, channels int
	binary, dir        string
	pprof              bool
	maxPlayers         int
	writeCoalesce      time.Duration
}

// startCluster builds the binary if needed and starts a local cluster. The
// returned cleanup stops every process the cluster started and removes the
// temporary directory (if it created one).
func startCluster(ctx context.Context, o spawnOptions, log *slog.Logger, stderr io.Writer) (*localcluster.Cluster, func(), error) {
	dir := o.dir
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "ghload-spawn-")
		if err != nil {
			return nil, nil, fmt.Errorf("temporary directory: %w", err)
		}
		dir = d
		cleanups = append(cleanups, func() { _ = os.RemoveAll(d) })
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("spawn dir: %w", err)
	}
	bin := o.binary
	if bin == "" {
		fmt.Fprintln(stderr, "ghload: building ./cmd/guildhall")
		bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		b, err := localcluster.BuildBinary(bctx, dir)
		cancel()
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		bin = b
	} else if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	var env []string
	if o.pprof {
		env = append(env, envPprof+"=1")
	}
	var configure func(*config.Config)
	if o.writeCoalesce != 0 {
		// Only when asked: a binary older than the field refuses it.
		configure = func(c *config.Config) { c.Session.WriteCoalesce = config.Duration(o.writeCoalesce) }
	}
	fmt.Fprintf(stderr, "ghload: starting %d replicas (redis-server, PostgreSQL) in %s\n", o.replicas, dir)
	cl, err := localcluster.Start(ctx, localcluster.Options{
		Replicas:           o.replicas,
		ChannelsPerReplica: o.channels,
		Binary:             bin,
		Dir:                dir,
		LogLevel:           "warn",
		Logger:             log,
		MaxPlayers:         o.maxPlayers,
		Env:                env,
		Configure:          configure,
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	cleanups = append(cleanups, func() {
		fmt.Fprintln(stderr, "ghload: stopping the cluster")
		if err := cl.Stop(); err != nil {
			fmt.Fprintf(stderr, "ghload: stop cluster: %v\n", err)
		}
	})
	return cl, cleanup, nil
}

// raiseNoFile raises the soft limit of open files to the hard limit: 10,000
// sessions need 10,000 sockets on each side. Spawned replicas inherit it.
func raiseNoFile(log *slog.Logger) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			log.Warn("cannot raise the open-file limit; run `ulimit -n 65536` first", "err", err)
		}
	}
}

// createAccounts creates the bot accounts 0..n-1 directly in the spawned
// cluster's database, hashed at bcrypt.MinCost: the HTTP sign-up hashes at
// bcrypt.DefaultCost, which would make every sign-in cost tens of
// milliseconds of the two cores the measurement shares. Existing accounts
// are kept.
func createAccounts(ctx context.Context, dbURL, prefix, password string, n int, stderr io.Writer) error {
	st, err := pgstore.Open(ctx, dbURL, pgstore.Options{MaxConns: 8, BcryptCost: bcrypt.MinCost})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	start := time.Now()
	next := make(chan int)
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, _, err := st.CreateAccount(ctx, loadgen.AccountName(prefix, i), password, loadgen.CharacterName(prefix, i))
				if err != nil && !errors.Is(err, store.ErrExists) {
					errc <- fmt.Errorf("create account %d: %w", i, err)
					return
				}
			}
		}()
	}
	var first error
loop:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case first = <-errc:
			break loop
		case <-ctx.Done():
			first = ctx.Err()
			break loop
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		select {
		case first = <-errc:
		default:
		}
	}
	if first != nil {
		return first
	}
	fmt.Fprintf(stderr, "ghload: %d accounts created in %v\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}
