package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"

	"github.com/alicebob/miniredis/v2"
	"go.uber.org/fx"

	"github.com/guildhall/guildhall/config"
	"github.com/guildhall/guildhall/pgstore"
	"github.com/guildhall/guildhall/pgtemp"
)

// Migrate applies the embedded migrations to the database of cfg
// (database.url) and returns.
func Migrate(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if cfg.Database.URL == "" {
		return errors.New("config: database.url: required (or set DATABASE_URL)")
	}
	if err := pgstore.Migrate(ctx, cfg.Database.URL, log); err != nil {
		return fmt.Errorf("app: migrate: %w", err)
	}
	return nil
}

// MaxDevReplicas bounds DevOptions.Replicas.
const MaxDevReplicas = 9

// DevOptions configure StartDev.
type DevOptions struct {
	// Replicas is how many replicas to run (1..MaxDevReplicas; 0 means 1).
	// Replica i (from 1) runs channels 2i-1 and 2i.
	Replicas int
	// DatabaseURL is an existing database; empty starts a throwaway
	// PostgreSQL from the installed binaries, removed by Stop.
	DatabaseURL string
	// RedisURL is an existing Redis; empty with more than one replica
	// starts an in-process Redis (miniredis). One replica without RedisURL
	// uses the in-process registry.
	RedisURL string
	// HTTPAddr is replica 1's HTTP address; replica i listens on its port
	// + i-1 (port 0: any free port for each).
	HTTPAddr string
	// ChannelPort is the first channel port; channel n listens on
	// ChannelPort + n-1 (0: any free port for each).
	ChannelPort int
	// Logger receives the replicas' logs.
	Logger *slog.Logger
	// LogLevel is the replicas' log level (default "info").
	LogLevel string
}

// Dev is a running development cluster.
type Dev struct {
	apps     []*fx.App
	https    []*HTTPServer
	channels []*Channels
	pg       *pgtemp.Server
	mr       *miniredis.Miniredis
	dbURL    string
	redisURL string
}

// StartDev starts a development cluster on loopback with no setup. When it
// fails, everything it started is stopped.
func StartDev(ctx context.Context, o DevOptions) (d *Dev, err error) {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < 1 || o.Replicas > MaxDevReplicas {
		return nil, fmt.Errorf("app: dev: replicas %d out of range 1..%d", o.Replicas, MaxDevReplicas)
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:8080"
	}
	host, portStr, err := net.SplitHostPort(o.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("app: dev: http address %q: %w", o.HTTPAddr, err)
	}
	httpPort, err := strconv.Atoi(portStr)
	if err != nil || httpPort < 0 || httpPort+o.Replicas-1 > 65535 {
		return nil, fmt.Errorf("app: dev: http address %q: bad port", o.HTTPAddr)
	}
	if o.ChannelPort < 0 || o.ChannelPort+2*o.Replicas > 65535 {
		return nil, fmt.Errorf("app: dev: channel port %d out of range", o.ChannelPort)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	d = &Dev{dbURL: o.DatabaseURL, redisURL: o.RedisURL}
	defer func() {
		if err != nil {
			_ = d.Stop(context.WithoutCancel(ctx))
			d = nil
		}
	}()
	if d.dbURL == "" {
		d.pg, err = pgtemp.Start(ctx, pgtemp.Options{Logger: o.Logger})
		if err != nil {
			return d, fmt.Errorf("app: dev: start throwaway PostgreSQL: %w", err)
		}
		d.dbURL = d.pg.URL()
	}
	if d.redisURL == "" && o.Replicas > 1 {
		d.mr, err = miniredis.Run()
		if err != nil {
			return d, fmt.Errorf("app: dev: start in-process Redis: %w", err)
		}
		d.redisURL = "redis://" + d.mr.Addr()
	}
	for i := 1; i <= o.Replicas; i++ {
		cfg := config.Default()
		cfg.Replica.ID = "dev-" + strconv.Itoa(i)
		cfg.Replica.BindHost = "127.0.0.1"
		cfg.Replica.AdvertiseHost = "127.0.0.1"
		p := 0
		if httpPort != 0 {
			p = httpPort + i - 1
		}
		cfg.HTTP.Addr = net.JoinHostPort(host, strconv.Itoa(p))
		cfg.Database.URL = d.dbURL
		cfg.Redis.URL = d.redisURL
		cfg.Log.Level = o.LogLevel
		for _, id := range []int{2*i - 1, 2 * i} {
			port := 0
			if o.ChannelPort != 0 {
				port = o.ChannelPort + id - 1
			}
			cfg.Channels = append(cfg.Channels, config.ChannelConfig{
				ID: id, Name: "Dev " + strconv.Itoa(id), Port: port, TownStages: []string{"town"},
			})
		}
		var h *HTTPServer
		var ch *Channels
		a := New(cfg, WithLogger(o.Logger.With("replica", cfg.Replica.ID)), fx.Populate(&h, &ch))
		if err = a.Err(); err != nil {
			return d, err
		}
		if err = a.Start(ctx); err != nil {
			return d, fmt.Errorf("app: dev: replica %s: %w", cfg.Replica.ID, err)
		}
		d.apps = append(d.apps, a)
		d.https = append(d.https, h)
		d.channels = append(d.channels, ch)
	}
	return d, nil
}

// HTTPURLs returns each replica's sign-in API base URL.
func (d *Dev) HTTPURLs() []string {
	out := make([]string, len(d.https))
	for i, h := range d.https {
		out[i] = h.URL()
	}
	return out
}

// ChannelAddrs returns every running channel's address by ID.
func (d *Dev) ChannelAddrs() map[uint16]string {
	out := map[uint16]string{}
	for _, c := range d.channels {
		for id, a := range c.Addrs() {
			out[id] = a
		}
	}
	return out
}

// Describe writes how to connect to the cluster.
func (d *Dev) Describe(w io.Writer) {
	urls := d.HTTPURLs()
	fmt.Fprintln(w, "guildhall dev cluster is running.")
	if d.pg != nil {
		fmt.Fprintf(w, "  database:  %s (throwaway, removed on exit)\n", d.dbURL)
	} else {
		fmt.Fprintln(w, "  database:  $DATABASE_URL")
	}
	switch {
	case d.mr != nil:
		fmt.Fprintf(w, "  redis:     %s (in-process, removed on exit)\n", d.redisURL)
	case d.redisURL != "":
		fmt.Fprintf(w, "  redis:     %s\n", d.redisURL)
	}
	for i, u := range urls {
		fmt.Fprintf(w, "  replica dev-%d sign-in API: %s  (health: %s/readyz, metrics: %s/metrics)\n", i+1, u, u, u)
	}
	addrs := d.ChannelAddrs()
	ids := make([]int, 0, len(addrs))
	for id := range addrs {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "  channel %d: %s\n", id, addrs[uint16(id)])
	}
	if len(urls) == 0 {
		return
	}
	fmt.Fprintln(w, "\nTry it:")
	fmt.Fprintf(w, "  go run ./examples/quickstart -http %s\n", urls[0])
	fmt.Fprintf(w, "  go run ./cmd/ghclient -http %s -user alice -pass alice-password -signup Alice\n", urls[0])
	fmt.Fprintf(w, "  curl %s/v1/channels\n", urls[0])
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}

// Stop drains and stops every replica, then removes the throwaway
// PostgreSQL and Redis. It is safe to call on a partly started Dev.
func (d *Dev) Stop(ctx context.Context) error {
	var errs []error
	for i := len(d.apps) - 1; i >= 0; i-- {
		sctx, cancel := context.WithTimeout(ctx, StopTimeout) // dev replicas use the default drain timeout
		errs = append(errs, d.apps[i].Stop(sctx))
		cancel()
	}
	d.apps = nil
	if d.mr != nil {
		d.mr.Close()
		d.mr = nil
	}
	if d.pg != nil {
		errs = append(errs, d.pg.Stop())
		d.pg = nil
	}
	return errors.Join(errs...)
}
