// Command ghload is guildhall's load generator. It signs bots in through the
// HTTP sign-in API of each replica, connects them to channels over the
// binary protocol, runs a scenario (town, world, whisper, login, semaphore,
// idle, or all of them), prints a progress line per second on stderr and a
// table at the end, and optionally writes every figure as JSON.
//
// It exits 1 on a setup error, and 2 when a run lost or duplicated a message
// or saw two holders of one semaphore (a LOSS, DUPLICATE or VIOLATION line is
// printed). Targets must be loopback unless -allow-remote is given.
//
// See docs/performance.md for how to run each scenario.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/guildhall/guildhall/loadgen"
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
