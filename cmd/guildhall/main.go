// Command guildhall is the guildhall game channel server.
//
// Usage:
//
//	guildhall serve   [-config path]   run a replica until SIGINT/SIGTERM, then drain
//	guildhall migrate [-config path]   apply database migrations and exit
//	guildhall dev     [-replicas N]    a development cluster with no setup
//	guildhall version                  print the version
//
// Configuration is a JSON file (see config.example.json) plus environment
// overrides (DATABASE_URL, REDIS_URL, GUILDHALL_*); see the README.
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
	"runtime/debug"
	"syscall"

	"github.com/guildhall/guildhall/app"
	"github.com/guildhall/guildhall/config"
)

const usage = `usage: guildhall <command> [flags]

commands:
  serve     run a replica (-config path; default $GUILDHALL_CONFIG) until SIGINT/SIGTERM, then drain
  migrate   apply the database migrations (-config path, or DATABASE_URL) and exit
  dev       run a development cluster: two channels per replica and the sign-in API,
            on a throwaway PostgreSQL unless DATABASE_URL is set
  version   print the version

Run 'guildhall <command> -h' for the command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// run executes one command and returns the exit code: 0 success, 1 failure,
// 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr, env)
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr, env)
	case "dev":
		err = dev(ctx, args[1:], stdout, stderr, env)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "guildhall: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "guildhall:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "guildhall:", err)
		return 1
	}
}

// errUsage marks bad command-line usage (exit code 2).
var errUsage = errors.New("usage")

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("guildhall "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

func serve(ctx context.Context, args []string, stderr io.Writer, env func(string) (string, bool)) error {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "", "configuration file (default: $GUILDHALL_CONFIG; none: defaults and environment only)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		return err
	}
	return app.Run(ctx, cfg)
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs := newFlagSet("migrate", stderr)
	path := fs.String("config", "", "configuration file (default: $GUILDHALL_CONFIG; none: DATABASE_URL)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		return err
	}
	log, err := app.NewLogger(cfg)
	if err != nil {
		return err
	}
	if err := app.Migrate(ctx, cfg, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func dev(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) error {
	fs := newFlagSet("dev", stderr)
	replicas := fs.Int("replicas", 1, fmt.Sprintf("replicas to run (1..%d); more than one shares an in-process Redis unless REDIS_URL is set", app.MaxDevReplicas))
	httpAddr := fs.String("http", "127.0.0.1:8080", "first replica's HTTP address (replica i uses the port + i-1)")
	chPort := fs.Int("channel-port", 54001, "port of channel 1 (channel n uses the port + n-1; 0: any free port)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *replicas < 1 || *replicas > app.MaxDevReplicas {
		return fmt.Errorf("%w: -replicas %d out of range 1..%d", errUsage, *replicas, app.MaxDevReplicas)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("%w: -log-level: %w", errUsage, err)
	}
	dbURL, _ := env(config.EnvDatabaseURL)
	redisURL, _ := env(config.EnvRedisURL)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	d, err := app.StartDev(ctx, app.DevOptions{
		Replicas: *replicas, DatabaseURL: dbURL, RedisURL: redisURL,
		HTTPAddr: *httpAddr, ChannelPort: *chPort, Logger: log, LogLevel: *level,
	})
	if err != nil {
		return err
	}
	d.Describe(stdout)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: draining channels...")
	return d.Stop(context.WithoutCancel(ctx))
}

// version reports the module version and VCS revision from the build info.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "guildhall (unknown version)"
	}
	v := "guildhall " + bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " (" + rev + modified + ")"
	}
	return v + " " + bi.GoVersion
}
