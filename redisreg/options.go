package redisreg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultPresenceTTL = 15 * time.Second
	DefaultLeaseTTL    = 10 * time.Second
	DefaultLockTTL     = 10 * time.Second
	DefaultOpTimeout   = 500 * time.Millisecond
	// DefaultMaxKickHandlers bounds the kicks from other replicas handled
	// at once (see Options.MaxKickHandlers).
	DefaultMaxKickHandlers = 256
)

// ErrBadOptions is returned (wrapped) by New for invalid options.
var ErrBadOptions = errors.New("redisreg: invalid options")

// Options configure a Registry. Zero values take the documented defaults.
type Options struct {
	// Prefix starts every key and pub/sub channel name, so two clusters can
	// share one Redis. Required; it must not contain '{' or '}' (hash tags
	// are placed by the registry).
	Prefix string
	// ReplicaID names this replica; unique in the cluster. Required.
	ReplicaID string
	// PresenceTTL is the TTL of presence keys (default 15s): a crashed
	// replica's players vanish from FindSession within it, and from searches
	// once its lease expires. The per-channel indexes live longer (see
	// indexTTL) so the sweeper can still read them.
	PresenceTTL time.Duration
	// LeaseTTL is the TTL of the replica lease and channel claims (default
	// 10s). The sweeper cleans up after a replica whose lease expired.
	LeaseTTL time.Duration
	// RefreshInterval is how often everything this replica published is
	// re-written (default min(PresenceTTL, LeaseTTL)/3). Global semaphore
	// locks are refreshed every LockTTL/3.
	RefreshInterval time.Duration
	// SweepInterval is how often the sweeper looks for expired leases
	// (default LeaseTTL/2).
	SweepInterval time.Duration
	// HealthInterval is how often Redis is pinged (default 1s, at most
	// RefreshInterval). After a failed operation, cross-replica operations
	// fail fast until a ping succeeds.
	HealthInterval time.Duration
	// LockTTL is the TTL of a global semaphore lock (default 10s): a
	// crashed holder's semaphores free within it.
	LockTTL time.Duration
	// KickTimeout bounds the wait for a kicked session's logout (default
	// registry.DefaultKickTimeout).
	KickTimeout time.Duration
	// OpTimeout bounds one Redis round trip (default 500ms).
	OpTimeout time.Duration
	// MaxKickHandlers bounds the kicks from other replicas this replica
	// handles at once (default DefaultMaxKickHandlers). Each waits for a
	// logout; a kick arriving while all are busy is answered unconfirmed
	// at once (the kicker gets registry.ErrKickUnconfirmed) and counted in
	// Metrics.KicksShed. The pub/sub receive loop never waits for a slot.
	MaxKickHandlers int
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Metrics receives counters (default: counters registered nowhere).
	Metrics *Metrics
	// OnReplicaDead is called once, by the replica that swept it, after a
	// replica's lease expired and its keys were removed, so the application
	// can reap that replica's durable rows. It may be nil.
	OnReplicaDead func(ctx context.Context, replicaID string)
	// OnSessionsLost is called on every live replica when a dead replica's
	// sessions are removed (so players can be told they left). It may be nil.
	OnSessionsLost func(ctx context.Context, replicaID string, lost []registry.SessionSnapshot)
}

func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" || strings.ContainsAny(o.Prefix, "{}") {
		return o, fmt.Errorf("%w: Prefix %q must be non-empty without braces", ErrBadOptions, o.Prefix)
	}
	if o.ReplicaID == "" || strings.ContainsAny(o.ReplicaID, "{}") || len(o.ReplicaID) > maxStr {
		return o, fmt.Errorf("%w: ReplicaID %q must be non-empty without braces", ErrBadOptions, o.ReplicaID)
	}
	for name, d := range map[string]time.Duration{
		"PresenceTTL": o.PresenceTTL, "LeaseTTL": o.LeaseTTL, "RefreshInterval": o.RefreshInterval,
		"SweepInterval": o.SweepInterval, "HealthInterval": o.HealthInterval, "LockTTL": o.LockTTL,
		"KickTimeout": o.KickTimeout, "OpTimeout": o.OpTimeout,
	} {
		if d < 0 {
			return o, fmt.Errorf("%w: %s is negative", ErrBadOptions, name)
		}
	}
	if o.MaxKickHandlers < 0 {
		return o, fmt.Errorf("%w: MaxKickHandlers is negative", ErrBadOptions)
	}
	if o.MaxKickHandlers == 0 {
		o.MaxKickHandlers = DefaultMaxKickHandlers
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
	if o.OpTimeout == 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.KickTimeout == 0 {
		o.KickTimeout = registry.DefaultKickTimeout
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = min(o.PresenceTTL, o.LeaseTTL) / 3
	}
	if o.RefreshInterval >= min(o.PresenceTTL, o.LeaseTTL) {
		return o, fmt.Errorf("%w: RefreshInterval %v must be below the TTLs", ErrBadOptions, o.RefreshInterval)
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = o.LeaseTTL / 2
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = min(time.Second, o.RefreshInterval)
	}
	if o.LockTTL < 3*time.Millisecond || o.PresenceTTL < time.Millisecond || o.LeaseTTL < time.Millisecond {
		return o, fmt.Errorf("%w: TTLs must be at least a few milliseconds", ErrBadOptions)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = newMetrics()
	}
	return o, nil
}

// Metrics are the registry's Prometheus counters.
type Metrics struct {
	RedisErrors      prometheus.Counter     // failed Redis operations
	Unavailable      prometheus.Counter     // operations refused fast with ErrUnavailable
	Published        *prometheus.CounterVec // pub/sub messages sent, by kind
	Received         *prometheus.CounterVec // pub/sub messages received, by kind
	Sweeps           prometheus.Counter     // dead replicas swept by this replica
	KicksConfirmed   prometheus.Counter     // cross-replica kicks confirmed
	KicksUnconfirmed prometheus.Counter     // cross-replica kicks not confirmed in time
	KicksShed        prometheus.Counter     // kicks from other replicas refused: MaxKickHandlers busy
	SemaphoresLost   prometheus.Counter     // held semaphore locks found lost (expired or taken over)
}

func newMetrics() *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "guildhall", Subsystem: "redisreg", Name: name, Help: help})
	}
	v := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "guildhall", Subsystem: "redisreg", Name: name, Help: help}, []string{"kind"})
	}
	return &Metrics{
		RedisErrors:      c("redis_errors_total", "Failed Redis operations."),
		Unavailable:      c("unavailable_total", "Cross-replica operations refused because Redis is unreachable."),
		Published:        v("published_total", "Pub/sub messages published, by kind."),
		Received:         v("received_total", "Pub/sub messages received, by kind."),
		Sweeps:           c("sweeps_total", "Dead replicas swept by this replica."),
		KicksConfirmed:   c("kicks_confirmed_total", "Cross-replica kicks confirmed by the other replica."),
		KicksUnconfirmed: c("kicks_unconfirmed_total", "Cross-replica kicks not confirmed in time."),
		KicksShed:        c("kicks_shed_total", "Kicks from other replicas answered unconfirmed at once because every kick handler was busy."),
		SemaphoresLost:   c("semaphores_lost_total", "Global semaphore locks this replica held that Redis no longer had (expired or lost with its data)."),
	}
}

// NewMetrics creates the counters and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	for _, c := range []prometheus.Collector{m.RedisErrors, m.Unavailable, m.Published, m.Received, m.Sweeps, m.KicksConfirmed, m.KicksUnconfirmed, m.KicksShed, m.SemaphoresLost} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("redisreg: register metrics: %w", err)
		}
	}
	return m, nil
}

// indexTTL is the TTL of the per-channel session and stage indexes. They
// outlive the presence keys and the lease by a sweep interval, so that the
// sweeper of a crashed replica still reads which characters it had (and
// tells the other players they left) however the TTLs and the sweep tick
// fall. Searches never see a dead replica's index: they read only channels
// whose info key (TTL LeaseTTL) is alive.
func (o Options) indexTTL() time.Duration {
	return o.PresenceTTL + o.LeaseTTL + o.SweepInterval
}
