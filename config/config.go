// Package config loads and validates a guildhall replica's configuration:
// a JSON file (unknown fields rejected) followed by environment overrides.
//
// Every invalid value is reported at start with the offending field named,
// for example
//
//	config: channels[1].port: 70000 out of range 0..65535
//
// A Config is a plain value: the package keeps no state, so tests may load
// and run several differently configured replicas in one process.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrInvalid is wrapped by every error Load, Parse, ApplyEnv and Validate
// return for a bad value, so callers can tell configuration mistakes from
// I/O failures with errors.Is.
var ErrInvalid = errors.New("config: invalid configuration")

// invalidError reads "config: <detail>" and matches both ErrInvalid and
// the detail's own wrapped errors.
type invalidError struct{ err error }

func (e *invalidError) Error() string   { return "config: " + e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }

func invalid(err error) error { return &invalidError{err} }

// MaxFileSize bounds the configuration file Load reads.
const MaxFileSize = 1 << 20

// Default values, documented in the README.
const (
	DefaultAdvertiseHost    = "127.0.0.1"
	DefaultBindHost         = "0.0.0.0"
	DefaultHTTPAddr         = "127.0.0.1:8080"
	DefaultMaxConns         = 10
	DefaultClusterPrefix    = "guildhall"
	DefaultPresenceTTL      = 30 * time.Second
	DefaultLeaseTTL         = 15 * time.Second
	DefaultLockTTL          = 30 * time.Second
	DefaultIdleTimeout      = 30 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultSendQueue        = 256
	DefaultWriteTimeout     = 10 * time.Second
	DefaultSaveTimeout      = 10 * time.Second
	DefaultKickTimeout      = 10 * time.Second
	DefaultTokenTTL         = 10 * time.Minute
	DefaultDrainTimeout     = 15 * time.Second
	DefaultMaxPlayers       = 100
	DefaultLogLevel         = "info"
	DefaultLogFormat        = "text"
)

// Config is a replica's whole configuration. JSON names are snake_case.
type Config struct {
	Replica  ReplicaConfig   `json:"replica"`
	HTTP     HTTPConfig      `json:"http"`
	Database DatabaseConfig  `json:"database"`
	Redis    RedisConfig     `json:"redis"`
	Session  SessionConfig   `json:"session"`
	Channels []ChannelConfig `json:"channels"`
	Log      LogConfig       `json:"log"`
}

// ReplicaConfig identifies this replica and where its channels listen.
type ReplicaConfig struct {
	// ID names the replica in the cluster; it owns the servers rows and sign
	// sessions it writes. Empty: hostname-pid, filled in by Load.
	ID string `json:"id"`
	// AdvertiseHost is the host clients are told to connect to.
	AdvertiseHost string `json:"advertise_host"`
	// BindHost is the address channel listeners bind to.
	BindHost string `json:"bind_host"`
}

// HTTPConfig is the sign-in, health and metrics HTTP server.
type HTTPConfig struct {
	// Addr is host:port to listen on (port 0: any free port).
	Addr string `json:"addr"`
}

// DatabaseConfig is the PostgreSQL connection.
type DatabaseConfig struct {
	// URL is a PostgreSQL connection URL (postgres://...). Required.
	URL string `json:"url"`
	// MaxConns bounds the connection pool.
	MaxConns int `json:"max_conns"`
}

// RedisConfig is the coordination layer. With URL and Addrs both empty the
// replica uses an in-process registry and runs alone.
type RedisConfig struct {
	URL        string   `json:"url"`         // redis://... (single server)
	Addrs      []string `json:"addrs"`       // host:port list (Sentinel or Cluster)
	MasterName string   `json:"master_name"` // Sentinel master name
	Username   string   `json:"username"`
	Password   string   `json:"password"`
	// Prefix starts every key and pub/sub channel name, so two clusters can
	// share one Redis.
	Prefix      string   `json:"prefix"`
	PresenceTTL Duration `json:"presence_ttl"`
	LeaseTTL    Duration `json:"lease_ttl"`
	LockTTL     Duration `json:"lock_ttl"`
}

// Enabled reports whether a Redis registry is configured.
func (r RedisConfig) Enabled() bool { return r.URL != "" || len(r.Addrs) > 0 }

// SessionConfig governs player sessions and sign-in tokens.
type SessionConfig struct {
	IdleTimeout      Duration `json:"idle_timeout"`
	HandshakeTimeout Duration `json:"handshake_timeout"`
	SendQueue        int      `json:"send_queue"`
	WriteTimeout     Duration `json:"write_timeout"`
	// WriteCoalesce is a session's write coalescing window: a send
	// goroutine woken less than this after its previous write waits until
	// previous write + WriteCoalesce, so frames arriving meanwhile share one
	// write() (fewer system calls, each frame delayed by at most the
	// window). 0 (the default) writes at once. 0..MaxWriteCoalesce.
	// Omitted when 0 in written files, so they still load in older binaries.
	WriteCoalesce Duration `json:"write_coalesce,omitempty"`
	SaveTimeout   Duration `json:"save_timeout"`
	KickTimeout   Duration `json:"kick_timeout"`
	TokenTTL      Duration `json:"token_ttl"`
	// DrainTimeout is how long a stopping replica waits for its players to
	// leave after telling them, before it closes (and saves) the remaining
	// sessions.
	DrainTimeout Duration `json:"drain_timeout"`
}

// ChannelConfig is one channel this replica may run. IDs are explicit and
// never derived from position in the list.
type ChannelConfig struct {
	ID   int    `json:"id"`   // 1..65535, unique
	Name string `json:"name"` // empty: "Channel <id>"
	// Port is the TCP port; 0 means any free port (the advertised address
	// then uses the port actually bound).
	Port       int      `json:"port"`
	MaxPlayers int      `json:"max_players"` // 0: DefaultMaxPlayers
	TownStages []string `json:"town_stages"`
	// Enabled: absent means true. A disabled channel is not started and its
	// ID is not owned by this replica.
	Enabled *bool `json:"enabled,omitempty"`
}

// IsEnabled reports whether the channel should run (absent means true).
func (c ChannelConfig) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// EnabledChannels returns the channels to run, in configuration order.
func (c *Config) EnabledChannels() []ChannelConfig {
	var out []ChannelConfig
	for _, ch := range c.Channels {
		if ch.IsEnabled() {
			out = append(out, ch)
		}
	}
	return out
}

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `json:"level"`  // debug, info, warn, error
	Format string `json:"format"` // text or json
}

// Default returns a configuration with every default filled in, no
// channels, no database URL and no replica ID.
func Default() *Config {
	return &Config{
		Replica: ReplicaConfig{AdvertiseHost: DefaultAdvertiseHost, BindHost: DefaultBindHost},
		HTTP:    HTTPConfig{Addr: DefaultHTTPAddr},
		Database: DatabaseConfig{
			MaxConns: DefaultMaxConns,
		},
		Redis: RedisConfig{
			Prefix:      DefaultClusterPrefix,
			PresenceTTL: Duration(DefaultPresenceTTL),
			LeaseTTL:    Duration(DefaultLeaseTTL),
			LockTTL:     Duration(DefaultLockTTL),
		},
		Session: SessionConfig{
			IdleTimeout:      Duration(DefaultIdleTimeout),
			HandshakeTimeout: Duration(DefaultHandshakeTimeout),
			SendQueue:        DefaultSendQueue,
			WriteTimeout:     Duration(DefaultWriteTimeout),
			SaveTimeout:      Duration(DefaultSaveTimeout),
			KickTimeout:      Duration(DefaultKickTimeout),
			TokenTTL:         Duration(DefaultTokenTTL),
			DrainTimeout:     Duration(DefaultDrainTimeout),
		},
		Log: LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
}

// Parse decodes JSON over Default(): fields absent from data keep their
// defaults; unknown fields, trailing data and wrongly typed values are
// errors. Parse does not validate values; call Validate.
func Parse(data []byte) (*Config, error) {
	cfg := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return nil, invalid(fmt.Errorf("decoding JSON: %w", err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid(errors.New("decoding JSON: trailing data after the configuration object"))
	}
	return cfg, nil
}

// Load reads the JSON file at path (when path is empty, the file named by
// GUILDHALL_CONFIG; when that is unset too, no file: defaults only), applies
// the environment overrides read through env (os.LookupEnv in production),
// fills in the default replica ID (hostname-pid) and validates the result.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	if path == "" {
		if p, ok := env(EnvConfig); ok {
			path = p
		}
	}
	cfg := Default()
	if path != "" {
		data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		if cfg, err = Parse(data); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := cfg.ApplyEnv(env); err != nil {
		return nil, err
	}
	if cfg.Replica.ID == "" {
		cfg.Replica.ID = DefaultReplicaID()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, invalid(fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize))
	}
	return data, nil
}

// DefaultReplicaID returns hostname-pid, reduced to the characters a
// replica ID may hold.
func DefaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "replica"
	}
	b := make([]byte, 0, len(host))
	for i := 0; i < len(host) && len(b) < 40; i++ {
		if isIDChar(host[i]) {
			b = append(b, host[i])
		}
	}
	if len(b) == 0 {
		b = append(b, "replica"...)
	}
	return fmt.Sprintf("%s-%d", b, os.Getpid())
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("30s", "1m30s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
